"""Codecs against payloads made the way Temporal users' workers make them.

Ciphertext and compressed payloads come from tests/codec_samples.py (sample-style
``PayloadCodec``s that do not import workbench); the codec server is a real HTTP server on
127.0.0.1 run by the test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from codec_samples import (
    SampleChain,
    SampleEncryptionCodec,
    SampleGzipCodec,
    SampleZlibCodec,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, PayloadCodec

import workbench
from workbench import CodecError, codecs

KEY_2026 = os.urandom(32)
KEY_2025 = os.urandom(32)
CONVERTER = DataConverter.default.payload_converter
VALUES: list[Any] = [
    {"order_id": "o-1", "amount": 12.5, "items": [{"sku": "A", "qty": 2}]},
    "hello",
    None,
    b"\x00raw",
    [1, 2, 3],
    {"nested": {"unicode": "caf\u00e9 \u2603"}},
]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def plain_payloads() -> list[Payload]:
    return CONVERTER.to_payloads(VALUES)


def ring() -> codecs.AesGcm:
    return codecs.AesGcm({"key-2026": KEY_2026, "key-2025": KEY_2025})


def key_texts(*keys: bytes) -> list[str]:
    """Every way a key could leak into text."""
    out = []
    for key in keys:
        out += [key.hex(), base64.b64encode(key).decode(), repr(key), key.decode("latin-1")]
    return out


def assert_no_key(text: str, *keys: bytes) -> None:
    for leaked in key_texts(*keys):
        assert leaked not in text


# -- AES-GCM ----------------------------------------------------------------------------------


def test_decodes_what_the_sample_encryption_codec_wrote() -> None:
    encrypted = run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()))
    results = codecs.Chain(ring()).decode_values(encrypted)
    assert [value for _, value in results] == VALUES
    decoded = [d for d, _ in results]
    assert [d.encodings for d in decoded] == [
        ("binary/encrypted", "json/plain"),
        ("binary/encrypted", "json/plain"),
        ("binary/encrypted", "binary/null"),
        ("binary/encrypted", "binary/plain"),
        ("binary/encrypted", "json/plain"),
        ("binary/encrypted", "json/plain"),
    ]
    assert {d.key_id for d in decoded} == {"key-2026"}
    assert all(d.error is None and d.ok for d in decoded)
    assert [d.payload for d in decoded] == plain_payloads()
    assert decoded[0].encoding == "json/plain"
    assert repr(decoded[2]) == (
        "Decoded(encodings=('binary/encrypted', 'binary/null'), key_id='key-2026', "
        f"error=None, payload=<{plain_payloads()[2].ByteSize()} bytes>)"
    )


def test_sample_codec_decodes_what_we_encrypt() -> None:
    originals = plain_payloads()
    encrypted = codecs.Chain(ring()).encode(originals)
    assert {p.metadata["encoding"] for p in encrypted} == {b"binary/encrypted"}
    # encrypt_key_id defaults to the first key of the ring.
    assert {p.metadata["encryption-key-id"] for p in encrypted} == {b"key-2026"}
    sample = SampleEncryptionCodec({"key-2026": KEY_2026})
    assert run(sample.decode(encrypted)) == originals
    # Fresh nonce per payload: the same payload never encrypts to the same bytes.
    again = codecs.Chain(ring()).encode(originals)
    assert all(a.data != b.data for a, b in zip(encrypted, again, strict=True))


def test_key_ring_rotation_two_key_ids_in_one_batch() -> None:
    old = run(SampleEncryptionCodec({"key-2025": KEY_2025}).encode(plain_payloads()[:3]))
    new = run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()[3:]))
    batch = [old[0], new[0], old[1], new[1], old[2], new[2]]
    results = codecs.Chain(ring()).decode_values(batch)
    assert [d.key_id for d, _ in results] == ["key-2025", "key-2026"] * 3
    assert [v for _, v in results] == [
        VALUES[0], VALUES[3], VALUES[1], VALUES[4], VALUES[2], VALUES[5]
    ]  # fmt: skip

    rotated = codecs.AesGcm(
        {"key-2026": KEY_2026, "key-2025": KEY_2025}, encrypt_key_id="key-2025"
    ).encode(plain_payloads())
    assert {p.metadata["encryption-key-id"] for p in rotated} == {b"key-2025"}
    assert run(SampleEncryptionCodec({"key-2025": KEY_2025}).decode(rotated)) == plain_payloads()


def test_zlib_inside_encryption_as_the_go_sample_nests_them() -> None:
    # The SDK applies a codec list in order when encoding: compress, then encrypt.
    sample = SampleChain(SampleZlibCodec(), SampleEncryptionCodec({"key-2026": KEY_2026}))
    encoded = run(sample.encode(plain_payloads()))
    chain = codecs.Chain(ring(), codecs.Zlib())
    results = chain.decode_values(encoded)
    assert [v for _, v in results] == VALUES
    assert results[0][0].encodings == ("binary/encrypted", "binary/zlib", "json/plain")
    assert results[2][0].encodings == ("binary/encrypted", "binary/zlib", "binary/null")
    assert results[0][0].key_id == "key-2026"

    # Our encode nests the same way: encrypt(zlib(payload)).
    ours = chain.encode(plain_payloads())
    inner = run(SampleEncryptionCodec({"key-2026": KEY_2026}).decode(ours))
    assert {p.metadata["encoding"] for p in inner} == {b"binary/zlib"}
    assert run(sample.decode(ours)) == plain_payloads()
    # Codec order in the chain does not matter for decoding: each layer is claimed by encoding.
    assert [v for _, v in codecs.Chain(codecs.Zlib(), ring()).decode_values(encoded)] == VALUES


def test_gzip_both_ways() -> None:
    encoded = run(SampleGzipCodec().encode(plain_payloads()))
    results = codecs.Chain(codecs.Gzip()).decode_values(encoded)
    assert [v for _, v in results] == VALUES
    assert results[0][0].encodings == ("binary/gzip", "json/plain")
    ours = codecs.Gzip().encode(plain_payloads())
    assert run(SampleGzipCodec().decode(ours)) == plain_payloads()


def test_zlib_both_ways() -> None:
    encoded = run(SampleZlibCodec().encode(plain_payloads()))
    assert [v for _, v in codecs.chain(codecs.Zlib()).decode_values(encoded)] == VALUES
    assert run(SampleZlibCodec().decode(codecs.Zlib().encode(plain_payloads()))) == (
        plain_payloads()
    )


def test_snappy_raw_block_format_of_the_go_sample() -> None:
    # Imported here: cramjam is an optional extra, the other tests must run without it.
    import cramjam

    # github.com/golang/snappy's snappy.Encode writes the raw block format (no framing).
    encoded = [
        Payload(
            metadata={"encoding": b"binary/snappy"},
            data=bytes(cramjam.snappy.compress_raw(p.SerializeToString())),
        )
        for p in plain_payloads()
    ]
    results = codecs.Chain(codecs.Snappy()).decode_values(encoded)
    assert [v for _, v in results] == VALUES
    assert results[0][0].encodings == ("binary/snappy", "json/plain")
    ours = codecs.Snappy().encode(plain_payloads())
    assert [Payload.FromString(bytes(cramjam.snappy.decompress_raw(p.data))) for p in ours] == (
        plain_payloads()
    )
    broken = Payload(metadata={"encoding": b"binary/snappy"}, data=b"\xff\xff\xff\xffjunk")
    (decoded,) = codecs.Chain(codecs.Snappy()).decode([broken])
    assert decoded.error is not None and "undecompressable binary/snappy" in decoded.error


def test_snappy_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cramjam", None)  # what a missing package looks like
    with pytest.raises(CodecError, match=r"pip install 'temporal-workbench\[snappy\]'"):
        codecs.Snappy()


# -- errors, one payload at a time ------------------------------------------------------------


def encrypt_raw(key: bytes, key_id: str, plaintext: bytes) -> Payload:
    nonce = os.urandom(12)
    return Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": key_id.encode()},
        data=nonce + AESGCM(key).encrypt(nonce, plaintext, None),
    )


def test_each_error_is_reported_on_its_payload_in_words() -> None:
    good = run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()[:1]))[0]
    inner = plain_payloads()[0].SerializeToString()
    tampered = Payload()
    tampered.CopyFrom(good)
    tampered.data = good.data[:-1] + bytes([good.data[-1] ^ 1])
    batch = [
        encrypt_raw(os.urandom(32), "key-2024", inner),  # unknown key id
        encrypt_raw(os.urandom(32), "key-2026", inner),  # wrong key under a known id
        tampered,
        Payload(
            metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"key-2026"},
            data=os.urandom(20),
        ),  # truncated
        encrypt_raw(KEY_2026, "key-2026", b"\xff\xff\xff\xff"),  # not a Payload inside
        Payload(metadata={"encoding": b"binary/zlib"}, data=b"definitely not zlib"),
        Payload(metadata={"encoding": b"binary/custom-thing"}, data=b"opaque"),
        Payload(metadata={"encoding": b"binary/encrypted"}, data=good.data),  # no key id
        good,
    ]
    before = [p.SerializeToString(deterministic=True) for p in batch]
    results = codecs.Chain(ring(), codecs.Zlib()).decode_values(batch)
    errors = [d.error or "" for d, _ in results]
    # Decoding never alters the caller's payloads (protobuf maps grow on a missing [key]).
    assert [p.SerializeToString(deterministic=True) for p in batch] == before

    assert "unknown encryption key id 'key-2024'" in errors[0]
    assert "'key-2026', 'key-2025'" in errors[0]
    assert results[0][0].key_id == "key-2024"
    assert "authentication tag mismatch" in errors[1] and "'key-2026'" in errors[1]
    assert "wrong key" in errors[1] and "tampered" in errors[1]
    assert "authentication tag mismatch" in errors[2]
    assert "truncated data" in errors[3] and "20 bytes" in errors[3]
    assert "corrupt inner protobuf" in errors[4]
    assert "undecompressable binary/zlib" in errors[5]
    assert "unknown encoding 'binary/custom-thing'" in errors[6]
    assert "left encoded; raw bytes available" in errors[6]
    assert "no encryption-key-id" in errors[7]
    assert errors[8] == "" and results[8][1] == VALUES[0]

    # Failed payloads keep their raw bytes and the encodings met.
    assert results[6][0].payload.data == b"opaque"
    assert results[6][0].encodings == ("binary/custom-thing",)
    assert results[0][0].payload is batch[0]
    assert all(value is None for _, value in results[:8])
    for text in errors:
        assert_no_key(text, KEY_2026, KEY_2025)


def test_default_chain_leaves_encrypted_payloads_encoded_and_says_how_to_fix() -> None:
    encrypted = run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()))
    results = codecs.DEFAULT.decode_values(encrypted)
    for decoded, value in results:
        assert value is None
        assert decoded.key_id == "key-2026"
        assert decoded.encodings == ("binary/encrypted",)
        assert decoded.error is not None
        assert "unknown encoding 'binary/encrypted'" in decoded.error
        assert "left encoded; raw bytes available" in decoded.error
        assert "codecs.AesGcm" in decoded.error
    # Unencoded payloads need no codec.
    assert [v for _, v in codecs.DEFAULT.decode_values(plain_payloads())] == VALUES


def test_a_conversion_failure_lands_in_the_error_not_an_exception() -> None:
    broken_json = Payload(metadata={"encoding": b"json/plain"}, data=b"{not json")
    encrypted = codecs.Chain(ring()).encode([broken_json, *plain_payloads()[:1]])
    (bad, bad_value), (good, good_value) = codecs.Chain(ring()).decode_values(encrypted)
    assert bad_value is None and bad.error is not None and "not valid JSON" in bad.error
    assert bad.encodings == ("binary/encrypted", "json/plain")
    assert good.error is None and good_value == VALUES[0]


DEEP = Payload(metadata={"encoding": b"json/plain"}, data=b"[" * 100_000 + b"]" * 100_000)
"""Valid JSON nested deeper than Python's recursion limit."""


def test_deeply_nested_json_is_a_per_payload_error() -> None:
    chain = codecs.Chain(ring(), codecs.Zlib())
    # Plain, encrypted (the single-pass path) and compressed inside encryption (general path).
    batch = [
        DEEP,
        *plain_payloads()[:1],
        *ring().encode([DEEP]),
        *chain.encode([DEEP]),
    ]
    for results in (codecs.DEFAULT.decode_values(batch[:2]), chain.decode_values(batch)):
        assert results[1] == (results[1][0], VALUES[0]) and results[1][0].error is None
        for decoded, value in [r for k, r in enumerate(results) if k != 1]:
            assert value is None
            assert "json/plain payload is nested too deeply" in (decoded.error or "")
            assert "RecursionError" in (decoded.error or "")
            assert decoded.payload == DEEP  # raw bytes kept
    assert [d.encodings for d, _ in chain.decode_values(batch)][2:] == [
        ("binary/encrypted", "json/plain"),
        ("binary/encrypted", "binary/zlib", "json/plain"),
    ]


def test_undecompressable_data_of_each_compression() -> None:
    batch = [
        Payload(metadata={"encoding": b"binary/gzip"}, data=b"\x1f\x8b not really"),
        Payload(metadata={"encoding": b"binary/zlib"}, data=zlib.compress(b"x" * 100)[:10]),
        Payload(metadata={"encoding": b"binary/zlib"}, data=zlib.compress(b"\xff\xff\xff")),
    ]
    decoded = codecs.Chain(codecs.Gzip(), codecs.Zlib()).decode(batch)
    assert "undecompressable binary/gzip" in (decoded[0].error or "")
    assert "undecompressable binary/zlib" in (decoded[1].error or "")
    assert "corrupt inner protobuf" in (decoded[2].error or "")


def test_decompression_is_capped() -> None:
    big = Payload(metadata={"encoding": b"json/plain"}, data=b"[" + b"0," * 100_000 + b"0]")
    encoded = codecs.Zlib().encode([big])
    (decoded,) = codecs.Chain(codecs.Zlib(max_size=1000)).decode(encoded)
    assert decoded.error is not None and "more than 1000 bytes" in decoded.error
    (decoded,) = codecs.Chain(codecs.Zlib()).decode(encoded)
    assert decoded.error is None and decoded.payload == big


# -- keys --------------------------------------------------------------------------------------


def test_key_forms(tmp_path: Path) -> None:
    raw_file = tmp_path / "raw.key"
    raw_file.write_bytes(KEY_2026)
    b64_file = tmp_path / "b64.key"
    b64_file.write_text(base64.b64encode(KEY_2026).decode() + "\n")
    hex_file = tmp_path / "hex.key"
    hex_file.write_text(KEY_2026.hex())
    forms: list[Any] = [
        KEY_2026,
        bytearray(KEY_2026),
        KEY_2026.hex(),
        KEY_2026.hex().upper(),
        base64.b64encode(KEY_2026).decode(),
        base64.urlsafe_b64encode(KEY_2026).decode().rstrip("="),
        raw_file,
        b64_file,
        hex_file,
        str(b64_file),
    ]
    encrypted = run(SampleEncryptionCodec({"k": KEY_2026}).encode(plain_payloads()[:1]))
    for form in forms:
        (decoded, value) = codecs.Chain(codecs.AesGcm({"k": form})).decode_values(encrypted)[0]
        assert decoded.error is None, form
        assert value == VALUES[0]


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (os.urandom(16), "is 16 bytes"),
        ("c2hvcnQ=", "neither 64 hex characters"),
        ("test-key-test-key-test-key-test!", "pass them as bytes"),
        (12345, "has type int"),
        (Path("/nonexistent/dir/key.bin"), "cannot read the key file"),
    ],
)
def test_bad_key_names_the_key_id_never_the_key(key: Any, words: str) -> None:
    with pytest.raises(CodecError) as info:
        codecs.AesGcm({"good": KEY_2026, "payments-2026": key})
    message = str(info.value)
    assert "'payments-2026'" in message and words in message
    if isinstance(key, (bytes, str)) and not isinstance(key, Path):
        assert str(key) not in message and repr(key) not in message
    assert_no_key(message, KEY_2026)


def test_bad_key_file_content(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    secret = os.urandom(20)
    path.write_bytes(secret)
    with pytest.raises(CodecError, match="key file of encryption key 'k'") as info:
        codecs.AesGcm({"k": path})
    assert_no_key(str(info.value), secret)


def test_ring_settings_errors() -> None:
    with pytest.raises(CodecError, match="at least one key"):
        codecs.AesGcm({})
    with pytest.raises(CodecError, match="mapping of key id"):
        codecs.AesGcm(KEY_2026)  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="'key-2030' is not in the key ring"):
        codecs.AesGcm({"key-2026": KEY_2026}, encrypt_key_id="key-2030")


def test_repr_and_attributes_never_show_keys() -> None:
    codec = codecs.AesGcm({"key-2026": KEY_2026.hex(), "key-2025": KEY_2025})
    chain = codecs.Chain(codec, codecs.Zlib())
    assert repr(codec) == "AesGcm(key_ids=['key-2026', 'key-2025'], encrypt_key_id='key-2026')"
    assert repr(chain).startswith("Chain(AesGcm(")
    text = repr(chain) + str(vars(codec))
    assert_no_key(text, KEY_2026, KEY_2025)


# -- chain mechanics ---------------------------------------------------------------------------


class _Looping(PayloadCodec):
    """Decodes every payload into another layer of itself, forever."""

    async def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        return [
            Payload(metadata={"encoding": b"binary/loop"}, data=p.data + b".") for p in payloads
        ]


def test_depth_is_bounded() -> None:
    start = Payload(metadata={"encoding": b"binary/loop"}, data=b"x")
    (decoded,) = codecs.Chain(codecs.UserCodec(_Looping())).decode([start])
    assert decoded.error is not None and "more than 8 codec layers" in decoded.error
    assert len(decoded.encodings) == 9
    assert decoded.payload.data == b"x" + b"." * 8


def test_chain_building() -> None:
    aes, zl = ring(), codecs.Zlib()
    assert codecs.Chain(codecs.Chain(aes), zl).codecs == (aes, zl)
    assert codecs.chain(aes, zl) == codecs.Chain(aes, zl)
    assert codecs.DEFAULT.is_default and not codecs.Chain(aes).is_default
    assert codecs.DEFAULT.decode([]) == [] and codecs.DEFAULT.decode_values([]) == []
    with pytest.raises(CodecError, match="UserCodec"):
        codecs.Chain(SampleGzipCodec())  # type: ignore[arg-type]
    claims = codecs.Chain(aes)
    assert claims.claims(aes.encode(plain_payloads()[:1])[0])
    assert not claims.claims(plain_payloads()[0])


def test_codec_claims() -> None:
    enc = Payload(metadata={"encoding": b"binary/encrypted"})
    zl = Payload(metadata={"encoding": b"binary/zlib"})
    plain = plain_payloads()
    assert ring().claims(enc) and not ring().claims(zl)
    assert codecs.Zlib().claims(zl) and not codecs.Zlib().claims(enc)
    remote = codecs.Remote("http://127.0.0.1:1")
    user = codecs.UserCodec(SampleGzipCodec())
    for catch_all in (remote, user):
        assert catch_all.claims(enc) and catch_all.claims(zl)
        assert not any(catch_all.claims(p) for p in plain)


def test_fast_and_general_paths_agree() -> None:
    """decode_values takes a single pass for json/plain and AES-GCM around it; every other
    shape goes the general way. A mixed batch must give what each payload gives alone."""
    chain = codecs.Chain(ring(), codecs.Gzip())
    sample = SampleEncryptionCodec({"key-2026": KEY_2026})
    gz = SampleGzipCodec()
    odd = [
        Payload(metadata={"encoding": b"json/plain"}, data=b' {"padded": true} '),
        Payload(metadata={"encoding": b"json/plain"}, data=b"\xef\xbb\xbf[1]"),
        Payload(metadata={"encoding": b"json/plain"}, data='"\u00e9"'.encode("utf-16")),
        Payload(metadata={"encoding": b"json/plain"}, data=b"[1] [2]"),
        Payload(metadata={"encoding": b"json/plain"}, data=b"NaN"),
    ]
    batch = [
        *plain_payloads(),
        *run(sample.encode(plain_payloads())),
        *run(sample.encode(run(gz.encode(plain_payloads())))),
        *odd,
        *run(sample.encode(odd)),
        encrypt_raw(os.urandom(32), "key-2024", b""),
    ]
    together = chain.decode_values(batch)
    alone = [chain.decode_values([p])[0] for p in batch]
    generic = [_general(chain, p) for p in batch]
    for (d1, v1), (d2, v2), (d3, v3) in zip(together, alone, generic, strict=True):
        assert (d1, repr(v1)) == (d2, repr(v2)) == (d3, repr(v3))
    assert [v for _, v in together[:6]] == VALUES
    assert together[-1][0].error is not None


@pytest.mark.parametrize("max_depth", [0, 1, 2, 3])
def test_fast_and_general_paths_agree_at_max_depth(max_depth: int) -> None:
    chain = codecs.Chain(ring(), codecs.Zlib(), max_depth=max_depth)
    nested = SampleChain(SampleZlibCodec(), SampleEncryptionCodec({"key-2026": KEY_2026}))
    batch = [
        *run(nested.encode(plain_payloads()[:2])),  # two layers
        *run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()[:2])),  # one
        *plain_payloads()[:1],  # none
    ]
    fused = chain.decode_values(batch)
    generic = [_general(chain, p) for p in batch]
    for (d1, v1), (d2, v2) in zip(fused, generic, strict=True):
        assert (d1, repr(v1)) == (d2, repr(v2))
    layers = [2, 2, 1, 1, 0]
    expected = [VALUES[0], VALUES[1], VALUES[0], VALUES[1], VALUES[0]]
    for (decoded, value), count, want in zip(fused, layers, expected, strict=True):
        if count > max_depth:
            assert value is None
            assert f"more than {max_depth} codec layers" in (decoded.error or "")
        else:
            assert decoded.error is None and value == want


def _general(chain: codecs.Chain, payload: Payload) -> tuple[codecs.Decoded, Any]:
    """The general path alone: decode, then convert."""
    from workbench.values import payload_value

    (decoded,) = chain.decode([payload])
    if decoded.error is not None:
        return decoded, None
    value, error = payload_value(decoded.payload)
    decoded.error = error
    return decoded, value


class _ReturnsNone(PayloadCodec):
    async def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Any]:
        return [None for _ in payloads]


class _ReturnsBytes(codecs.Codec):
    name = "bytes-codec"

    def claims_encoding(self, encoding: bytes | None) -> bool:
        return encoding == b"binary/odd"

    def decode(self, payloads: Any) -> list[Any]:
        return [p.data for p in payloads]

    def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)


class _ReturnsNothing(_ReturnsBytes):
    name = "nothing-codec"

    def decode(self, payloads: Any) -> Any:
        return None


@pytest.mark.parametrize(
    ("codec", "words"),
    [
        (
            codecs.UserCodec(_ReturnsNone()),
            "_ReturnsNone.decode returned None instead of a Payload",
        ),
        (_ReturnsBytes(), "bytes-codec.decode returned a bytes instead of a Payload"),
        (_ReturnsNothing(), "nothing-codec.decode returned None instead of a list of payloads"),
    ],
)
def test_a_codec_returning_something_else_than_payloads_fails_per_payload(
    codec: codecs.Codec, words: str
) -> None:
    odd = Payload(metadata={"encoding": b"binary/odd"}, data=b"x")
    chain = codecs.Chain(ring(), codec)
    batch = [odd, *ring().encode(plain_payloads()[:1])]
    for results in (chain.decode_values(batch), [(d, None) for d in chain.decode(batch)]):
        (bad, bad_value), (good, _) = results
        assert bad_value is None and words in (bad.error or "")
        assert bad.payload is odd and bad.encodings == ("binary/odd",)
        assert good.error is None
    assert chain.decode_values(batch)[1][1] == VALUES[0]


# -- UserCodec ---------------------------------------------------------------------------------


@dataclass
class RecordingCodec(PayloadCodec):
    """A real async codec (the sample encryption one) that records where it ran."""

    inner: SampleEncryptionCodec
    loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    async def encode(self, payloads: Any) -> list[Payload]:
        return await self.inner.encode(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        self.loops.append(asyncio.get_running_loop())
        self.threads.append(threading.current_thread().name)
        await asyncio.sleep(0)  # a real suspension point
        return await self.inner.decode(payloads)


def test_user_codec_from_inside_a_running_event_loop() -> None:
    """Jupyter runs cells inside an event loop: the synchronous API must work there without
    touching that loop."""
    recording = RecordingCodec(SampleEncryptionCodec({"key-2026": KEY_2026}))
    encrypted = run(recording.inner.encode(plain_payloads()))
    chain = codecs.Chain(codecs.UserCodec(recording))
    policy = asyncio.get_event_loop_policy()

    async def cell() -> list[tuple[codecs.Decoded, Any]]:
        mine = asyncio.get_running_loop()
        results = chain.decode_values(encrypted)  # synchronous call from a coroutine
        assert asyncio.get_running_loop() is mine
        assert all(loop is not mine for loop in recording.loops)
        return results

    results = run(cell())
    assert [v for _, v in results] == VALUES
    assert results[0][0].encodings == ("binary/encrypted", "json/plain")
    assert results[0][0].key_id == "key-2026"
    assert recording.threads and set(recording.threads) == {"workbench-codec-loop"}
    assert asyncio.get_event_loop_policy() is policy
    assert not hasattr(asyncio, "_nest_patched")
    # The private loop is shared and long-lived: a second call reuses it.
    chain.decode(encrypted)
    assert len(set(map(id, recording.loops))) == 1


def test_user_codec_failures_are_per_payload() -> None:
    sample = SampleEncryptionCodec({"key-2026": KEY_2026})
    good = run(sample.encode(plain_payloads()[:2]))
    foreign = run(SampleEncryptionCodec({"other": KEY_2025}).encode(plain_payloads()[:1]))
    zlibbed = run(SampleZlibCodec().encode(plain_payloads()[:1]))
    results = codecs.Chain(codecs.UserCodec(sample)).decode_values(
        [good[0], foreign[0], zlibbed[0], good[1]]
    )
    assert [v for _, v in results] == [VALUES[0], None, None, VALUES[1]]
    assert "SampleEncryptionCodec.decode failed: ValueError: Unrecognized key ID other" in (
        results[1][0].error or ""
    )
    # The sample passes unknown encodings through unchanged: reported, not looped on.
    assert "unknown encoding 'binary/zlib'" in (results[2][0].error or "")
    assert "returned it unchanged" in (results[2][0].error or "")


def test_user_codec_encode_and_checks() -> None:
    user = codecs.UserCodec(SampleGzipCodec())
    encoded = codecs.Chain(user).encode(plain_payloads())
    assert {p.metadata["encoding"] for p in encoded} == {b"binary/gzip"}
    assert [v for _, v in codecs.Chain(user).decode_values(encoded)] == VALUES
    assert repr(user) == "UserCodec(SampleGzipCodec)"
    with pytest.raises(CodecError, match="PayloadCodec"):
        codecs.UserCodec(object())


class _Slow(PayloadCodec):
    async def encode(self, payloads: Any) -> list[Payload]:
        await asyncio.sleep(5)
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        await asyncio.sleep(5)
        return list(payloads)


def test_user_codec_timeout_is_a_per_payload_error() -> None:
    payload = Payload(metadata={"encoding": b"binary/slow"}, data=b"x")
    (decoded,) = codecs.Chain(codecs.UserCodec(_Slow(), timeout=0.2)).decode([payload])
    assert decoded.error is not None and "did not finish within 0.2 s" in decoded.error


class _KeyServiceTimesOut(PayloadCodec):
    """A codec whose own key-service call times out for one payload."""

    async def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.data == b"locked":
                raise TimeoutError("key service call timed out")
            out.append(Payload(metadata={"encoding": b"json/plain"}, data=payload.data))
        return out


def test_a_timeout_error_raised_by_the_codec_is_its_own_failure() -> None:
    batch = [
        Payload(metadata={"encoding": b"binary/kms"}, data=b'"open"'),
        Payload(metadata={"encoding": b"binary/kms"}, data=b"locked"),
    ]
    results = codecs.Chain(codecs.UserCodec(_KeyServiceTimesOut(), timeout=30)).decode_values(batch)
    # The batch failed, so each payload was retried alone: only the locked one fails.
    assert results[0][1] == "open" and results[0][0].error is None
    error = results[1][0].error or ""
    assert "_KeyServiceTimesOut.decode failed: TimeoutError: key service call timed out" in error
    assert "did not finish within" not in error


# -- Remote: a codec server run by the test ---------------------------------------------------

AUTH = "Bearer codec-secret-token-42"
EXTRA = {"X-Tenant": "acme", "X-Api-Key": "extra-secret-value-99"}


@dataclass
class CodecServer:
    """A codec server on 127.0.0.1 decoding with the sample codec; records every request."""

    url: str
    requests: list[dict[str, Any]]
    mode: dict[str, str]
    server: ThreadingHTTPServer


def _handler(
    codec: PayloadCodec, requests: list[dict[str, Any]], mode: dict[str, str]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # what a followed redirect would turn the POST into
            requests.append({"path": self.path, "headers": dict(self.headers), "count": 0})
            self._send(405, b"method not allowed")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            payloads = json_format.Parse(body, Payloads()).payloads
            requests.append(
                {"path": self.path, "headers": dict(self.headers), "count": len(payloads)}
            )
            if mode["answer"] == "500":
                echoed = ", ".join(
                    f"{name}: {self.headers[name]}"
                    for name in ("Authorization", "X-Api-Key", "X-Tenant")
                )
                text = f"codec exploded; request had {echoed}"
                self._send(500, (text + " " + "x" * 500).encode())
                return
            if mode["answer"] == "redirect":
                self.send_response(int(mode["status"]))
                self.send_header("Location", mode["location"])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode["answer"] == "deep":  # valid JSON, nested past Python's recursion limit
                self._send(200, b'{"payloads": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
                return
            if mode["answer"] == "echo":  # a server that passes back what it cannot decode
                self._send(200, json_format.MessageToJson(Payloads(payloads=payloads)).encode())
                return
            operation = self.path.rsplit("/", 1)[1]
            method = codec.decode if operation == "decode" else codec.encode
            out = asyncio.run(method(list(payloads)))
            if mode["answer"] == "short":
                out = out[:-1]
            answer = json_format.MessageToJson(Payloads(payloads=out))
            self._send(200, answer.encode())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def codec_server() -> Iterator[CodecServer]:
    requests: list[dict[str, Any]] = []
    mode = {"answer": "ok"}
    codec = SampleChain(SampleZlibCodec(), SampleEncryptionCodec({"key-2026": KEY_2026}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(codec, requests, mode))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CodecServer(f"http://127.0.0.1:{server.server_port}", requests, mode, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def encoded_like_the_server() -> list[Payload]:
    codec = SampleChain(SampleZlibCodec(), SampleEncryptionCodec({"key-2026": KEY_2026}))
    return run(codec.encode(plain_payloads()))


def test_remote_decodes_with_headers_namespace_and_batches(codec_server: CodecServer) -> None:
    remote = codecs.Remote(
        codec_server.url + "/{namespace}/", auth=AUTH, headers=EXTRA, batch_size=4
    )
    chain = codecs.Chain(remote).with_namespace("orders")
    results = chain.decode_values(encoded_like_the_server())
    assert [v for _, v in results] == VALUES
    # The server peels both layers in one go: the chain sees the outer and the final encoding.
    assert results[0][0].encodings == ("binary/encrypted", "json/plain")
    assert results[0][0].key_id == "key-2026"
    assert [r["count"] for r in codec_server.requests] == [4, 2]
    for request in codec_server.requests:
        assert request["path"] == "/orders/decode"
        headers = request["headers"]
        assert headers["Authorization"] == AUTH
        assert headers["X-Namespace"] == "orders"
        assert headers["X-Tenant"] == "acme" and headers["X-Api-Key"] == EXTRA["X-Api-Key"]
        assert headers["Content-Type"] == "application/json"


def test_session_uses_the_codec_server_of_its_profile(
    codec_server: CodecServer, dev_address: str, tmp_path: Path
) -> None:
    """TEMPORAL_CODEC_ENDPOINT / [profile.X.codec] make the session decode as the CLI would."""
    env = {
        "TEMPORAL_ADDRESS": dev_address,
        "TEMPORAL_NAMESPACE": "orders",
        "TEMPORAL_CODEC_ENDPOINT": codec_server.url + "/{namespace}",
        "TEMPORAL_CODEC_AUTH": AUTH,
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    with workbench.connect(env=env) as s:
        results = s.codec.decode_values(encoded_like_the_server())
        assert AUTH not in repr(s.settings) and AUTH not in repr(s.codec)
    assert [v for _, v in results] == VALUES
    request = codec_server.requests[-1]
    assert request["path"] == "/orders/decode"
    assert request["headers"]["Authorization"] == AUTH
    assert request["headers"]["X-Namespace"] == "orders"


def test_remote_namespace_given_at_construction_wins(codec_server: CodecServer) -> None:
    remote = codecs.Remote(codec_server.url + "/{namespace}", namespace="billing")
    codecs.Chain(remote).with_namespace("orders").decode(encoded_like_the_server()[:1])
    assert codec_server.requests[0]["path"] == "/billing/decode"
    assert codec_server.requests[0]["headers"]["X-Namespace"] == "billing"
    assert "Authorization" not in codec_server.requests[0]["headers"]


def test_remote_encode(codec_server: CodecServer) -> None:
    remote = codecs.Remote(codec_server.url, namespace="default")
    encoded = codecs.Chain(remote).encode(plain_payloads())
    assert codec_server.requests[-1]["path"] == "/encode"
    assert {p.metadata["encoding"] for p in encoded} == {b"binary/encrypted"}
    back = run(
        SampleChain(SampleZlibCodec(), SampleEncryptionCodec({"key-2026": KEY_2026})).decode(
            encoded
        )
    )
    assert back == plain_payloads()


def test_remote_server_error_is_per_payload_with_status_and_excerpt(
    codec_server: CodecServer,
) -> None:
    codec_server.mode["answer"] = "500"
    remote = codecs.Remote(codec_server.url, auth=AUTH, headers=EXTRA, namespace="default")
    results = codecs.Chain(remote).decode_values(encoded_like_the_server())
    for decoded, value in results:
        assert value is None
        error = decoded.error or ""
        assert "remote codec error: HTTP 500" in error
        assert "codec exploded" in error
        excerpt = error.split(": ", 2)[-1]
        assert len(excerpt) <= 200
        # The server echoed the Authorization header; it must not reach the user.
        assert "codec-secret-token-42" not in error and AUTH not in error
        assert "extra-secret-value-99" not in error
        # An ordinary header's value is no secret: the echo stays readable.
        assert "X-Tenant: acme" in error
        assert decoded.payload.metadata["encoding"] == b"binary/encrypted"  # raw bytes kept


def test_remote_wrong_count_fails_the_whole_batch(codec_server: CodecServer) -> None:
    codec_server.mode["answer"] = "short"
    remote = codecs.Remote(codec_server.url, namespace="default", batch_size=100)
    results = codecs.Chain(remote).decode(encoded_like_the_server())
    assert all("different payload count" in (d.error or "") for d in results)
    assert all("returned 5 payloads for the 6 sent" in (d.error or "") for d in results)


def closed_port() -> int:
    """A port nothing listens on (the socket is closed on return)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_remote_answer_nested_too_deeply_fails_the_batch_not_the_call(
    codec_server: CodecServer,
) -> None:
    codec_server.mode["answer"] = "deep"
    remote = codecs.Remote(codec_server.url, namespace="default")
    results = codecs.Chain(remote).decode(encoded_like_the_server()[:2])
    for decoded in results:
        assert "answered with something that is not Payloads JSON" in (decoded.error or "")
        assert decoded.payload.metadata["encoding"] == b"binary/encrypted"


def test_remote_unreachable_is_per_payload_not_a_crash() -> None:
    port = closed_port()
    remote = codecs.Remote(f"http://127.0.0.1:{port}", auth=AUTH, headers=EXTRA, timeout=5)
    results = codecs.Chain(remote).decode(encoded_like_the_server())
    for decoded in results:
        error = decoded.error or ""
        assert error.startswith(f"remote codec unreachable at http://127.0.0.1:{port}/decode")
        assert "Connection refused" in error  # the closed port, not a failed name look-up
        assert "codec-secret-token-42" not in error
    assert "codec-secret-token-42" not in repr(remote)
    assert "extra-secret-value-99" not in repr(remote)
    with pytest.raises(CodecError, match="unreachable"):
        remote.encode(plain_payloads())


def test_remote_redacts_credentials_not_ordinary_header_values() -> None:
    port = closed_port()
    remote = codecs.Remote(
        f"http://127.0.0.1:{port}/remote",
        headers={"X-Tenant": "remote", "X-Auth-Token": "remote-token-123"},
        namespace="orders",
        timeout=5,
    )
    (decoded,) = codecs.Chain(remote).decode(encoded_like_the_server()[:1])
    assert (decoded.error or "").startswith(
        f"remote codec unreachable at http://127.0.0.1:{port}/remote/decode"
    )
    assert "<redacted>" not in (decoded.error or "")


def test_remote_rejects_credentials_in_the_endpoint() -> None:
    # urllib would take "user:pw@127.0.0.1" for a host name: such an endpoint never works.
    with pytest.raises(CodecError, match="pass credentials as auth=") as info:
        codecs.Remote("http://user:pw-secret-77@127.0.0.1:8080/{namespace}", auth=AUTH)
    message = str(info.value)
    assert "pw-secret-77" not in message
    assert "use 'http://127.0.0.1:8080/{namespace}'" in message
    with pytest.raises(CodecError, match="pass credentials as auth="):
        codecs.Remote("https://token@codec.example.com")


@pytest.mark.parametrize("status", ["301", "302", "303", "307", "308"])
def test_remote_does_not_follow_redirects(codec_server: CodecServer, status: str) -> None:
    port = codec_server.server.server_port
    # Another host name for the same server, with credentials a careless proxy might add.
    codec_server.mode.update(
        answer="redirect",
        status=status,
        location=f"http://u:pw-in-location@localhost:{port}/moved/decode",
    )
    remote = codecs.Remote(codec_server.url, auth=AUTH, namespace="default")
    results = codecs.Chain(remote).decode(encoded_like_the_server())
    # One POST, not followed (urllib would turn it into a GET carrying Authorization to the
    # other host).
    assert [r["path"] for r in codec_server.requests] == ["/decode"]
    for decoded in results:
        error = decoded.error or ""
        assert error.startswith(
            f"codec server at {codec_server.url}/decode redirected to "
            f"http://localhost:{port}/moved/decode;"
        )
        assert f"use 'http://localhost:{port}/moved' as the endpoint" in error
        assert "pw-in-location" not in error and "codec-secret-token-42" not in error
        assert decoded.payload.metadata["encoding"] == b"binary/encrypted"
    with pytest.raises(CodecError, match="redirected to"):
        remote.encode(plain_payloads())


def test_remote_passing_an_encrypted_payload_back_names_the_key_id(
    codec_server: CodecServer,
) -> None:
    codec_server.mode["answer"] = "echo"
    payload = codecs.AesGcm({"key-2024": os.urandom(32)}).encode(plain_payloads()[:1])[0]
    remote = codecs.Remote(codec_server.url, namespace="default")
    (decoded,) = codecs.Chain(remote).decode([payload])
    error = decoded.error or ""
    assert "the remote codec returned it unchanged" in error
    assert "the codec server does not decode key id 'key-2024'" in error
    assert "add the codec server" not in error and "(codecs.Remote)" not in error
    assert decoded.key_id == "key-2024"


def test_remote_settings() -> None:
    with pytest.raises(CodecError, match="not an http"):
        codecs.Remote("codec.example.com")
    remote = codecs.Remote("https://codec.example.com/{namespace}", auth=AUTH)
    assert repr(remote) == "Remote('https://codec.example.com/{namespace}', auth='<redacted>')"
    # {namespace} without a namespace: each payload says what to do, nothing raises.
    (decoded,) = codecs.Chain(remote).decode(encoded_like_the_server()[:1])
    assert "contains {namespace} but no namespace is set" in (decoded.error or "")
    assert remote.with_namespace("a b").url() == "https://codec.example.com/a%20b/decode"


def test_remote_reads_proto3_json_variants(codec_server: CodecServer) -> None:
    from workbench.codecs.remote import payloads_from_json, payloads_to_json

    payloads = [*plain_payloads(), Payload()]
    body = payloads_to_json(payloads)
    assert json_format.Parse(body, Payloads()).payloads == payloads  # protobuf agrees
    assert payloads_from_json(json_format.MessageToJson(Payloads(payloads=payloads))) == payloads
    url_safe = json.dumps(
        {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg"}, "data": "Pz8_"}]}
    )
    assert payloads_from_json(url_safe) == [
        Payload(metadata={"encoding": b"json/plain"}, data=b"???")
    ]
    with pytest.raises(ValueError, match="payloads"):
        payloads_from_json('{"payloads": 3}')


def test_a_users_codec_that_passes_a_payload_through_leaves_it_to_the_next_codec() -> None:
    """The samples' codecs hand back encodings they do not know: the chain then gives the
    payload to the next codec that claims it (here zlib), instead of stopping with an error."""
    zipped = run(SampleZlibCodec().encode(plain_payloads()))
    encrypted = run(SampleEncryptionCodec({"key-2026": KEY_2026}).encode(plain_payloads()))
    mine = codecs.UserCodec(SampleEncryptionCodec({"key-2026": KEY_2026}))
    chain = codecs.Chain(mine, codecs.Zlib())
    decoded = chain.decode(zipped + encrypted)
    assert [d.error for d in decoded] == [None] * len(decoded)
    assert decoded[0].encodings == ("binary/zlib", "json/plain")
    assert decoded[len(zipped)].encodings == ("binary/encrypted", "json/plain")
    values = [v for _, v in chain.decode_values(zipped + encrypted)]
    assert values == VALUES + VALUES
    # Nothing after it claims the payload: the error still names the codec that passed it.
    alone = codecs.Chain(mine).decode(zipped[:1])
    assert alone[0].error is not None and "binary/zlib" in alone[0].error

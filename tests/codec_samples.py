"""Payload codecs written the way Temporal's samples write them, for tests only.

They produce ciphertext and compressed payloads the way real users' workers do, so tests can
check that workbench's codecs read them (and that these read what workbench's codecs write).
Deliberately independent of the package under test: nothing here imports ``workbench``.

- :class:`SampleEncryptionCodec`: samples-python ``encryption/codec.py`` style (one key id),
  extended to a key ring the way the TypeScript sample's ``EncryptionCodec`` keeps several keys.
- :class:`SampleGzipCodec`: gzip of the serialized payload under ``binary/gzip``.
- :class:`SampleZlibCodec`: Go SDK ``converter.NewZlibCodec`` format (``binary/zlib``).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec


class SampleEncryptionCodec(PayloadCodec):
    """AES-GCM: ``nonce(12) || AESGCM(key).encrypt(nonce, payload.SerializeToString(), None)``."""

    def __init__(self, keys: Mapping[str, bytes], key_id: str | None = None) -> None:
        super().__init__()
        self.key_id = key_id or next(iter(keys))
        self.ciphers = {k: AESGCM(v) for k, v in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={
                    "encoding": b"binary/encrypted",
                    "encryption-key-id": self.key_id.encode(),
                },
                data=self.encrypt(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        ret: list[Payload] = []
        for p in payloads:
            # Leave other encodings alone, as the sample does.
            if p.metadata.get("encoding", b"").decode() != "binary/encrypted":
                ret.append(p)
                continue
            key_id = p.metadata.get("encryption-key-id", b"").decode()
            if key_id not in self.ciphers:
                raise ValueError(f"Unrecognized key ID {key_id}")
            ret.append(Payload.FromString(self.decrypt(key_id, p.data)))
        return ret

    def encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.ciphers[self.key_id].encrypt(nonce, data, None)

    def decrypt(self, key_id: str, data: bytes) -> bytes:
        return self.ciphers[key_id].decrypt(data[:12], data[12:], None)


class SampleGzipCodec(PayloadCodec):
    """``binary/gzip``: gzip of the whole serialized payload."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": b"binary/gzip"}, data=gzip.compress(p.SerializeToString())
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload.FromString(gzip.decompress(p.data))
            if p.metadata.get("encoding") == b"binary/gzip"
            else p
            for p in payloads
        ]


class SampleZlibCodec(PayloadCodec):
    """``binary/zlib`` as the Go SDK's ``NewZlibCodec(ZlibCodecOptions{AlwaysEncode: true})``."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": b"binary/zlib"}, data=zlib.compress(p.SerializeToString())
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload.FromString(zlib.decompress(p.data))
            if p.metadata.get("encoding") == b"binary/zlib"
            else p
            for p in payloads
        ]


class SampleChain(PayloadCodec):
    """Codecs applied like the SDK's ``DataConverter`` applies a list: encode first to last
    (compress, then encrypt for ``SampleChain(zlib, encryption)``), decode in reverse."""

    def __init__(self, *codecs: PayloadCodec) -> None:
        super().__init__()
        self.codecs = codecs

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = list(payloads)
        for codec in self.codecs:
            out = await codec.encode(out)
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = list(payloads)
        for codec in reversed(self.codecs):
            out = await codec.decode(out)
        return out

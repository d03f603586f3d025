"""AES-GCM encryption in the format of Temporal's Python, TypeScript and Go samples.

Wire format: outer metadata ``encoding=binary/encrypted`` and ``encryption-key-id=<id>``;
``data = nonce(12) || AESGCM(key).encrypt(nonce, inner.SerializeToString(), None)`` where the
inner payload is a whole serialized ``Payload`` and the ciphertext ends with the 16-byte tag.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError as ProtoDecodeError
from temporalio.api.common.v1 import Payload

from ..errors import CodecError
from .base import Codec, DecodeFailure

__all__ = ["AesGcm", "KeySource"]

ENCRYPTED = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32

KeySource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]
"""A key: 32 raw bytes, 64 hex characters, base64 text, or the path of a key file holding
any of those."""

_HEX = re.compile(r"[0-9a-fA-F]{64}")


def _from_text(text: str) -> bytes | None:
    """The 32-byte key that ``text`` spells in hex or base64, or ``None``."""
    text = text.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    compact = "".join(text.split())
    if not compact or len(compact) > 64:
        return None
    # Standard or URL-safe alphabet, padding optional: what key-management tools print.
    padded = compact.replace("-", "+").replace("_", "/") + "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == KEY_SIZE else None


def load_key(key_id: str, source: KeySource) -> bytes:
    """Turn one key of the ring into its 32 bytes.

    Raises:
        CodecError: The key is not 32 bytes in any accepted form; the message names the key id
            and the form found, never the key itself.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        if len(raw) == KEY_SIZE:
            return raw
        raise CodecError(
            f"encryption key {key_id!r} is {len(raw)} bytes; AES-256-GCM needs {KEY_SIZE} "
            "bytes (or 64 hex characters, or base64 text, or the path of a key file)"
        )
    if isinstance(source, os.PathLike):
        return _from_file(key_id, Path(source))
    if isinstance(source, str):
        key = _from_text(source)
        if key is not None:
            return key
        path = Path(source).expanduser()
        if len(source) < 4096 and path.is_file():
            return _from_file(key_id, path)
        if _is_path_text(source):
            # '.' and '~' are in neither hex nor base64: this is a path, safe to show.
            what = "is a directory" if path.is_dir() else "does not exist"
            raise CodecError(
                f"the key file of encryption key {key_id!r} at {source.strip()!r} {what}; "
                "check the path (or paste the key itself, as hex or base64)"
            )
        if len(source) == KEY_SIZE:
            raise CodecError(
                f"encryption key {key_id!r} is a {KEY_SIZE}-character string, neither hex (64 "
                "characters) nor base64 of 32 bytes; if those characters are the raw key (as in "
                "the Go sample), pass them as bytes: key.encode()"
            )
        raise CodecError(
            f"encryption key {key_id!r} is neither 64 hex characters, nor base64 of 32 bytes, "
            "nor the path of a readable key file; pass 32 raw bytes, hex, base64 or a "
            "pathlib.Path"
        )
    raise CodecError(
        f"encryption key {key_id!r} has type {type(source).__name__}; pass 32 raw bytes, hex "
        "or base64 text, or a pathlib.Path to a key file"
    )


def _is_path_text(text: str) -> bool:
    """Whether ``text`` can only be a path: it holds '.' or starts with '~' (neither hex nor
    base64 has them), so naming it in a message cannot show a key."""
    t = text.strip()
    return bool(t) and len(t) < 4096 and ("." in t or t.startswith("~")) and "\n" not in t


def _from_file(key_id: str, path: Path) -> bytes:
    try:
        content = path.expanduser().read_bytes()
    except OSError as err:
        raise CodecError(
            f"cannot read the key file of encryption key {key_id!r} at {str(path)!r}: "
            f"{err.strerror or err}"
        ) from None
    if len(content) == KEY_SIZE:
        return content
    try:
        key = _from_text(content.decode("ascii"))
    except UnicodeDecodeError:
        key = None
    if key is not None:
        return key
    raise CodecError(
        f"the key file of encryption key {key_id!r} at {str(path)!r} holds {len(content)} "
        f"bytes that are neither a raw {KEY_SIZE}-byte key nor hex or base64 text of one"
    )


class AesGcm(Codec):
    """AES-256-GCM with a key ring, compatible with Temporal's encryption samples.

    Args:
        keys: Key id -> key. A key is 32 raw bytes, 64 hex characters, base64 text, or the
            path (``pathlib.Path`` or an existing file's path) of a key file holding one of
            those. Several ids make a ring: payloads encrypted under any of them decode, which
            is what key rotation needs.
        encrypt_key_id: Key used by :meth:`encode` (the first key of ``keys`` if omitted).

    Raises:
        CodecError: A key is malformed (the message names its id, never the key), the ring is
            empty, or ``encrypt_key_id`` is not in it.

    Example::

        codecs.AesGcm(
            {"key-2026": Path("~/keys/2026.key"), "key-2025": old_key},
            encrypt_key_id="key-2026",
        )
    """

    name = "aes-gcm"

    def __init__(self, keys: Mapping[str, KeySource], *, encrypt_key_id: str | None = None) -> None:
        if isinstance(keys, (bytes, str, os.PathLike)) or not isinstance(keys, Mapping):
            raise CodecError(
                "AesGcm takes a mapping of key id -> key, e.g. AesGcm({'my-key-id': key}); "
                "the key id is the encryption-key-id your workers write into the payloads"
            )
        if not keys:
            raise CodecError("AesGcm needs at least one key: AesGcm({'my-key-id': key})")
        decrypters = {}
        encrypters = {}
        raw_keys: dict[str, bytes] = {}
        for key_id, source in keys.items():
            if not isinstance(key_id, str) or not key_id:
                raise CodecError(f"encryption key ids must be non-empty strings, got {key_id!r}")
            raw_keys[key_id] = load_key(key_id, source)
            cipher = AESGCM(raw_keys[key_id])
            # Bound methods, looked up once: decode's loop then does one dict get per payload.
            decrypters[key_id.encode()] = cipher.decrypt
            encrypters[key_id] = cipher.encrypt
        if encrypt_key_id is None:
            encrypt_key_id = next(iter(keys))
        elif encrypt_key_id not in encrypters:
            raise CodecError(
                f"encrypt_key_id {encrypt_key_id!r} is not in the key ring "
                f"({_names(encrypters)}); add its key or pick one of those ids"
            )
        self.key_ids: tuple[str, ...] = tuple(encrypters)
        """The ids of the ring, in the order given."""
        self.encrypt_key_id: str = encrypt_key_id
        """The id :meth:`encode` encrypts with."""
        self._decrypters = decrypters
        self._encrypt = encrypters[encrypt_key_id]
        # Kept only so that the codec can be pickled (sent to dask workers); never shown.
        self._raw_keys = _Keys(raw_keys)
        self._ring_text = _names(encrypters)

    def __repr__(self) -> str:
        return f"AesGcm(key_ids={list(self.key_ids)!r}, encrypt_key_id={self.encrypt_key_id!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The ciphers cannot be pickled: rebuild them from the keys (which travel with it).
        return (_rebuild_aes_gcm, (dict(self._raw_keys.keys), self.encrypt_key_id))

    def claims_encoding(self, encoding: bytes | None) -> bool:
        """Claims ``binary/encrypted``."""
        return encoding == ENCRYPTED

    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        """Decrypt each payload with the key its ``encryption-key-id`` names."""
        return self._decode_keyed(payloads)[0]

    def _decode_keyed(
        self, payloads: Sequence[Payload]
    ) -> tuple[list[Payload | DecodeFailure], list[bytes | None]]:
        """:meth:`decode`, plus the raw key id of each payload (the chain reports it)."""
        out: list[Payload | DecodeFailure] = []
        key_ids: list[bytes | None] = []
        append = out.append
        append_id = key_ids.append
        decrypters = self._decrypters
        from_string = Payload.FromString
        minimum = NONCE_SIZE + TAG_SIZE
        for payload in payloads:
            key_id = payload.metadata.get(KEY_ID)
            append_id(key_id)
            decrypt = decrypters.get(key_id)  # type: ignore[arg-type]
            data = payload.data
            if decrypt is None or len(data) < minimum:
                append(self._failure(key_id, data))
                continue
            try:
                plain = decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], None)
            except InvalidTag:
                append(
                    DecodeFailure(
                        f"authentication tag mismatch for encryption key id {_text(key_id)!r}: "
                        "the key under that id is not the one that encrypted this payload (wrong "
                        "key), or the data was tampered with"
                    )
                )
                continue
            try:
                append(from_string(plain))
            except ProtoDecodeError:
                append(
                    DecodeFailure(
                        f"corrupt inner protobuf: data decrypted with key id {_text(key_id)!r} "
                        "is not a serialized Payload (the encoder did not wrap a whole Payload)"
                    )
                )
        return out, key_ids

    def _failure(self, key_id: bytes | None, data: bytes) -> DecodeFailure:
        if key_id is None:
            return DecodeFailure(
                "binary/encrypted payload has no encryption-key-id metadata; "
                f"the key ring has {self._ring_text}"
            )
        if key_id not in self._decrypters:
            return DecodeFailure(
                f"unknown encryption key id {_text(key_id)!r}: the key ring has "
                f"{self._ring_text}; add that key to codecs.AesGcm({{...}})"
            )
        return DecodeFailure(
            f"truncated data: {len(data)} bytes under key id {_text(key_id)!r} is shorter than "
            f"nonce ({NONCE_SIZE}) + tag ({TAG_SIZE}); the payload was cut or is not AES-GCM"
        )

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each whole payload with :attr:`encrypt_key_id` and a fresh random nonce."""
        encrypt = self._encrypt
        metadata = {"encoding": ENCRYPTED, KEY_ID: self.encrypt_key_id.encode()}
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_SIZE)
            data = nonce + encrypt(nonce, payload.SerializeToString(), None)
            out.append(Payload(metadata=metadata, data=data))
        return out


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def _names(ids: Mapping[str, object]) -> str:
    return ", ".join(repr(i) for i in ids)


class _Keys:
    """Key id -> key bytes, whose repr names the ids only (``vars(codec)`` shows no key)."""

    __slots__ = ("keys",)

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys

    def __repr__(self) -> str:
        return f"<keys {sorted(self.keys)!r}>"


def _rebuild_aes_gcm(keys: dict[str, bytes], encrypt_key_id: str) -> AesGcm:
    return AesGcm(keys, encrypt_key_id=encrypt_key_id)

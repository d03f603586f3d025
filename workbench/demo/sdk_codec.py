"""The demo worker's ``temporalio.converter.PayloadCodec``, built on ``workbench.codecs``.

It writes what Temporal's Go encryption sample writes: payloads above
:data:`COMPRESS_ABOVE` bytes are zlib-compressed (``binary/zlib``, Go SDK format) and then every
payload is encrypted with AES-GCM (``binary/encrypted``), so a large payload reads
``binary/encrypted → binary/zlib → json/plain``. The workbench reads it back with
``codecs.Chain(codecs.AesGcm(DEMO_KEYS), codecs.Zlib())``.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from ..codecs import AesGcm, Chain, Zlib
from ..errors import DecodeError
from .keys import CURRENT_KEY_ID, DEMO_KEYS

__all__ = ["COMPRESS_ABOVE", "DemoPayloadCodec"]

COMPRESS_ABOVE = 1024
"""Serialized payloads larger than this many bytes are compressed before encryption."""


class DemoPayloadCodec(PayloadCodec):
    """Compress large payloads, encrypt all, under one key id of the demo key ring.

    Args:
        key_id: The key id new payloads are encrypted under (key rotation: the demo seeds its
            oldest orders under the old id).
    """

    def __init__(self, key_id: str = CURRENT_KEY_ID) -> None:
        super().__init__()
        self._aes = AesGcm(dict(DEMO_KEYS), encrypt_key_id=key_id)
        self._zlib = Zlib()
        self._reader = Chain(self._aes, self._zlib)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Compress the large payloads, then encrypt every payload."""
        sized = [
            self._zlib.encode([p])[0] if p.ByteSize() > COMPRESS_ABOVE else p for p in payloads
        ]
        return self._aes.encode(sized)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt and decompress; the worker cannot go on without a payload, so fail loudly.

        Raises:
            DecodeError: A payload could not be decoded (its reason, never a key).
        """
        out = []
        for decoded in self._reader.decode(payloads):
            if decoded.error is not None:
                raise DecodeError(decoded.error)
            out.append(decoded.payload)
        return out

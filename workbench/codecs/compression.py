"""Compression codecs: ``binary/zlib`` (Go SDK), ``binary/gzip`` (Python samples) and
``binary/snappy`` (Go samples; needs the ``snappy`` extra).

Each compresses a whole serialized inner ``Payload``; decoding decompresses and parses it.
Decompression is capped (``max_size``) so a hostile payload cannot exhaust the kernel's memory.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.message import DecodeError as ProtoDecodeError
from temporalio.api.common.v1 import Payload

from ..errors import CodecError
from .base import Codec, DecodeFailure

__all__ = ["Gzip", "Snappy", "Zlib"]

DEFAULT_MAX_SIZE = 256 * 1024 * 1024
"""Largest decompressed payload accepted (Temporal's own payload limit is a few MiB)."""


class _TooLarge(Exception):
    pass


class _Compression(Codec):
    """Shared decode/encode loop; subclasses give the encoding and the two byte functions."""

    encoding: bytes = b""

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def claims_encoding(self, encoding: bytes | None) -> bool:
        """Claims this codec's encoding."""
        return encoding == self.encoding

    def _decompress(self, data: bytes) -> bytes:
        raise NotImplementedError

    def _compress(self, data: bytes) -> bytes:
        raise NotImplementedError

    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        """Decompress each payload and parse the ``Payload`` inside."""
        out: list[Payload | DecodeFailure] = []
        name = self.encoding.decode()
        decompress = self._decompress
        from_string = Payload.FromString
        for payload in payloads:
            try:
                plain = decompress(payload.data)
            except _TooLarge:
                out.append(
                    DecodeFailure(
                        f"{name} data decompresses to more than {self.max_size} bytes; "
                        "raise max_size= on the codec if that is expected"
                    )
                )
                continue
            except Exception as err:  # each library raises its own error type
                out.append(
                    DecodeFailure(
                        f"undecompressable {name} data ({len(payload.data)} bytes): {_reason(err)}"
                    )
                )
                continue
            try:
                out.append(from_string(plain))
            except ProtoDecodeError:
                out.append(
                    DecodeFailure(
                        f"corrupt inner protobuf: decompressed {name} data is not a serialized "
                        "Payload"
                    )
                )
        return out

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Compress each whole payload."""
        metadata = {"encoding": self.encoding}
        compress = self._compress
        return [Payload(metadata=metadata, data=compress(p.SerializeToString())) for p in payloads]


def _reason(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text[:200]


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Decompress zlib (wbits 15) or gzip (wbits 31, all members) up to ``limit`` bytes."""
    parts = []
    total = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        chunk = inflater.decompress(data, limit + 1 - total)
        total += len(chunk)
        parts.append(chunk)
        if total > limit or inflater.unconsumed_tail:
            raise _TooLarge
        if not inflater.eof:
            raise zlib.error("truncated stream (end of compressed data not reached)")
        data = inflater.unused_data
        # gzip files may hold several members back to back; zlib streams are single.
        if wbits != 31 or not data:
            if data:
                raise zlib.error(f"{len(data)} bytes of trailing garbage after the stream")
            return parts[0] if len(parts) == 1 else b"".join(parts)


class Zlib(_Compression):
    """``binary/zlib``: zlib of the serialized inner Payload (Go SDK ``converter.NewZlibCodec``).

    Args:
        max_size: Largest decompressed size accepted, in bytes.
        level: zlib level used by :meth:`encode`.
    """

    name = "zlib"
    encoding = b"binary/zlib"

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE, level: int = 6) -> None:
        super().__init__(max_size=max_size)
        self.level = level

    def _decompress(self, data: bytes) -> bytes:
        return _inflate(data, 15, self.max_size)

    def _compress(self, data: bytes) -> bytes:
        return zlib.compress(data, self.level)


class Gzip(_Compression):
    """``binary/gzip``: gzip of the serialized inner Payload (Temporal's Python samples).

    Args:
        max_size: Largest decompressed size accepted, in bytes.
        level: Compression level used by :meth:`encode`.
    """

    name = "gzip"
    encoding = b"binary/gzip"

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE, level: int = 6) -> None:
        super().__init__(max_size=max_size)
        self.level = level

    def _decompress(self, data: bytes) -> bytes:
        return _inflate(data, 31, self.max_size)

    def _compress(self, data: bytes) -> bytes:
        # mtime=0: the same payload always encodes to the same bytes.
        return gzip.compress(data, compresslevel=self.level, mtime=0)


def _snappy_module() -> Any:
    try:
        import cramjam
    except ImportError:
        raise CodecError(
            "codecs.Snappy() needs the cramjam package: pip install 'temporal-workbench[snappy]'"
        ) from None
    return cramjam.snappy


class Snappy(_Compression):
    """``binary/snappy``: raw (unframed) snappy of the serialized inner Payload, as
    ``github.com/golang/snappy``'s ``snappy.Encode`` in Temporal's Go ``snappycompress``
    sample writes it.

    Needs the optional extra: ``pip install 'temporal-workbench[snappy]'``.

    Raises:
        CodecError: The extra is not installed.
    """

    name = "snappy"
    encoding = b"binary/snappy"

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        super().__init__(max_size=max_size)
        snappy = _snappy_module()
        self._length: Callable[[bytes], int] = snappy.decompress_raw_len
        self._raw_decompress: Callable[[bytes], Any] = snappy.decompress_raw
        self._raw_compress: Callable[[bytes], Any] = snappy.compress_raw

    def _decompress(self, data: bytes) -> bytes:
        # The block header states the decompressed length: check it before allocating.
        if self._length(data) > self.max_size:
            raise _TooLarge
        return bytes(self._raw_decompress(data))

    def _compress(self, data: bytes) -> bytes:
        return bytes(self._raw_compress(data))

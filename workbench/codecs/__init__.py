"""Codecs: how encoded payloads (encrypted, compressed, served by a codec server) are decoded.

>>> from workbench import codecs
>>> chain = codecs.Chain(codecs.AesGcm({"key-2026": key}), codecs.Zlib())
>>> [d.encodings for d in chain.decode(payloads)]
[('binary/encrypted', 'binary/zlib', 'json/plain'), ...]

A :class:`Chain` applies its codecs until none claims a payload and reports, per payload, the
layers it peeled, the encryption key id and any error. :data:`DEFAULT` (the empty chain) leaves
payloads to the default converter.
"""

from __future__ import annotations

from .base import DEFAULT_ENCODINGS, Codec, DecodeFailure, encoding_of
from .chain import DEFAULT, MAX_DEPTH, Chain, CodecLike, Decoded, as_chain, chain
from .compression import Gzip, Snappy, Zlib
from .encryption import AesGcm, KeySource
from .remote import Remote
from .user import UserCodec, run_coroutine

__all__ = [
    "DEFAULT",
    "DEFAULT_ENCODINGS",
    "MAX_DEPTH",
    "AesGcm",
    "Chain",
    "Codec",
    "CodecLike",
    "DecodeFailure",
    "Decoded",
    "Gzip",
    "KeySource",
    "Remote",
    "Snappy",
    "UserCodec",
    "Zlib",
    "as_chain",
    "chain",
    "encoding_of",
    "run_coroutine",
]

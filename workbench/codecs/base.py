"""What every codec is: one layer of payload encoding, decoded and encoded in batches.

A codec *claims* the payloads whose ``encoding`` metadata it understands, turns a batch of them
into the payloads they wrap (``decode``) or back (``encode``), and reports a failure per payload
instead of raising, so that one bad payload never hides the rest of a history.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.common.v1 import Payload

__all__ = [
    "DEFAULT_ENCODINGS",
    "Codec",
    "DecodeFailure",
    "encoding_of",
]

ENCODING = "encoding"
"""The metadata key naming a payload's encoding."""

DEFAULT_ENCODINGS: frozenset[str] = frozenset(
    {"binary/null", "binary/plain", "json/plain", "json/protobuf", "binary/protobuf"}
)
"""Encodings the SDKs' default payload converter reads: nothing more to decode under them."""

DEFAULT_ENCODINGS_BYTES: frozenset[bytes] = frozenset(e.encode() for e in DEFAULT_ENCODINGS)


@dataclass(slots=True)
class DecodeFailure:
    """Why one payload could not be decoded by one codec.

    Attributes:
        error: The reason, in words a user can act on (never contains key material).
    """

    error: str

    def __str__(self) -> str:
        return self.error


def encoding_of(payload: Payload) -> str | None:
    """The ``encoding`` metadata of ``payload`` as text, or ``None`` when it has none."""
    raw = payload.metadata.get(ENCODING)
    return None if raw is None else raw.decode("utf-8", "replace")


class Codec(ABC):
    """One layer of payload encoding (encryption, compression, a codec server, ...).

    Subclasses set :attr:`name` and implement :meth:`decode`, :meth:`encode` and either
    :meth:`claims_encoding` (when the encoding metadata alone decides, which lets a
    :class:`~workbench.codecs.Chain` route payloads with one dictionary look-up) or
    :meth:`claims`.
    """

    name: str = "codec"
    """Short name shown in reprs and error messages."""

    passes_through: bool = False
    """True when :meth:`decode` may hand back a payload it did not change (a user's
    ``PayloadCodec`` or a codec server ignores encodings it does not know); the chain then
    stops peeling that payload instead of looping."""

    def claims(self, payload: Payload) -> bool:
        """Whether this codec decodes ``payload`` (its outermost layer)."""
        return self.claims_encoding(payload.metadata.get(ENCODING))

    def claims_encoding(self, encoding: bytes | None) -> bool:
        """Whether this codec decodes payloads whose ``encoding`` metadata is ``encoding``.

        Args:
            encoding: The raw metadata value, or ``None`` when the payload has none.
        """
        return False

    @abstractmethod
    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        """Remove this codec's layer from each payload of a batch.

        Returns one entry per input, in order: the inner payload, or a
        :class:`DecodeFailure` saying why that payload could not be decoded. Never raises
        because of one bad payload.
        """

    @abstractmethod
    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Wrap each payload of a batch in this codec's layer (what a codec server's
        ``/encode`` does).

        Raises:
            CodecError: The batch could not be encoded.
        """


def claims_non_default(encoding: bytes | None) -> bool:
    """Claim rule of catch-all codecs (codec servers, users' codecs): anything the default
    converter cannot read by itself."""
    return encoding not in DEFAULT_ENCODINGS_BYTES

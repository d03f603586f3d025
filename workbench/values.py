"""Payload -> Python value, through temporalio's payload converters.

The SDK decides what a payload means: this module looks up the SDK converter registered for a
payload's ``encoding`` (``temporalio.converter.DataConverter.default.payload_converter``, or the
user's own ``PayloadConverter``) and calls its ``from_payload``. Nothing here parses JSON or
protobuf by its own rules.

Protobuf messages (``json/protobuf``, ``binary/protobuf``) become dicts (``MessageToDict``,
the proto3 JSON field names a Temporal user sees in the Web UI) so they sit in a DataFrame like
JSON values do; pass ``messages="message"`` to keep the message objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadConverter,
)

from .errors import ArgumentError

__all__ = [
    "as_converter",
    "convert_payloads",
    "json_plain_scanner",
    "payload_value",
    "payload_values",
    "readable_encodings",
]

Messages = Literal["dict", "message"]

_JSON_PLAIN = b"json/plain"
_JSON_PROTO = b"json/protobuf"

# A decoder built with json.loads's defaults: its scanner is the one json.loads(data) runs.
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _resolve(converter: PayloadConverter | DataConverter | None) -> PayloadConverter:
    """The payload converter meant by ``converter`` (the SDK default for ``None``)."""
    if converter is None:
        return DataConverter.default.payload_converter
    if isinstance(converter, DataConverter):
        return converter.payload_converter
    return converter


def _encoding_converters(converter: PayloadConverter) -> Mapping[bytes, Any] | None:
    """The encoding -> converter map of ``converter``, or ``None`` when it is not a composite
    (then only its ``from_payloads`` can be asked)."""
    # The default converter is wrapped for the SDK's transfer types; the encodings live in the
    # composite inside. Without type hints the wrapper adds nothing.
    # ``_inner_payload_converter`` is private to temporalio (1.x): read it because the SDK has
    # no public way to reach the composite. It degrades safely: if a release renames or drops
    # it, ``getattr`` gives ``None``, the wrapper is not a composite, and every payload goes
    # through the converter's public ``from_payloads``: slower, and protobuf messages stay
    # message objects, but values still come from the SDK and errors stay per payload.
    inner = getattr(converter, "_inner_payload_converter", None)
    if isinstance(inner, PayloadConverter):
        converter = inner
    if isinstance(converter, CompositePayloadConverter):
        return converter.converters
    return None


def as_converter(converter: Any) -> PayloadConverter | DataConverter | None:
    """A ``converter=`` argument as users give it: ``None`` (the SDK default), a
    ``PayloadConverter``, a ``DataConverter``, or a ``PayloadConverter`` class (made here, as
    ``DataConverter(payload_converter_class=...)`` does).

    Raises:
        ArgumentError: Anything else.
    """
    if converter is None or isinstance(converter, (PayloadConverter, DataConverter)):
        return converter
    if isinstance(converter, type) and issubclass(converter, PayloadConverter):
        made: PayloadConverter = converter()
        return made
    raise ArgumentError(
        "converter must be a temporalio.converter.PayloadConverter (an instance or its class) "
        f"or a DataConverter, not {type(converter).__name__}",
        argument="converter",
    )


def readable_encodings(
    converter: PayloadConverter | DataConverter | None,
) -> frozenset[bytes] | None:
    """The encodings ``converter`` has a converter for, or ``None`` when it is not a composite
    (it may read any encoding: only trying tells)."""
    converters = _encoding_converters(_resolve(converter))
    return None if converters is None else frozenset(converters)


def json_plain_scanner(converter: PayloadConverter | DataConverter | None) -> Any:
    """The scanner :func:`convert_payloads` uses for ``json/plain`` with ``converter``, or
    ``None`` when that converter's JSON is not the SDK default's (see below)."""
    converters = _encoding_converters(_resolve(converter))
    return None if converters is None else _plain_json_scanner(converters)


def _plain_json_scanner(converters: Mapping[bytes, Any]) -> Any:
    """The stdlib scanner that ``json.loads`` would use for ``json/plain`` payloads, when the
    registered converter is the SDK's own with its default decoder (its ``from_payload`` is
    then exactly ``json.loads(payload.data)``), else ``None``.

    Calling the scanner directly skips ``json.loads``'s per-call overhead -- more than half the
    cost of a small payload -- with the same parser, so values are identical. Anything the fast
    path does not accept (a BOM, UTF-16, surrounding whitespace, invalid JSON) falls back to
    the SDK converter, which decides and words the error.
    """
    conv = converters.get(_JSON_PLAIN)
    if type(conv) is not JSONPlainPayloadConverter:
        return None
    if getattr(conv, "_decoder", JSONPlainPayloadConverter) is not None:
        return None
    return _SCAN


def payload_value(
    payload: Payload,
    converter: PayloadConverter | DataConverter | None = None,
    *,
    messages: Messages = "dict",
) -> tuple[Any, str | None]:
    """Convert one decoded payload to a Python value with the SDK's converters.

    Args:
        payload: A payload in a default-converter encoding (``json/plain``, ``binary/null``,
            ``binary/plain``, ``json/protobuf``, ``binary/protobuf``) or one the given
            ``converter`` reads.
        converter: A ``temporalio.converter.PayloadConverter`` (or a ``DataConverter``, whose
            payload converter is used); the SDK's default if ``None``.
        messages: ``"dict"`` to turn protobuf messages into dicts, ``"message"`` to keep them.

    Returns:
        ``(value, None)``, or ``(None, reason)`` when the payload cannot be converted.
    """
    return payload_values([payload], converter, messages=messages)[0]


def payload_values(
    payloads: Sequence[Payload],
    converter: PayloadConverter | DataConverter | None = None,
    *,
    messages: Messages = "dict",
) -> list[tuple[Any, str | None]]:
    """Convert a batch of decoded payloads; see :func:`payload_value`.

    Never raises because of a payload: each result is ``(value, None)`` or ``(None, reason)``.
    """
    return convert_payloads(payloads, None, converter, messages=messages)


def convert_payloads(
    payloads: Sequence[Payload],
    encodings: Sequence[bytes | None] | None,
    converter: PayloadConverter | DataConverter | None = None,
    *,
    messages: Messages = "dict",
) -> list[tuple[Any, str | None]]:
    """:func:`payload_values` for callers that already read each payload's raw ``encoding``
    metadata (the codec chain does), sparing a second read.

    Args:
        payloads: Decoded payloads.
        encodings: ``payloads[i].metadata.get("encoding")`` for each, or ``None`` to read them.
        converter: As for :func:`payload_values`.
        messages: As for :func:`payload_values`.
    """
    resolved = _resolve(converter)
    converters = _encoding_converters(resolved)
    if converters is None:
        return [_via_payload_converter(p, resolved) for p in payloads]
    if encodings is None:
        encodings = [p.metadata.get("encoding") for p in payloads]
    as_dict = messages == "dict"
    scan = _plain_json_scanner(converters)
    out: list[tuple[Any, str | None]] = []
    append = out.append
    for payload, encoding in zip(payloads, encodings, strict=True):
        if scan is not None and encoding == _JSON_PLAIN:
            try:
                text = payload.data.decode()
                value, end = scan(text, 0)
                if end == len(text):
                    append((value, None))
                    continue
            # UnicodeDecodeError, JSONDecodeError; RecursionError: nested deeper than the
            # interpreter's recursion limit (the SDK converter then words the error).
            except (ValueError, StopIteration, RecursionError):
                pass
        append(_via_encoding_converter(payload, encoding, converters, as_dict))
    return out


def _via_encoding_converter(
    payload: Payload,
    encoding: bytes | None,
    converters: Mapping[bytes, EncodingPayloadConverter],
    as_dict: bool,
) -> tuple[Any, str | None]:
    conv = converters.get(encoding)  # type: ignore[arg-type]
    name = "<none>" if encoding is None else encoding.decode("utf-8", "replace")
    if conv is None:
        known = ", ".join(sorted(k.decode("utf-8", "replace") for k in converters))
        return None, (
            f"no payload converter reads encoding {name!r} (the converter knows {known}); "
            "decode it with a codec first, or pass the PayloadConverter that wrote it"
        )
    try:
        value = conv.from_payload(payload, None)
    except Exception as err:
        if encoding == _JSON_PROTO and _unknown_message(err):
            # The message's module is not imported here: its proto3 JSON is still JSON.
            plain = converters.get(_JSON_PLAIN)
            if isinstance(plain, JSONPlainPayloadConverter):
                try:
                    return plain.from_payload(payload, None), None
                except Exception:
                    pass
        return None, _reason(name, payload, err)
    if as_dict and isinstance(value, Message):
        return _message_dict(value)
    return value, None


def _via_payload_converter(payload: Payload, converter: PayloadConverter) -> tuple[Any, str | None]:
    try:
        value = converter.from_payloads([payload])[0]
    except Exception as err:
        raw = payload.metadata.get("encoding")
        name = "<none>" if raw is None else raw.decode("utf-8", "replace")
        return None, _reason(name, payload, err)
    return value, None


def _message_dict(message: Message) -> tuple[Any, str | None]:
    try:
        return MessageToDict(message), None
    except Exception as err:
        return None, f"{message.DESCRIPTOR.full_name} message cannot be shown as a dict: {err}"


def _unknown_message(err: BaseException) -> bool:
    return isinstance(err, RuntimeError) and str(err).startswith("Unknown Protobuf type")


def _reason(encoding: str, payload: Payload, err: BaseException) -> str:
    """Words for a conversion failure: the SDK's message plus its cause (which says where the
    JSON or protobuf is broken)."""
    message_type = payload.metadata.get("messageType")
    if _unknown_message(err) and message_type is not None:
        return (
            f"{encoding} payload of unknown protobuf type "
            f"{message_type.decode('utf-8', 'replace')!r}: import the module that defines it "
            "before decoding"
        )
    if isinstance(err, RecursionError) or isinstance(err.__cause__, RecursionError):
        return (
            f"{encoding} payload is nested too deeply to convert (RecursionError: {err}); "
            "its raw bytes are kept"
        )[:500]
    text = f"{type(err).__name__}: {err}"
    cause = err.__cause__
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    if encoding == "json/plain":
        return f"json/plain payload is not valid JSON: {text}"[:500]
    return f"{encoding} payload could not be converted: {text}"[:500]

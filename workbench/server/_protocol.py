"""The codec server's body format: proto3 JSON of ``temporal.api.common.v1.Payloads``.

Clients spell it two ways: the Web UI sends protojson (camelCase), the CLI and the Go SDK send
Go ``encoding/json`` of the generated struct (snake_case field names, empty fields omitted, an
empty list as ``{}``). For ``metadata`` and ``data`` -- nearly every payload -- both spellings
are the same, so those are read directly (orjson and base64, several times faster than
protobuf's JSON parser); a payload with any other field (``externalPayloads`` /
``external_payloads``, with int64 sizes as numbers or strings, or fields newer than us) goes
through protobuf's own parser, which reads both spellings and skips unknown fields.
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

__all__ = ["BadBody", "dump_payloads", "parse_payloads"]

_PLAIN_KEYS = frozenset(("metadata", "data"))


class BadBody(ValueError):
    """The request body is not ``Payloads`` JSON; the message is the short reason sent back
    with the 400 (it never quotes the body: it may hold secrets)."""


if sys.version_info >= (3, 11):

    def _strict_b64(text: str) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)

else:  # pragma: no cover

    def _strict_b64(text: str) -> bytes:
        return base64.b64decode(text, validate=True)


def _b64(value: Any, index: int, field: str) -> bytes:
    """Bytes of a base64 value of payload ``index``; ``field`` names it in the error."""
    if isinstance(value, str):
        try:
            return _strict_b64(value)
        except (binascii.Error, ValueError):
            pass
        # Proto3 JSON readers also accept the URL-safe alphabet and missing padding.
        text = value.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BadBody(f"payload {index}: {field} is not valid base64") from None
    raise BadBody(f"payload {index}: {field} is not a base64 string")


def parse_payloads(body: bytes) -> list[Payload]:
    """Read a codec server request body.

    Raises:
        BadBody: Not JSON, not an object, ``payloads`` not a list of objects, or bad base64.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadBody("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise BadBody("expected a JSON object with a 'payloads' list")
    items = doc.get("payloads")
    if items is None:
        return []  # `{}`: Go's encoding/json spelling of an empty list
    if not isinstance(items, list):
        raise BadBody("'payloads' is not a list")
    # The payloads are written straight into the protobuf wire format of ``Payloads`` and
    # parsed by protobuf's C code in one call: several times faster than building each
    # Payload from Python. Metadata nearly always repeats within a request (encoding, key
    # id): each distinct metadata is encoded once.
    strict_b64, small, varint = _strict_b64, _SMALL, _varint
    wire: list[bytes] = []
    shapes = _SHAPES
    special: dict[int, Payload] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadBody(f"payload {index} is not an object")
        if not _PLAIN_KEYS.issuperset(item):
            special[index] = _parse_full(item, index)
            wire.append(b"\x0a\x00")  # an empty payload, replaced below
            continue
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise BadBody(f"payload {index}: 'metadata' is not an object")
        try:
            shape: tuple[tuple[str, Any], ...] | None = tuple(metadata.items())
            head = shapes.get(shape)  # type: ignore[arg-type]
        except TypeError:  # an unhashable value (a list, an object): reported just below
            shape, head = None, None
        if head is None:
            head = Payload(
                metadata={k: _b64(v, index, f"metadata {k!r}") for k, v in metadata.items()}
            ).SerializeToString()
            if shape is not None:
                if len(shapes) >= _MAX_SHAPES:
                    shapes.clear()  # bounded: a client cannot grow it without end
                shapes[shape] = head
        data = item.get("data")
        if data is None:
            body_bytes = head
        else:
            try:
                raw = strict_b64(data)  # the common case, without a call per payload
            except (binascii.Error, ValueError, TypeError):
                raw = _b64(data, index, "'data'")
            size = len(raw)
            body_bytes = head + b"\x12" + (small[size] if size < 0x80 else varint(size)) + raw
        size = len(body_bytes)
        wire.append(b"\x0a" + (small[size] if size < 0x80 else varint(size)) + body_bytes)
    out = list(Payloads.FromString(b"".join(wire)).payloads)
    for index, payload in special.items():
        out[index] = payload
    return out


def _varint(n: int) -> bytes:
    """Protobuf's base-128 varint of a length."""
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:  # most payloads: two bytes, without a loop
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(0x80)]

# Metadata as sent (base64 text) -> its protobuf encoding, kept across requests: the UI sends
# one payload per request, all with the same few encodings and key ids. Metadata holds no
# secrets (encodings, key ids, message types); replaced and read under the GIL.
_SHAPES: dict[tuple[tuple[str, Any], ...], bytes] = {}
_MAX_SHAPES = 256


def _parse_full(item: dict[str, Any], index: int) -> Payload:
    payload = Payload()
    try:
        json_format.ParseDict(item, payload, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        # protobuf's message names the field and the problem, not the value.
        raise BadBody(f"payload {index}: {str(err).splitlines()[0][:200]}") from None
    return payload


def dump_payloads(payloads: Sequence[Payload]) -> bytes:
    """Proto3 JSON (camelCase) of ``Payloads``; ``metadata`` and ``data`` are always present,
    even when empty, because the Web UI base64-decodes every value it is given."""
    b2a = binascii.b2a_base64
    texts: dict[bytes, str] = {}  # metadata values repeat (encodings): encoded once
    items: list[dict[str, Any]] = []
    for p in payloads:
        if p.external_payloads:
            item = json_format.MessageToDict(p)
            item.setdefault("metadata", {})
            item.setdefault("data", "")
        else:
            metadata = {}
            for k, v in p.metadata.items():
                text = texts.get(v)
                if text is None:
                    text = texts[v] = b2a(v, newline=False).decode("ascii")
                metadata[k] = text
            item = {"metadata": metadata, "data": b2a(p.data, newline=False).decode("ascii")}
        items.append(item)
    return orjson.dumps({"payloads": items})

"""History JSON → ``temporalio.api.history.v1.History``, without protobuf's pure-Python parser.

``google.protobuf.json_format`` walks every value through Python-level checks and builds the
message field by field; for a history of 10,000 events that is most of the load time. Here the
JSON is parsed by orjson, each value is converted once by a plan compiled per message type from
its descriptor (proto3 JSON rules: 64-bit integers as strings, bytes as base64, enums by name or
number, RFC 3339 timestamps, ``"1.5s"`` durations), and the message is built by protobuf's C
constructor from the converted dicts in one call.

It reads what ``temporalio.client.WorkflowHistory.from_json`` reads, with the same leniency:
unknown fields and unknown enum names are ignored, and the legacy CamelCase enum spelling of the
Web UI's download (``ActivityTaskScheduled``) is accepted for every enum field. An event holding
something the plan does not cover (``Struct``, ``Any``, ``FieldMask``, a malformed value) is
handed to ``json_format`` alone, after temporalio's own enum fixes, so the result is the one
temporalio's parser gives.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import copy
import re
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from temporalio.api.history.v1 import History as HistoryProto
from temporalio.api.history.v1 import HistoryEvent

__all__ = ["parse_history_json"]


class _Fallback(Exception):
    """This value needs json_format."""


_Conv = Callable[[Any], Any]

_INT_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_SFIXED32,
    }
)
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            raise _Fallback from None
    if type(value) is float and value.is_integer():
        return int(value)
    raise _Fallback


def _float(value: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if type(value) is str and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    raise _Fallback


def _bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise _Fallback


def _str(value: Any) -> str:
    if type(value) is str:
        return value
    raise _Fallback


_B64_FIX = str.maketrans("-_", "+/")


_a2b = binascii.a2b_base64


def _bytes(value: Any) -> bytes:
    if type(value) is not str:
        raise _Fallback
    if "-" in value or "_" in value:  # the URL-safe alphabet, which proto3 JSON readers accept
        value = value.translate(_B64_FIX)
    try:
        return _a2b(value)
    except (binascii.Error, ValueError):
        try:  # missing padding, which proto3 JSON readers accept too
            return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise _Fallback from None


_enum_tables: dict[str, dict[str, int]] = {}
_UPPER = re.compile(r"([A-Z]+)")


def _enum(desc: EnumDescriptor) -> _Conv:
    table = _enum_tables.get(desc.full_name)
    if table is None:
        table = {}
        names = [v.name for v in desc.values]
        prefix = _prefix(names)
        for v in desc.values:
            table[v.name] = v.number
            # The legacy spelling: CamelCase of the name without its prefix (temporalio turns
            # it back with prefix + "_"-separated upper case; this is the inverse).
            bare = v.name[len(prefix) :]
            table.setdefault("".join(p.capitalize() for p in bare.split("_")), v.number)
        _enum_tables[desc.full_name] = table
    get = table.get

    def conv(value: Any) -> Any:
        if type(value) is str:
            number = get(value)
            if number is None:
                legacy = _UPPER.sub(r"_\1", value).upper().lstrip("_")
                number = get(legacy)
            return number  # None: unknown name, ignored like json_format's ignore_unknown
        if type(value) is int:
            return value  # proto3 enums are open: json_format keeps unknown numbers too
        raise _Fallback

    return conv


def _prefix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    first = names[0].split("_")
    count = 0
    while count < len(first) - 1 and all(
        n.split("_")[count] == first[count] for n in names if n.count("_") > count
    ):
        count += 1
    return "".join(part + "_" for part in first[:count])


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


_epoch_seconds: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> seconds (a history repeats them)


def _timestamp(value: Any) -> dict[str, int]:
    if type(value) is not str:
        raise _Fallback
    # The form servers write: "2026-12-05T01:30:52.123456789Z" (fraction optional).
    if len(value) >= 20 and value[-1] == "Z" and value[10] == "T" and value[4] == "-":
        head = value[:19]
        seconds = _epoch_seconds.get(head)
        tail = value[19:-1]
        if seconds is not None and (not tail or (tail[0] == "." and tail[1:].isdigit())):
            frac = tail[1:]
            return {"seconds": seconds, "nanos": int(frac.ljust(9, "0")) if frac else 0}
    m = _TIMESTAMP.match(value)
    if m is None:
        raise _Fallback
    year, month, day, hour, minute, second = (int(m.group(k)) for k in range(1, 7))
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        raise _Fallback from None
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        seconds -= offset if m.group(9) == "+" else -offset
    frac = m.group(7)
    nanos = int(frac.ljust(9, "0")) if frac else 0
    if m.group(8) and len(_epoch_seconds) < 100_000:
        _epoch_seconds[value[:19]] = seconds
    return {"seconds": seconds, "nanos": nanos}


_DURATION = re.compile(r"(-)?(\d+)(?:\.(\d{1,9}))?s$")


def _duration(value: Any) -> dict[str, int]:
    if type(value) is not str:
        raise _Fallback
    m = _DURATION.match(value)
    if m is None:
        raise _Fallback
    seconds = int(m.group(2))
    nanos = int(m.group(3).ljust(9, "0")) if m.group(3) else 0
    if m.group(1):
        seconds, nanos = -seconds, -nanos
    return {"seconds": seconds, "nanos": nanos}


_WRAPPERS = frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)
_UNSUPPORTED = frozenset(
    {
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Any",
        "google.protobuf.FieldMask",
        "google.protobuf.Empty",
        "google.protobuf.NullValue",
    }
)

_plans: dict[str, dict[str, tuple[str, _Conv]]] = {}


def _scalar(field: FieldDescriptor) -> _Conv:
    t = field.type
    if t in _INT_TYPES:
        return _int
    if t in _FLOAT_TYPES:
        return _float
    if t == FieldDescriptor.TYPE_BOOL:
        return _bool
    if t == FieldDescriptor.TYPE_STRING:
        return _str
    if t == FieldDescriptor.TYPE_BYTES:
        return _bytes
    if t == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return _enum(field.enum_type)
    if field.message_type is None:  # pragma: no cover - every other type is handled above
        raise TypeError(f"unexpected field type {t} of {field.full_name}")
    return _message(field.message_type)


def _message(desc: Descriptor) -> _Conv:
    name = desc.full_name
    if name == "google.protobuf.Timestamp":
        return _timestamp
    if name == "google.protobuf.Duration":
        return _duration
    if name in _WRAPPERS:
        inner = _scalar(desc.fields_by_name["value"])
        return lambda v: {"value": inner(v)}
    if name == "temporal.api.common.v1.Payload":
        return _payload_conv(desc)
    if name in _UNSUPPORTED:

        def unsupported(_v: Any) -> Any:
            raise _Fallback

        return unsupported

    return _generic(desc)


def _generic(desc: Descriptor) -> _Conv:
    """Convert a message's JSON object by its plan (made on first use)."""
    compiled: list[dict[str, tuple[str, _Conv]]] = []

    def conv(value: Any) -> Any:
        if type(value) is not dict:
            raise _Fallback
        if not compiled:
            compiled.append(_plan(desc))
        plan = compiled[0]
        out: dict[str, Any] = {}
        for key, item in value.items():
            entry = plan.get(key)
            if entry is None or item is None:
                continue  # unknown field (ignored, as temporalio's parser does) or null
            converted = entry[1](item)
            if converted is not None:
                out[entry[0]] = converted
        return out

    return conv


_METADATA_VALUES: dict[str, bytes] = {}
"""base64 text -> bytes of payload metadata values met so far: a history repeats a handful of
encodings and key ids thousands of times."""


def _payload_conv(desc: Descriptor) -> _Conv:
    """Payloads are most of a history's messages: metadata and data are read directly, with
    metadata values cached; a payload with any other field takes the general plan."""
    cache = _METADATA_VALUES
    general: list[_Conv] = []

    def conv(value: Any) -> Any:
        if type(value) is not dict:
            raise _Fallback
        metadata = value.get("metadata")
        data = value.get("data")
        if len(value) != (metadata is not None) + (data is not None):
            if not general:
                general.append(_generic(desc))
            return general[0](value)
        out: dict[str, Any] = {}
        if metadata is not None:
            if type(metadata) is not dict:
                raise _Fallback
            decoded: dict[str, bytes] = {}
            for key, text in metadata.items():
                raw = cache.get(text)
                if raw is None:
                    raw = _bytes(text)
                    if len(cache) < 4096 and len(text) < 256:
                        cache[text] = raw
                decoded[key] = raw
            out["metadata"] = decoded
        if data is not None:
            out["data"] = _bytes(data)
        return out

    return conv


def _plan(desc: Descriptor) -> dict[str, tuple[str, _Conv]]:
    plan = _plans.get(desc.full_name)
    if plan is not None:
        return plan
    plan = {}
    _plans[desc.full_name] = plan  # before the fields: recursive types (Failure.cause)
    for field in desc.fields:
        conv: _Conv
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            conv = _map(field.message_type)
        elif field.is_repeated:
            conv = _repeated(_scalar(field))
        else:
            conv = _scalar(field)
        plan[field.json_name] = (field.name, conv)
        plan.setdefault(field.name, (field.name, conv))
    return plan


def _repeated(item: _Conv) -> _Conv:
    def conv(value: Any) -> Any:
        if type(value) is not list:
            raise _Fallback
        out = [item(v) for v in value]
        if any(v is None for v in out):
            raise _Fallback  # an unknown enum name inside a list: json_format's handling
        return out

    return conv


def _map(entry: Descriptor) -> _Conv:
    key_field = entry.fields_by_name["key"]
    value_conv = _scalar(entry.fields_by_name["value"])
    key_conv: _Conv
    if key_field.type == FieldDescriptor.TYPE_STRING:
        key_conv = _str
    elif key_field.type == FieldDescriptor.TYPE_BOOL:

        def key_conv(k: Any) -> Any:
            if k in ("true", "false"):
                return k == "true"
            raise _Fallback

    else:
        key_conv = _int

    def conv(value: Any) -> Any:
        if type(value) is not dict:
            raise _Fallback
        out = {key_conv(k): value_conv(v) for k, v in value.items()}
        if any(v is None for v in out.values()):
            raise _Fallback
        return out

    return conv


_EVENT = _message(HistoryEvent.DESCRIPTOR)


def parse_history_json(source: str | bytes | dict[str, Any]) -> HistoryProto:
    """Parse history JSON (``{"events": [...]}``) into a ``History`` message.

    Raises:
        ValueError: Not JSON, not an object with an ``events`` list, or an event that
            ``json_format`` rejects too.
    """
    doc = orjson.loads(source) if isinstance(source, (str, bytes)) else source
    if not isinstance(doc, dict):
        raise ValueError("JSON history not a dictionary")
    events = doc.get("events")
    if not isinstance(events, list):
        raise ValueError("History does not have iterable 'events'")
    converted: list[Any] = []
    slow: dict[int, Any] = {}
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValueError("Event not a dictionary")
        try:
            converted.append(_EVENT(event))
        except (_Fallback, ValueError, TypeError, OverflowError, RecursionError):
            converted.append({})
            slow[index] = event
    try:
        history = HistoryProto(events=converted)
    except (ValueError, TypeError):
        # A value the C constructor refuses (e.g. out of range): event by event, so that only
        # the events at fault take the slow path.
        history = HistoryProto()
        for index, item in enumerate(converted):
            try:
                history.events.append(HistoryEvent(**item))
            except (ValueError, TypeError):
                slow[index] = events[index]
                history.events.add()
    for index, event in slow.items():
        history.events[index].CopyFrom(_slow_event(event))
    return history


def _slow_event(event: dict[str, Any]) -> HistoryEvent:
    """One event through temporalio's parser (its enum fixes, then ``json_format``)."""
    from temporalio.client import WorkflowHistory

    parsed = WorkflowHistory.from_json("", {"events": [copy.deepcopy(event)]})
    if not parsed.events:  # pragma: no cover - defensive
        raise json_format.ParseError("event could not be parsed")
    return parsed.events[0]

"""History.from_json's own JSON reader round-trips exactly: every event type (each filled with
non-default values in every field, by its descriptor), the real histories of the scenario's
workers, both enum spellings, and what temporalio's parser reads from the same text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History as HistoryProto
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from test_history import Scenario, scenario  # noqa: F401 - the session fixture

from workbench import History
from workbench.history_json import parse_history_json

_ATTRIBUTES = [f for f in HistoryEvent.DESCRIPTOR.oneofs_by_name["attributes"].fields]


def _fill(message: Message, depth: int, seed: int) -> None:
    """Set every field of ``message`` to a non-default value (one field per oneof)."""
    desc: Descriptor = message.DESCRIPTOR
    name = desc.full_name
    if name == "google.protobuf.Timestamp":
        message.seconds, message.nanos = 1_764_898_252 + seed, 123_456_789  # type: ignore[attr-defined]
        return
    if name == "google.protobuf.Duration":
        message.seconds, message.nanos = 5 + seed, 500_000_000  # type: ignore[attr-defined]
        return
    if name == "google.protobuf.Struct":
        message.update({"k": "v", "n": 1.5, "list": [1.0, "x"]})  # type: ignore[attr-defined]
        return
    if name in ("google.protobuf.Any", "google.protobuf.Empty", "google.protobuf.Value"):
        return
    if name == "google.protobuf.FieldMask":
        message.paths.extend(["a_b", "c"])  # type: ignore[attr-defined]
        return
    seen_oneofs: set[str] = set()
    for field in desc.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in seen_oneofs:
                continue
            seen_oneofs.add(oneof.name)
        _set(message, field, depth, seed)


def _value(field: FieldDescriptor, seed: int) -> Any:
    t = field.type
    if t in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_SINT64,
    ):
        return 2**53 + 7 + seed  # beyond a JSON double's exact range: sent as a string
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return 2**63 + 11 + seed
    if t in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SINT32,
    ):
        return -123_456 - seed
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return 4_000_000_000 + seed
    if t == FieldDescriptor.TYPE_DOUBLE:
        return 1.25 + seed
    if t == FieldDescriptor.TYPE_FLOAT:
        return 0.5
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t == FieldDescriptor.TYPE_STRING:
        return f"héllo ✓ {field.name} {seed}"
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes(range(256))[seed % 7 :] + b"\xff\xfe"  # every byte; + and / in base64
    if t == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return field.enum_type.values[-1].number
    raise AssertionError(t)


def _set(message: Message, field: FieldDescriptor, depth: int, seed: int) -> None:
    if field.message_type is not None:
        if depth <= 0:
            return
        if field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            target = getattr(message, field.name)
            for k in range(2):
                key = _value(key_field, k) if key_field.type != key_field.TYPE_STRING else f"k{k}"
                if value_field.message_type is not None:
                    _fill(target[key], depth - 1, seed + k)
                else:
                    target[key] = _value(value_field, seed + k)
            return
        if field.is_repeated:
            for k in range(2):
                _fill(getattr(message, field.name).add(), depth - 1, seed + k)
            return
        _fill(getattr(message, field.name), depth - 1, seed)
        if not message.HasField(field.name):
            getattr(message, field.name).SetInParent()
        return
    if field.is_repeated:
        getattr(message, field.name).extend([_value(field, seed), _value(field, seed + 1)])
        return
    setattr(message, field.name, _value(field, seed))


def _event_of(attr: FieldDescriptor, index: int) -> HistoryEvent:
    event = HistoryEvent(event_id=index + 1, task_id=2**40 + index, version=3)
    event.event_time.FromNanoseconds(1_764_898_252_123_456_789 + index)
    name = "EVENT_TYPE_" + attr.name.removesuffix("_event_attributes").upper()
    event.event_type = EventType.Value(name) if name in EventType.DESCRIPTOR.values_by_name else 0
    _fill(getattr(event, attr.name), 4, index)
    getattr(event, attr.name).SetInParent()
    return event


@pytest.mark.parametrize("attr", _ATTRIBUTES, ids=lambda f: f.name)
def test_every_event_type_filled_in_every_field_round_trips(attr: FieldDescriptor) -> None:
    event = _event_of(attr, _ATTRIBUTES.index(attr))
    original = HistoryProto(events=[event])
    text = MessageToJson(original)
    assert parse_history_json(text) == original
    # the same as temporalio's parser reads from the text
    assert parse_history_json(text) == HistoryProto(
        events=WorkflowHistory.from_json("", text).events
    )


def _camel_enums(text: str) -> str:
    """The Web UI's legacy spelling: "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" →
    "ActivityTaskScheduled", and likewise the other enums temporalio fixes."""

    def camel(m: re.Match[str]) -> str:
        prefix, rest = m.group(1), m.group(2)
        return f'"{prefix}": "' + "".join(p.capitalize() for p in rest.split("_")) + '"'

    text = re.sub(r'"(eventType)": "EVENT_TYPE_([A-Z_]+)"', camel, text)
    return re.sub(r'"(retryState)": "RETRY_STATE_([A-Z_]+)"', camel, text)


def test_the_real_histories_round_trip_with_either_enum_spelling(scenario: Scenario) -> None:  # noqa: F811
    from test_history import full_chain

    import workbench

    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        histories = [
            s.history(scenario.workflow_id, run_id=r) for r in (scenario.run1, scenario.run2)
        ]
    for h in histories:
        text = h.to_json()
        assert parse_history_json(text) == h.raw
        legacy = _camel_enums(text)
        assert legacy != text
        assert parse_history_json(legacy) == h.raw
        assert parse_history_json(legacy) == HistoryProto(
            events=WorkflowHistory.from_json("", legacy).events
        )
        back = History.from_json(legacy, codec=full_chain())
        assert back.raw == h.raw and back.events.equals(h.events)
    kinds = {e.event_type for h in histories for e in h.raw.events}
    assert len(kinds) >= 19  # the kinds the scenario's workers write


def test_bad_json_is_named() -> None:
    with pytest.raises(workbench_errors().HistoryFormatError, match="not a workflow history"):
        History.from_json('{"events": 3}')
    with pytest.raises(workbench_errors().HistoryFormatError, match="not a workflow history"):
        History.from_json('{"events": [')
    assert json.loads(MessageToJson(HistoryProto())) == {}


def workbench_errors() -> Any:
    import workbench

    return workbench

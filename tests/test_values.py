"""Payload -> value through temporalio's converters (default and user-supplied)."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.converter import (
    BinaryProtoPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadConverter,
)

from workbench.values import payload_value, payload_values

CONVERTER = DataConverter.default.payload_converter
EXECUTION = WorkflowExecution(workflow_id="order-17", run_id="5f0c-run")


def test_default_encodings() -> None:
    values: list[Any] = [{"a": [1, 2.5, None, True]}, "text", 42, None, b"\x00\x01raw"]
    payloads = CONVERTER.to_payloads(values)
    assert [p.metadata["encoding"] for p in payloads] == [
        b"json/plain", b"json/plain", b"json/plain", b"binary/null", b"binary/plain"
    ]  # fmt: skip
    assert payload_values(payloads) == [(v, None) for v in values]
    assert payload_value(payloads[3]) == (None, None)  # a None value is not an error


def test_json_protobuf_becomes_a_dict_or_the_message() -> None:
    (payload,) = CONVERTER.to_payloads([EXECUTION])
    assert payload.metadata["encoding"] == b"json/protobuf"
    assert payload.metadata["messageType"] == b"temporal.api.common.v1.WorkflowExecution"
    assert payload_value(payload) == ({"workflowId": "order-17", "runId": "5f0c-run"}, None)
    assert payload_value(payload, messages="message") == (EXECUTION, None)


def test_binary_protobuf_becomes_a_dict_or_the_message() -> None:
    payload = BinaryProtoPayloadConverter().to_payload(EXECUTION)
    assert payload is not None and payload.metadata["encoding"] == b"binary/protobuf"
    assert payload_value(payload) == ({"workflowId": "order-17", "runId": "5f0c-run"}, None)
    value, error = payload_value(payload, messages="message")
    assert error is None and isinstance(value, WorkflowExecution) and value == EXECUTION


def test_protobuf_of_a_type_not_imported_here() -> None:
    data = b'{"orderId":"o-1","total":3}'
    json_proto = Payload(
        metadata={"encoding": b"json/protobuf", "messageType": b"acme.orders.v1.Order"},
        data=data,
    )
    # Its proto3 JSON is still JSON: shown as a dict.
    assert payload_value(json_proto) == ({"orderId": "o-1", "total": 3}, None)
    binary_proto = Payload(
        metadata={"encoding": b"binary/protobuf", "messageType": b"acme.orders.v1.Order"},
        data=b"\x0a\x03o-1",
    )
    value, error = payload_value(binary_proto)
    assert value is None and error is not None
    assert "unknown protobuf type 'acme.orders.v1.Order'" in error
    assert "import the module that defines it" in error


def test_corrupt_payloads_give_reasons_not_exceptions() -> None:
    batch = [
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1'),
        Payload(metadata={"encoding": b"json/plain"}, data=b"\xff\xfe\xfa"),
        Payload(metadata={"encoding": b"binary/null"}, data=b"not empty"),
        Payload(
            metadata={
                "encoding": b"binary/protobuf",
                "messageType": b"temporal.api.common.v1.WorkflowExecution",
            },
            data=b"\xff\xff\xff",
        ),
        Payload(metadata={"encoding": b"binary/encrypted"}, data=b"..."),
        Payload(data=b"no metadata at all"),
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"ok": true}'),
    ]
    results = payload_values(batch)
    assert [value for value, _ in results[:-1]] == [None] * 6
    errors = [error or "" for _, error in results]
    assert "json/plain payload is not valid JSON" in errors[0]
    assert "Expecting" in errors[0]  # the JSON parser's own words say where
    assert "json/plain payload is not valid JSON" in errors[1]
    assert "binary/null payload could not be converted" in errors[2]
    assert "binary/protobuf payload could not be converted" in errors[3]
    assert "no payload converter reads encoding 'binary/encrypted'" in errors[4]
    assert "decode it with a codec first" in errors[4]
    assert "'<none>'" in errors[5]
    assert results[-1] == ({"ok": True}, None)


def test_deeply_nested_json_gives_a_reason_not_a_recursion_error() -> None:
    # Valid JSON, nested deeper than Python's recursion limit lets json.loads go.
    deep = Payload(metadata={"encoding": b"json/plain"}, data=b"[" * 100_000 + b"]" * 100_000)
    ok = Payload(metadata={"encoding": b"json/plain"}, data=b"[[1]]")
    (value, error), good = payload_values([deep, ok])
    assert value is None
    assert (error or "").startswith("json/plain payload is nested too deeply to convert")
    assert "RecursionError" in (error or "")
    assert good == ([[1]], None)


def test_values_match_the_sdk_for_awkward_json() -> None:
    """The json/plain fast path must agree with the SDK converter on every input it takes,
    and hand everything else to it."""
    documents = [
        b'{"k": "caf\\u00e9", "big": 123456789012345678901234567890, "f": 1e-7}',
        '{"k": "caf\u00e9 \u2603 \U0001f600"}'.encode(),
        b"  [1, 2]\n",
        b"\xef\xbb\xbf[3]",
        '"utf16"'.encode("utf-16"),
        b"NaN",
        b"-Infinity",
        b'"\\ud83d\\ude00"',
        b"0",
        b"[]",
        b"{}",
    ]
    payloads = [Payload(metadata={"encoding": b"json/plain"}, data=d) for d in documents]
    expected = CONVERTER.from_payloads(payloads)
    got = payload_values(payloads)
    assert all(error is None for _, error in got)
    assert json.dumps([v for v, _ in got]) == json.dumps(expected)


class UpperText(EncodingPayloadConverter):
    """A user's converter for an encoding of their own."""

    @property
    def encoding(self) -> str:
        return "text/upper"

    def to_payload(self, value: Any) -> Payload | None:
        if isinstance(value, str):
            return Payload(metadata={"encoding": b"text/upper"}, data=value.upper().encode())
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return payload.data.decode().lower()


class Decimals(json.JSONDecoder):
    def __init__(self, **kwargs: Any) -> None:
        from decimal import Decimal

        super().__init__(parse_float=Decimal, **kwargs)


def test_custom_composite_converter() -> None:
    from decimal import Decimal

    custom = CompositePayloadConverter(
        UpperText(),
        *DefaultPayloadConverter.default_encoding_payload_converters[:-1],
        JSONPlainPayloadConverter(decoder=Decimals),
    )
    payloads = [
        Payload(metadata={"encoding": b"text/upper"}, data=b"HELLO"),
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"price": 1.10}'),
    ]
    assert payload_values(payloads, custom) == [
        ("hello", None),
        ({"price": Decimal("1.10")}, None),  # the user's decoder, not the default one
    ]
    # The default converter does not know the user's encoding.
    value, error = payload_value(payloads[0])
    assert value is None and "no payload converter reads encoding 'text/upper'" in (error or "")


class Reversing(PayloadConverter):
    """A PayloadConverter that is not a composite: only from_payloads can be asked."""

    def to_payloads(self, values: Any) -> list[Payload]:
        return [
            Payload(metadata={"encoding": b"x/rev"}, data=str(v)[::-1].encode()) for v in values
        ]

    def from_payloads(self, payloads: Any, type_hints: Any = None) -> list[Any]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != b"x/rev":
                raise KeyError(f"Unknown payload encoding {p.metadata.get('encoding')!r}")
            out.append(p.data.decode()[::-1])
        return out


def test_plain_payload_converter() -> None:
    converter = Reversing()
    payloads = [*converter.to_payloads(["abc", "xyz"]), *CONVERTER.to_payloads([1])]
    results = payload_values(payloads, converter)
    assert results[:2] == [("abc", None), ("xyz", None)]
    assert results[2][0] is None and "Unknown payload encoding" in (results[2][1] or "")


def test_a_data_converter_stands_for_its_payload_converter() -> None:
    data_converter = DataConverter(payload_converter_class=Reversing)
    (payload,) = Reversing().to_payloads(["abc"])
    assert payload_value(payload, data_converter) == ("abc", None)

"""workbench._wire reads records the way protobuf does, or declines.

Buffers are serialized by protobuf itself (a message with two repeated ``bytes`` fields, so the
records carry the tags 0x0A and 0x12 that search-attribute keys and values carry). Whatever the
contents — tag bytes, varint continuation bytes, lengths at the one/two/three-byte varint
boundaries — the reader either returns exactly what protobuf would read or ``None``; for the
contents a server actually sends (identifier keys, JSON values) it must not decline.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pandas as pd
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsResponse
from temporalio.converter import DataConverter

from workbench import _wire, frames

Columns = frames._VIEWS["PayloadColumns"]  # metadata = 1, data = 2: repeated bytes
BOUNDARY_LENGTHS = [0, 1, 9, 10, 17, 18, 127, 128, 129, 2304, 16383, 16384, 20000]
IDENTIFIER = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _contents(rng: random.Random, kind: str, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        if kind == "identifiers":
            out.append(bytes(rng.choices(IDENTIFIER, k=rng.randint(1, 30))))
        elif kind == "json":
            value: Any = rng.choice(
                [rng.randint(-(2**40), 2**40), rng.random(), True, None, "x" * rng.randint(0, 300)]
            )
            out.append(json.dumps(value).encode())
        elif kind == "boundaries":
            out.append(bytes(rng.choices(IDENTIFIER, k=rng.choice(BOUNDARY_LENGTHS))))
        else:  # "any": every byte value, tag bytes and continuation bytes included
            out.append(bytes(rng.choices(range(256), k=rng.choice(BOUNDARY_LENGTHS[:9]))))
    return out


@pytest.mark.parametrize("field", ["metadata", "data"])
@pytest.mark.parametrize("kind", ["identifiers", "json", "boundaries", "any"])
def test_records_are_read_as_protobuf_reads_them_or_not_at_all(field: str, kind: str) -> None:
    tag = 0x0A if field == "metadata" else 0x12
    rng = random.Random(f"{field}-{kind}")
    found = 0
    for trial in range(60):
        most = 80 if kind in ("identifiers", "json") else 6
        contents = _contents(rng, kind, rng.randint(1, most))
        buf = Columns(**{field: contents}).SerializeToString()
        records = _wire.record_spans(buf, tag, len(contents))
        if records is None:
            # Declining is allowed only for contents a server does not send.
            assert kind == "any" or (kind == "boundaries" and max(map(len, contents)) > 16383)
            continue
        found += 1
        read = [buf[s : s + n] for s, n in zip(records.starts, records.lengths, strict=True)]
        assert read == contents, trial
        assert records.end == len(buf)
        assert _wire.record_spans(buf, tag, len(contents) + 1) is None  # the count is checked
    assert found >= {"identifiers": 60, "json": 60, "boundaries": 10, "any": 1}[kind]


def test_a_prefix_of_records_followed_by_another_field() -> None:
    rng = random.Random(7)
    for _ in range(40):
        keys = _contents(rng, "identifiers", rng.randint(1, 50))
        tail = [json.dumps(list(range(rng.randint(0, 200)))).encode()]
        buf = Columns(metadata=keys, data=tail).SerializeToString()
        records = _wire.record_spans(buf, 0x0A, len(keys), prefix=True)
        assert records is not None
        read = [buf[s : s + n] for s, n in zip(records.starts, records.lengths, strict=True)]
        assert read == keys
        start = _wire.message_record(buf, records.end, 0x12)
        assert start is not None and buf[start:] == tail[0]
        assert _wire.record_spans(buf, 0x0A, len(keys)) is None  # not a prefix: it must fill buf
        assert _wire.message_record(buf[:-1], records.end, 0x12) is None  # a cut record


def test_equal_contents_are_numbered_exactly() -> None:
    # Names that share prefixes, lengths on and around the 8-byte words, and one of 64 bytes.
    names = [b"Wb", b"WbIn", b"WbInt", b"WbInt2", b"WbIn2", b"A" * 8, b"A" * 9, b"A" * 7]
    names += [b"B" * 16, b"B" * 15 + b"C", b"x" * 64, b"", b"A" * 7 + b"\x00"]
    rng = random.Random(3)
    keys = [rng.choice(names) for _ in range(3000)]
    buf = Columns(metadata=keys).SerializeToString()
    records = _wire.record_spans(buf, 0x0A, len(keys))
    assert records is not None
    numbered = _wire.equal_contents(buf, records)
    assert numbered is not None
    distinct, codes = numbered
    assert [distinct[c] for c in codes] == keys
    assert distinct == list(dict.fromkeys(keys))  # in order of first occurrence
    # Two keys built to share a fingerprint: the comparison of the contents tells them apart.
    a = b"A" * 16
    mix, mask, c = 16 * 0x100000001B3, 2**64 - 1, 0x100000001B3
    fingerprint = (((mix ^ int.from_bytes(a[:8], "little")) * c) & mask) ^ int.from_bytes(
        a[8:], "little"
    )
    for first in range(1, 1000):
        head = first.to_bytes(8, "little")
        rest = fingerprint ^ (((mix ^ first) * c) & mask)
        b = head + rest.to_bytes(8, "little")
        if 0x0A not in b:
            break
    colliding = [a, b, a, b]
    buf = Columns(metadata=colliding).SerializeToString()
    records = _wire.record_spans(buf, 0x0A, 4)
    assert records is not None
    numbered = _wire.equal_contents(buf, records)
    assert numbered is None or [numbered[0][i] for i in numbered[1]] == colliding
    for alike in ([b""] * 3, [b"k"] * 2):  # tiny buffers: words read past their end are padded
        buf = Columns(metadata=alike).SerializeToString()
        records = _wire.record_spans(buf, 0x0A, len(alike))
        assert records is not None
        numbered = _wire.equal_contents(buf, records)
        assert numbered is not None
        assert (numbered[0], numbered[1].tolist()) == ([alike[0]], [0] * len(alike))
    long = [b"y" * 65, b"z"]
    buf = Columns(metadata=long).SerializeToString()
    records = _wire.record_spans(buf, 0x0A, 2)
    assert records is not None and _wire.equal_contents(buf, records) is None


def test_contents_joined_as_one_json_array() -> None:
    rng = random.Random(11)
    docs = [*_contents(rng, "json", 500), b"[1, 2]", b"{}", '"ünï"'.encode()]
    buf = Columns(data=docs).SerializeToString()
    records = _wire.record_spans(buf, 0x12, len(docs))
    assert records is not None
    assert json.loads(bytes(_wire.json_array(buf, records))) == [json.loads(d) for d in docs]


def test_string_records_become_arrow_strings() -> None:
    """Ids as the merged view serializes them (workflow ids, then run ids) read into Arrow
    arrays, the second field through a view of the buffer past the first. Non-ASCII letters
    inside the ids; one at the end of an id may make the reader decline (its last byte looks
    like a varint continuation byte), never read wrong."""
    rng = random.Random(5)
    inner, ascii_ = "abcXYZ-_.:/ üñïçødé漢字🙂", "abcXYZ0123456789-_"
    found = 0
    for trial in range(60):
        n = rng.randint(2, 300)
        wids = [
            "".join(rng.choices(inner, k=rng.choice(BOUNDARY_LENGTHS[:10]))) + rng.choice(ascii_)
            for _ in range(n)
        ]
        rids = ["".join(rng.choices(ascii_, k=rng.randint(0, 40))) for _ in range(n)]
        if trial % 6 == 0:
            wids[0] += "é"  # ends with a non-ASCII letter
        buf = frames._Executions(workflow_id=wids, run_id=rids).SerializeToString()
        first = _wire.record_spans(buf, 0x0A, n, prefix=True)
        if first is None:
            assert trial % 6 == 0, trial
            continue
        found += 1
        rest = memoryview(buf)[first.end :]
        second = _wire.record_spans(rest, 0x12, n)
        assert second is not None, trial
        assert _wire.record_strings(buf, first).to_pylist() == wids
        assert _wire.record_strings(rest, second).to_pylist() == rids
        nulls = _wire.record_strings(rest, second, empty_as_null=True).to_pylist()
        assert nulls == [r or None for r in rids]
    assert found >= 50


def _page(values: list[dict[str, Any]]) -> list[Any]:
    conv = DataConverter.default.payload_converter
    out = []
    for i, attributes in enumerate(values):
        e = WorkflowExecutionInfo(status=2)
        e.execution.workflow_id, e.execution.run_id = f"w-{i}", f"r-{i}"
        for name, (type_name, value) in attributes.items():
            p = e.search_attributes.indexed_fields[name]
            p.CopyFrom(conv.to_payloads([value])[0])
            p.metadata["type"] = type_name.encode()
        out.append(e)
    return out


@pytest.mark.parametrize(
    "shape", ["plain", "value over 16 KiB", "name over 64 bytes", "control characters"]
)
def test_search_attributes_read_through_numpy_or_protobuf_alike(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = []
    for i in range(30):
        attributes: dict[str, Any] = {
            "Kw": ("Keyword", f"k{i % 4}"),
            "Text": ("Text", "t" * (i * 5)),  # lengths across the one/two-byte varint boundary
            "N": ("Int", i - 3),
            "Tags": ("KeywordList", ["a", f"b{i}"]),
        }
        if shape == "value over 16 KiB" and i == 4:
            attributes["Text"] = ("Text", "long " * 4000)
        if shape == "name over 64 bytes":
            attributes["N" * 70] = ("Double", i / 4)
        if shape == "control characters" and i == 2:
            attributes["Text"] = ("Text", "\x12\n\x80 ünï")  # escaped in JSON: \u0012, \n
        rows.append(attributes)
    execs = _page(rows)
    data = ListWorkflowExecutionsResponse(executions=execs).SerializeToString()
    page = frames.ListPage(data)
    entries = page.merged.search_attributes.indexed_fields
    numbered = frames._numbered_entries(entries, len(entries.key))
    assert (numbered is not None) == (shape in ("plain", "control characters"))
    fast = frames.workflows_frame([frames.ListPage(data)])
    monkeypatch.setattr(_wire, "record_spans", lambda *a, **k: None)  # protobuf's reading
    slow = frames.workflows_frame([frames.ListPage(data)])
    pd.testing.assert_frame_equal(fast, slow)
    for i, e in enumerate(execs):
        want = frames.decode_search_attributes(e.search_attributes.indexed_fields)
        for name, value in want.items():
            got = fast.loc[i, name]
            assert (list(got) if name == "Tags" else got) == value, (i, name)


def test_an_unknown_payload_field_does_not_hide_the_values() -> None:
    execs = _page([{"Kw": ("Keyword", f"k{i}")} for i in range(5)])
    for e in execs:  # a field this version of the views does not know, on every value
        e.search_attributes.indexed_fields["Kw"].MergeFromString(b"\x7a\x03abc")
    payload = execs[0].search_attributes.indexed_fields["Kw"]
    assert isinstance(payload, Payload)
    data = ListWorkflowExecutionsResponse(executions=execs).SerializeToString()
    df = frames.workflows_frame([frames.ListPage(data)])
    assert df.Kw.tolist() == [f"k{i}" for i in range(5)]


def test_integers_beyond_64_bits_keep_their_exact_value() -> None:
    # orjson, which reads the page's values, gives such integers as floats: they are read again.
    values = [b"7", b"18446744073709551617", b"-9223372036854775809"]
    execs = _page([{} for _ in values])
    for e, data in zip(execs, values, strict=True):
        for name, type_name, payload in (
            ("N", b"Int", data),
            ("Blob", b"Unregistered", b'{"n": ' + data + b"}"),
        ):
            p = e.search_attributes.indexed_fields[name]
            p.metadata["encoding"], p.metadata["type"], p.data = b"json/plain", type_name, payload
    data = ListWorkflowExecutionsResponse(executions=execs).SerializeToString()
    df = frames.workflows_frame([frames.ListPage(data)])
    want = [7, 2**64 + 1, -(2**63) - 1]
    assert df.N.tolist() == want and all(type(v) is int for v in df.N)
    assert [v["n"] for v in df.Blob] == want
    described = frames.decode_search_attributes(execs[1].search_attributes.indexed_fields)
    assert described["N"] == 2**64 + 1 and type(described["N"]) is int

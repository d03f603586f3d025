"""Pure conversions: ``WorkflowExecutionInfo`` protobufs → pandas DataFrames with a fixed schema.

Nothing here talks to a server. The listing is built column by column straight from the protobuf
fields — no ``MessageToDict``, no dict per row, no SDK objects — because at the wire speed of a
real cluster the client's CPU is the whole cost of a listing. A page is parsed once into a
*merged view* (message types declared here with Temporal's field numbers, see "wire views"
below) that hands back every field of every row as one list, so most columns cost one C-level
parse and no Python work per row; a column the merged view cannot line up with the rows is read
row by row instead. Search-attribute keys and values, eight or so per row, are read from the
merged view serialized again, with numpy (:mod:`workbench._wire`): no ``bytes`` object per entry,
one JSON parse per page. :class:`ListPage` is the deserializer to give ``ListWorkflowExecutions``.

Workflow listing schema (:data:`WORKFLOW_COLUMNS`, in this order, then search attributes)
------------------------------------------------------------------------------------------

========================  ==========================  =============================================
column                    dtype                       meaning
========================  ==========================  =============================================
workflow_id               str                         the workflow id
run_id                    str                         the run id
workflow_type             str                         the workflow type name
status                    category                    :data:`STATUS_NAMES` (all categories always
                                                      present, in that order)
start_time                datetime64[ns, UTC]         when the run started
execution_time            datetime64[ns, UTC]         when its first task could run (start time
                                                      plus any start delay or cron wait)
close_time                datetime64[ns, UTC]         when it closed; NaT while running
duration                  timedelta64[ns]             ``close_time - start_time``; NaT while
                                                      running
task_queue                str                         the workflow's task queue
history_length            int64                       events in its history
history_size_bytes        int64                       size of its history
state_transition_count    int64                       state transitions so far
parent_workflow_id        str                         the parent's id; NaN for a top-level run
parent_run_id             str                         the parent's run id; NaN for a top-level run
root_workflow_id          str                         the root of its parent chain (itself for a
                                                      top-level run); NaN if the server omits it
root_run_id               str                         the root's run id
memo                      object                      ``dict`` key → decoded value; ``None`` when
                                                      the run has no memo. A value that could not
                                                      be decoded is ``None`` and its key is named
                                                      in ``memo_error``
memo_error                str                         ``"key: error; key2: error"`` for the memo
                                                      values that failed to decode; NaN when all
                                                      decoded (the usual case)
========================  ==========================  =============================================

Then one column per search attribute present in the listing, sorted by name, typed from the
``type`` metadata the server puts on every search-attribute payload:

============  ======================  ========================================================
type          dtype                   missing value (the run does not set it)
============  ======================  ========================================================
Keyword       str                     NaN
Text          str                     NaN
Int           Int64                   <NA>
Double        float64                 NaN
Bool          boolean                 <NA>
Datetime      datetime64[us, UTC]     NaT
KeywordList   object (``list[str]``)  None
(other)       object (JSON value)     None
============  ======================  ========================================================

Datetime columns are in microseconds, which hold every year from 1 to 9999: Go's zero time
``0001-01-01T00:00:00Z`` and a far-future ``9999-12-31`` keep their values, and the pages of a
listing always agree on the unit (``pd.concat`` of :func:`~workbench.workflows.iter_workflows`
pages works). Digits beyond the microsecond (an Elasticsearch visibility store keeps
nanoseconds) are dropped.

An Int value just beyond int64, as the dev server's SQLite visibility returns the extremes of
int64 (``-9223372036854776000``: rounded through float64), becomes the nearest int64.

System search attributes the server reports (e.g. ``BuildIds``) are columns like any other. A
search attribute whose name clashes with a fixed column is named ``sa.<name>``.

Text columns use pandas' default string dtype (``"str"``, which also compares equal to
``"string"``), stored in Arrow: the id columns are built from the wire bytes without a Python
string per id, and a column whose rows all hold the same text (the type, the task queue, often)
without a string per row. ``memo_error`` is the exception, kept in Python objects: its rows
often share one long text (every memo no codec can decrypt), which Python shares and Arrow would
copy once per row. An empty result has exactly the :data:`WORKFLOW_COLUMNS` with these dtypes
and zero rows.

Memo column: one ``dict`` per row, key → decoded value, so ``df.memo.str.get("customer")``
picks a key; a value that failed to decode is ``None`` and the failure is spelled out in
``memo_error`` (kept out of the dict so that its values stay the user's own).

Memo decoding is pluggable: every function takes ``decode_memo``, a callable from a sequence of
``Payload`` to one ``(value, error)`` pair per payload (``error`` is ``None`` on success). The
default, :func:`default_decode_memo`, uses temporalio's default payload converter; the session
passes its codec chain (e.g. AES-GCM) when one is configured. A decoder never makes a row
disappear: if it raises, every payload it was given is marked with that error. A page's memo
values are read as columns (data, encoding, key id); a decoder with a ``plan``
(:data:`MemoPlan`) handles whole groups of one shape at once (``json/plain`` read in one pass,
one error text for every payload it cannot decode), and sees ``Payload`` messages only for the
rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from pandas.api.types import infer_dtype
from pandas.errors import OutOfBoundsDatetime
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.enums.v1 import (
    ParentClosePolicy,
    PendingActivityState,
    WorkflowExecutionStatus,
)
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsResponse
from temporalio.converter import DataConverter

from . import _wire
from ._enums import enum_labels
from ._gc import gc_paused
from .values import json_plain_scanner

__all__ = [
    "PENDING_ACTIVITY_COLUMNS",
    "PENDING_CHILD_COLUMNS",
    "SEARCH_ATTRIBUTE_DTYPES",
    "STATUS_NAMES",
    "WORKFLOW_COLUMNS",
    "DecodeMemo",
    "ListPage",
    "MemoPlan",
    "PageColumns",
    "decode_search_attributes",
    "default_decode_memo",
    "empty_workflows_frame",
    "page_columns",
    "pending_activities_frame",
    "pending_children_frame",
    "workflows_frame",
]

DecodeMemo = Callable[[Sequence[Payload]], list[tuple[Any, str | None]]]
"""Decodes payloads to ``(value, error)`` pairs, one per payload, never raising.

A decoder may also have a ``plan`` method (:data:`MemoPlan`) that lets a page's memo values be
decoded by whole groups of one encoding, without a ``Payload`` message each."""

MemoPlan = Callable[[bytes, bytes | None], tuple[str, Any] | None]
"""``plan(encoding, key_id)``: how the decoder treats every payload of that ``encoding`` (and,
for ``binary/encrypted``, that ``encryption-key-id``): ``("error", text)`` when it cannot decode
them (each gets ``text``), ``("json", scan)`` when their ``data`` is JSON read by ``scan`` (a
``json`` scanner: ``scan(text, 0) -> (value, end)``; data it does not read whole goes to the
decoder itself), or ``None`` when the decoder must see each ``Payload``."""

_STATUS_LABELS = enum_labels(WorkflowExecutionStatus, "WORKFLOW_EXECUTION_STATUS_")
STATUS_NAMES: tuple[str, ...] = tuple(
    _STATUS_LABELS[code] for code in sorted(_STATUS_LABELS) if code != 0
)
"""Categories of ``status``, in the order of Temporal's enum: Running, Completed, Failed,
Canceled, Terminated, ContinuedAsNew, TimedOut, Paused."""

WORKFLOW_COLUMNS: tuple[str, ...] = (
    "workflow_id",
    "run_id",
    "workflow_type",
    "status",
    "start_time",
    "execution_time",
    "close_time",
    "duration",
    "task_queue",
    "history_length",
    "history_size_bytes",
    "state_transition_count",
    "parent_workflow_id",
    "parent_run_id",
    "root_workflow_id",
    "root_run_id",
    "memo",
    "memo_error",
)
"""The fixed columns of a workflow listing, in order (search attributes follow)."""

SEARCH_ATTRIBUTE_DTYPES: Mapping[str, str] = {
    "Keyword": "str",
    "Text": "str",
    "Int": "Int64",
    "Double": "float64",
    "Bool": "boolean",
    "Datetime": "datetime64[ns, UTC]",
    "KeywordList": "object",
}
"""Column dtype for each search-attribute ``type``; any other type gives ``object``."""

_STRING_FIELDS = ("workflow_id", "run_id", "workflow_type", "task_queue")
_OPTIONAL_STRING_FIELDS = ("parent_workflow_id", "parent_run_id", "root_workflow_id", "root_run_id")
_INT_FIELDS = ("history_length", "history_size_bytes", "state_transition_count")
_TIME_FIELDS = ("start_time", "execution_time", "close_time")
_NAT = np.iinfo(np.int64).min
_ENCODING_KEY = "encoding"
_KEY_ID_KEY = "encryption-key-id"
_ENCRYPTED = b"binary/encrypted"
_JSON_PLAIN = b"json/plain"
_NS = 1_000_000_000
_KEY_TAG, _VALUE_TAG, _DATA_TAG = 0x0A, 0x12, 0x12  # fields 1 and 2, length-delimited
_WORKFLOW_ID_TAG, _RUN_ID_TAG = 0x0A, 0x12  # WorkflowExecution's fields 1 and 2
_LARGE_STRING = pa.large_string()  # what pandas stores its "str" columns in
_SHARED_STR = pd.StringDtype("python", na_value=np.nan)  # "str", in Python objects


# ------------------------------------------------------------------------------ memo decoding
class _DefaultMemoDecoder:
    """:func:`default_decode_memo`: a function with a :data:`MemoPlan`."""

    def __call__(self, payloads: Sequence[Payload]) -> list[tuple[Any, str | None]]:
        """Decode payloads with temporalio's default payload converter, one ``(value, error)``
        each.

        A payload the converter cannot read (an unknown encoding such as ``binary/encrypted`` —
        that needs a codec — or malformed JSON) gives ``(None, "<why>")``; this never raises.
        """
        converter = DataConverter.default.payload_converter
        known = _known_encodings()
        out: list[tuple[Any, str | None]] = []
        for p in payloads:
            metadata = p.metadata
            encoding = metadata.get("encoding", b"")
            if known is not None and encoding not in known:
                key_id = metadata.get("encryption-key-id", b"")
                out.append((None, _unknown_encoding(encoding, key_id)))
                continue
            try:
                out.append((converter.from_payloads([p])[0], None))
            except Exception as e:
                cause = e.__cause__
                out.append((None, f"{e}: {cause}" if cause is not None else str(e)))
        return out

    def plan(self, encoding: bytes, key_id: bytes | None) -> tuple[str, Any] | None:
        """The :data:`MemoPlan` of the default converter."""
        if encoding == _JSON_PLAIN:
            scan = json_plain_scanner(None)
            return None if scan is None else ("json", scan)
        known = _known_encodings()
        if known is None or encoding in known:
            return None
        return ("error", _unknown_encoding(encoding, key_id or b""))


default_decode_memo = _DefaultMemoDecoder()
"""Decode payloads with temporalio's default payload converter, one ``(value, error)`` each.

A payload the converter cannot read (an unknown encoding such as ``binary/encrypted`` — that
needs a codec — or malformed JSON) gives ``(None, "<why>")``; this never raises."""


@cache
def _known_encodings() -> frozenset[bytes] | None:
    """Encodings the default converter reads (it raises on the others; checking is cheaper)."""
    cls = DataConverter.default.payload_converter_class
    try:
        converters = getattr(cls(), "converters", None)
    except Exception:  # a converter class that needs arguments: just try each payload
        return None
    return frozenset(converters) if converters is not None else None


@cache
def _unknown_encoding(encoding: bytes, key_id_bytes: bytes) -> str:
    name = encoding.decode("utf-8", "replace") or "(none)"
    if encoding == b"binary/encrypted":
        key_id = key_id_bytes.decode("utf-8", "replace")
        return (
            f"payload is encrypted (binary/encrypted, key id {key_id!r}): configure the "
            "session's encryption codec with that key to decode it"
        )
    return f"payload encoding {name!r} is unknown to the default converter: configure a codec"


def _safe_decode(decode: DecodeMemo, payloads: Sequence[Payload]) -> list[tuple[Any, str | None]]:
    """Run a decoder under the never-raise, one-result-per-payload contract."""
    try:
        results = decode(payloads)
    except Exception as e:
        err = f"memo decoder failed: {type(e).__name__}: {e}"
        return [(None, err)] * len(payloads)
    if len(results) != len(payloads):
        err = f"memo decoder returned {len(results)} results for {len(payloads)} payloads"
        return [(None, err)] * len(payloads)
    return list(results)


# ------------------------------------------------------------------------------ wire views
# A page is parsed into *views*: message types declared here with the field numbers and wire
# types of Temporal's messages, so they read the same bytes. Two facts of the protobuf encoding
# make a whole page's columns come out of one C-level parse, without a Python object per row:
#
# 1. A singular message field that occurs several times is *merged*, and a ``repeated`` field
#    collects every occurrence in order. Declaring ``executions`` singular and every field of a
#    row ``repeated`` (:data:`_MergedPage`) therefore yields one list per field: all the workflow
#    ids in row order, all the start-time seconds, all the search-attribute keys and values, …
# 2. A field left at its zero value is not written. A column whose length is the row count is
#    aligned with the rows; one that is shorter (close times of running runs, parents of
#    top-level runs, a search attribute only some runs set) is read again through the per-row
#    view :data:`ListPage`, whose sub-messages are plain ``bytes`` so that it parses cheaply.
#
# Every fast path is guarded by such a count check; the per-row paths are always correct.
_T = descriptor_pb2.FieldDescriptorProto
_VIEWS_PACKAGE = "workbench.wireviews"
_B, _S, _I32, _I64, _M = (
    _T.TYPE_BYTES,
    _T.TYPE_STRING,
    _T.TYPE_INT32,
    _T.TYPE_INT64,
    _T.TYPE_MESSAGE,
)
_ONE, _MANY = _T.LABEL_OPTIONAL, _T.LABEL_REPEATED
_P = f".{_VIEWS_PACKAGE}."
_VIEW_SPECS: dict[str, list[tuple[str, int, int, int, str]]] = {
    # message: [(field, number, type, label, message type)]
    # -- per row: ListWorkflowExecutionsResponse / WorkflowExecutionInfo
    "ListPage": [
        ("executions", 1, _M, _MANY, _P + "Row"),
        ("next_page_token", 2, _B, _ONE, ""),
    ],
    "Row": [
        ("execution", 1, _B, _ONE, ""),
        ("type", 2, _B, _ONE, ""),
        ("start_time", 3, _B, _ONE, ""),
        ("close_time", 4, _B, _ONE, ""),
        ("status", 5, _I32, _ONE, ""),
        ("history_length", 6, _I64, _ONE, ""),
        ("parent_execution", 8, _B, _ONE, ""),
        ("execution_time", 9, _B, _ONE, ""),
        ("memo", 10, _B, _ONE, ""),
        ("search_attributes", 11, _B, _ONE, ""),
        ("task_queue", 13, _S, _ONE, ""),
        ("state_transition_count", 14, _I64, _ONE, ""),
        ("history_size_bytes", 15, _I64, _ONE, ""),
        ("root_execution", 18, _B, _ONE, ""),
    ],
    # -- all rows merged: one list per field
    "MergedPage": [("executions", 1, _M, _ONE, _P + "MergedRows")],
    "MergedRows": [
        ("execution", 1, _M, _ONE, _P + "Executions"),
        ("type", 2, _M, _ONE, _P + "Names"),
        ("start_time", 3, _M, _ONE, _P + "Timestamps"),
        ("close_time", 4, _M, _ONE, _P + "Timestamps"),
        ("status", 5, _I32, _MANY, ""),
        ("history_length", 6, _I64, _MANY, ""),
        ("parent_execution", 8, _M, _ONE, _P + "Executions"),
        ("execution_time", 9, _M, _ONE, _P + "Timestamps"),
        ("memo", 10, _B, _MANY, ""),
        ("search_attributes", 11, _M, _ONE, _P + "SearchAttributes"),
        ("task_queue", 13, _S, _MANY, ""),
        ("state_transition_count", 14, _I64, _MANY, ""),
        ("history_size_bytes", 15, _I64, _MANY, ""),
        ("execution_duration", 17, _B, _MANY, ""),
        ("root_execution", 18, _M, _ONE, _P + "Executions"),
    ],
    "Executions": [("workflow_id", 1, _S, _MANY, ""), ("run_id", 2, _S, _MANY, "")],
    "Names": [("name", 1, _S, _MANY, "")],
    "Timestamps": [("seconds", 1, _I64, _MANY, ""), ("nanos", 2, _I32, _MANY, "")],
    # -- memos of many rows, joined: as columns, or as Payload messages
    "MemoColumns": [("fields", 1, _M, _ONE, _P + "MemoEntryColumns")],
    "MemoEntryColumns": [("key", 1, _S, _MANY, ""), ("value", 2, _M, _ONE, _P + "PayloadColumns")],
    "PayloadColumns": [("metadata", 1, _B, _MANY, ""), ("data", 2, _B, _MANY, "")],
    "MetaEntries": [("key", 1, _S, _MANY, ""), ("value", 2, _B, _MANY, "")],
    "MemoPayloads": [("fields", 1, _M, _ONE, _P + "MemoEntries")],
    "MemoEntries": [
        ("key", 1, _S, _MANY, ""),
        ("value", 2, _M, _MANY, ".temporal.api.common.v1.Payload"),
    ],
    "SearchAttributes": [("indexed_fields", 1, _M, _ONE, _P + "SearchEntries")],
    "SearchEntries": [("key", 1, _B, _MANY, ""), ("value", 2, _M, _ONE, _P + "PayloadData")],
    # (fields the columns do not read are declared all the same: a known field is cheaper to
    # parse than an unknown one, which the parser copies aside)
    "PayloadData": [("metadata", 1, _B, _MANY, ""), ("data", 2, _B, _MANY, "")],
    # -- the number of rows; entries of one map, row by row
    "RowCount": [("executions", 1, _B, _MANY, ""), ("next_page_token", 2, _B, _ONE, "")],
    "EntryList": [("entries", 1, _B, _MANY, "")],
}


def _build_views() -> dict[str, Any]:
    pool = descriptor_pool.Default()
    name = "workbench/wireviews.proto"
    try:
        pool.FindFileByName(name)
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto(
            name=name,
            package=_VIEWS_PACKAGE,
            syntax="proto3",
            dependency=["temporal/api/common/v1/message.proto"],
        )
        for message, fields in _VIEW_SPECS.items():
            m = proto.message_type.add(name=message)
            for field_name, number, type_, label, type_name in fields:
                f = m.field.add(name=field_name, number=number, type=type_, label=label)
                if type_name:
                    f.type_name = type_name
        pool.Add(proto)
    return {
        message: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{_VIEWS_PACKAGE}.{message}")
        )
        for message in _VIEW_SPECS
    }


_VIEWS = _build_views()
_ListPageView = _VIEWS["ListPage"]
_MergedPage = _VIEWS["MergedPage"]
_Executions = _VIEWS["Executions"]
_Names = _VIEWS["Names"]
_Timestamps = _VIEWS["Timestamps"]
_EntryList = _VIEWS["EntryList"]
_RowCount = _VIEWS["RowCount"]
_Row = _VIEWS["Row"]
_MemoColumns = _VIEWS["MemoColumns"]
_MemoPayloads = _VIEWS["MemoPayloads"]
_MetaEntries = _VIEWS["MetaEntries"]


class ListPage:
    """One ``ListWorkflowExecutionsResponse`` as received, parsed for :func:`page_columns`.

    Use :meth:`FromString` as the response deserializer of ``ListWorkflowExecutionsRequest``.
    The merged view of the page is parsed on first use (several times faster than the full
    message), the per-row view only if a column needs it.
    """

    __slots__ = ("_first", "_merged", "_rows", "data", "dropped", "next_page_token", "row_count")

    def __init__(self, data: bytes) -> None:
        self.data = data
        """The serialized response."""
        counted = _RowCount.FromString(data)
        rows = counted.executions
        self.row_count: int = len(rows)
        """Number of executions in the page."""
        self.next_page_token: bytes = counted.next_page_token
        """The token of the next page; empty on the last page."""
        self._first: bytes = rows[0] if rows else b""
        self._merged: Any = None
        self._rows: Any = None
        self.dropped = 0
        """Executions :meth:`truncate` dropped from the page as received."""

    @classmethod
    def FromString(cls, data: bytes) -> ListPage:
        """Wrap a serialized ``ListWorkflowExecutionsResponse``.

        Only the row count and the next page token are read here (on the thread that receives
        the page, so that it can ask for the next one at once); the columns are parsed by
        :func:`page_columns`, on the thread that converts.
        """
        return cls(data)

    def __len__(self) -> int:
        return self.row_count

    @property
    def merged(self) -> Any:
        """Every field of every row, one list per field (see the comment on wire views)."""
        if self._merged is None:
            self._merged = _MergedPage.FromString(self.data).executions
        return self._merged

    @property
    def rows(self) -> Sequence[Any]:
        """Per-row views, parsed on first use."""
        if self._rows is None:
            self._rows = _ListPageView.FromString(self.data).executions
        return self._rows  # type: ignore[no-any-return]

    def row(self, index: int) -> Any:
        """The per-row view of one row (the first one without parsing the others)."""
        if index == 0 and self._rows is None:
            return _Row.FromString(self._first)
        return self.rows[index]

    def truncate(self, rows: int) -> None:
        """Keep only the first ``rows`` executions (for a listing's ``limit``)."""
        view = _ListPageView.FromString(self.data)
        dropped = self.dropped + max(0, len(view.executions) - rows)
        del view.executions[rows:]
        self.__init__(view.SerializeToString())  # type: ignore[misc]
        self.dropped = dropped


def _as_page(page: Any) -> ListPage:
    if isinstance(page, ListPage):
        return page
    if isinstance(page, ListWorkflowExecutionsResponse):
        return ListPage(page.SerializeToString())
    # a sequence of WorkflowExecutionInfo (e.g. the one of DescribeWorkflowExecution)
    return ListPage(ListWorkflowExecutionsResponse(executions=list(page)).SerializeToString())


def _aligned(values: Any, n: int) -> list[Any] | None:
    """The merged column as a list if it has one value per row (or none at all)."""
    if len(values) == n:
        return values[:]  # type: ignore[no-any-return]  # slicing builds it faster than list()
    return None


def _per_row(
    blobs: list[bytes], view: Any, fields: tuple[str, ...], default: Any
) -> list[list[Any]]:
    """Columns ``fields`` of serialized sub-messages, one value per row (``default`` if unset)."""
    n = len(blobs)
    merged = view.FromString(b"".join(blobs))
    columns = [list(getattr(merged, f)) for f in fields]
    if all(len(c) == n for c in columns):
        return columns
    present = n - blobs.count(b"")
    if all(len(c) == present for c in columns):
        # Unset rows wrote nothing, the others every field (a field occurs at most once a row).
        out = []
        for c in columns:
            values = iter(c)
            out.append([next(values) if b else default for b in blobs])
        return out
    parsed = [view.FromString(b) for b in blobs]  # some row left a field at its zero value
    return [[(list(getattr(m, f)) or [default])[-1] for m in parsed] for f in fields]


def _ids(
    merged: Any,
    listing: ListPage,
    field_name: str,
    *,
    optional: bool = False,
    buf: bytes | None = None,
) -> tuple[pa.Array, pa.Array]:
    """The workflow and run ids of the merged ``Executions`` view ``merged`` (``buf``: its
    serialized form, if the caller has it) as Arrow string arrays, built from the serialized
    view without a Python string per id (:func:`workbench._wire.record_strings`); read row by
    row when they do not line up with the rows. With ``optional`` an unset id is null, else
    ``""``."""
    n = listing.row_count
    if buf is None:
        buf = merged.SerializeToString()
    if not buf:  # no row sets either id
        unset = pa.nulls(n, _LARGE_STRING) if optional else _repeated("", n)
        return unset, unset
    wids = _wire.record_spans(buf, _WORKFLOW_ID_TAG, n, prefix=True)
    if wids is not None:
        rest = memoryview(buf)[wids.end :]
        rids = _wire.record_spans(rest, _RUN_ID_TAG, n)
        if rids is not None:
            return (
                _wire.record_strings(buf, wids, empty_as_null=optional),
                _wire.record_strings(rest, rids, empty_as_null=optional),
            )
    wid, rid = _id_lists(merged, listing, field_name)
    return _text(wid, optional=optional), _text(rid, optional=optional)


def _id_lists(merged: Any, listing: ListPage, field_name: str) -> tuple[list[str], list[str]]:
    n = listing.row_count
    wids, rids = _aligned(merged.workflow_id, n), _aligned(merged.run_id, n)
    if wids is not None and rids is not None:
        return wids, rids
    if not len(merged.workflow_id) and not len(merged.run_id):
        return [""] * n, [""] * n
    blobs = list(map(attrgetter(field_name), listing.rows))
    wids, rids = _per_row(blobs, _Executions, ("workflow_id", "run_id"), "")
    return wids, rids


def _own_and_root_ids(merged: Any, listing: ListPage) -> tuple[pa.Array, ...]:
    """The run's ids and its root's. When every run is its own root (top-level runs, the usual
    case) the root columns are the run's own arrays, which assembly then copies."""
    own, n = merged.execution, listing.row_count
    own_buf = own.SerializeToString()
    wid, rid = _ids(own, listing, "execution", buf=own_buf)
    root_buf = merged.root_execution.SerializeToString()
    if len(own.workflow_id) == n and len(own.run_id) == n and root_buf == own_buf:
        return wid, rid, wid, rid
    rwid, rrid = _ids(merged.root_execution, listing, "root_execution", optional=True, buf=root_buf)
    return wid, rid, rwid, rrid


def _same_name(names: Any, n: int) -> str | None:
    """The name every row has, when they all have the same (one workflow type per page is
    common), checked on the serialized merged names without a string per row."""
    if not n or len(names.name) != n:
        return None
    name: str = names.name[0]
    if names.SerializeToString() != _wire.encode_record(_KEY_TAG, name.encode()) * n:
        return None
    return name


def _text(values: Sequence[str], *, optional: bool = False) -> pa.Array:
    """``values`` as an Arrow string array; with ``optional``, ``""`` is null."""
    if optional:
        return pa.array([v or None for v in values], type=_LARGE_STRING)
    return pa.array(values, type=_LARGE_STRING)


def _repeated(value: str, n: int) -> pa.Array:
    """An Arrow string array of ``n`` times ``value`` (no Python object per row)."""
    data = value.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def _same_text(values: list[str]) -> pa.Array:
    """``values`` as an Arrow string array, a repeated one when they are all equal."""
    if values and values.count(values[0]) == len(values):
        return _repeated(values[0], len(values))
    return _text(values)


def _times(merged: Any, listing: ListPage, field_name: str) -> np.ndarray[Any, Any]:
    n = listing.row_count
    if len(merged.seconds) == n and len(merged.nanos) == n:
        seconds, nanos = merged.seconds, merged.nanos
    elif not len(merged.seconds) and not len(merged.nanos):
        return np.zeros(n, dtype=np.int64)
    else:
        blobs = list(map(attrgetter(field_name), listing.rows))
        seconds, nanos = _per_row(blobs, _Timestamps, ("seconds", "nanos"), 0)
    return np.array(seconds, dtype=np.int64) * _NS + np.array(nanos, dtype=np.int64)


def _ints(merged: Any, listing: ListPage, field_name: str) -> np.ndarray[Any, Any]:
    n = listing.row_count
    values = getattr(merged, field_name)
    if len(values) == n:
        return np.array(values, dtype=np.int64)
    if not len(values):
        return np.zeros(n, dtype=np.int64)
    return np.fromiter(map(attrgetter(field_name), listing.rows), np.int64, n)


def _entry_rows(blobs: list[bytes]) -> np.ndarray[Any, Any]:
    """The row of every entry of serialized ``map<string, Payload>`` holders, in order."""
    joined = b"".join(blobs)
    if not joined:
        return np.zeros(0, dtype=np.int64)
    entries = _EntryList.FromString(joined).entries
    # Every entry is written as tag 0x0A, its varint length, its bytes: where the running sum of
    # those sizes meets a row's end says which row the entry came from.
    sizes = np.fromiter(map(len, entries), np.int64, len(entries))
    ends = np.cumsum(sizes + 1 + _wire.varint_sizes(sizes))
    lengths = np.fromiter(map(len, blobs), np.int64, len(blobs))
    row_ends = np.cumsum(lengths)
    filled = row_ends[lengths > 0]
    at = np.minimum(np.searchsorted(ends, filled), len(ends) - 1)
    if ends[-1] == row_ends[-1] and (ends[at] == filled).all():
        return np.searchsorted(row_ends, ends, side="left").astype(np.int64)
    counts = [len(_EntryList.FromString(b).entries) for b in blobs]  # another field in there
    return np.repeat(np.arange(len(blobs), dtype=np.int64), counts)


def _group(keys: list[Any], n: int) -> tuple[list[Any], list[np.ndarray[Any, Any]], bool]:
    """Entry positions per key (keys in order of first occurrence), and whether every row has
    every key exactly once."""
    codes, names = pd.factorize(_objects(keys))
    groups, uniform = _groups(codes, len(names), n)
    return names.tolist(), groups, uniform


def _groups(
    codes: np.ndarray[Any, Any], distinct: int, n: int
) -> tuple[list[np.ndarray[Any, Any]], bool]:
    """Entry positions per code ``0 .. distinct - 1``, and whether each code occurs ``n``
    times (a map has each key at most once per row, so then every row has every key)."""
    if distinct == 1:
        groups = [np.arange(len(codes))]
    else:
        codes = codes.astype(np.int16 if distinct < 2**15 else np.int64)
        order = np.argsort(codes, kind="stable")  # a radix sort for 16-bit codes
        bounds = np.cumsum(np.bincount(codes, minlength=distinct))[:-1]
        groups = np.split(order, bounds)
    return groups, all(len(g) == n for g in groups)


# ------------------------------------------------------------------------------ page columns
@dataclass
class _SearchColumn:
    type: str | None
    rows: list[np.ndarray[Any, Any]] = field(default_factory=list)
    values: list[np.ndarray[Any, Any]] = field(default_factory=list)
    every_row: bool = True


@dataclass
class PageColumns:
    """The columns of one page of executions, before they become a DataFrame.

    Pages are converted as they arrive (while the next page is being fetched) and concatenated
    once at the end by :func:`workflows_frame`; keeping plain lists and numpy arrays until then
    avoids a per-page ``pd.concat``.
    """

    n: int
    """Number of rows."""
    strings: dict[str, pa.Array]
    """Text columns, as Arrow string arrays (null where unset, for the optional ones)."""
    ints: dict[str, np.ndarray[Any, Any]]
    """Integer columns, including the raw ``status`` enum code."""
    times: dict[str, np.ndarray[Any, Any]]
    """Timestamps as int64 nanoseconds since the epoch, ``0`` where unset."""
    memo: list[dict[str, Any] | None]
    """Decoded memo per row."""
    memo_error: list[str | None]
    """Memo decode errors per row."""
    search: dict[str, tuple[str | None, np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]]
    """Search attribute name → (type, row positions or ``None`` for every row, values: an
    int64/float64/bool array for Int/Double/Bool columns whose values all have that type, else
    an object array of JSON values)."""


def page_columns(page: Any, *, decode_memo: DecodeMemo | None = None) -> PageColumns:
    """Extract the columns of one page of executions.

    Args:
        page: A :class:`ListPage` (fastest), a ``ListWorkflowExecutionsResponse``, or a sequence
            of ``WorkflowExecutionInfo``.
        decode_memo: Memo decoder; default :func:`default_decode_memo`.
    """
    listing = _as_page(page)
    n = listing.row_count
    merged = listing.merged
    # The decoder may wait on a codec server: the collector is paused around everything else
    # (the columns allocate thousands of containers that form no cycles; see workbench._gc).
    memo = _page_memo(merged.memo, listing, decode_memo or default_decode_memo)
    with gc_paused():
        wid, rid, rwid, rrid = _own_and_root_ids(merged, listing)
        pwid, prid = _ids(merged.parent_execution, listing, "parent_execution", optional=True)
        name = _same_name(merged.type, n)
        if name is not None:
            types = _repeated(name, n)
        else:
            names = _aligned(merged.type.name, n)
            if names is None:
                blobs = list(map(attrgetter("type"), listing.rows))
                (names,) = _per_row(blobs, _Names, ("name",), "")
            types = _text(names)
        queues = _aligned(merged.task_queue, n)
        if queues is None:
            queues = list(map(attrgetter("task_queue"), listing.rows))
        return PageColumns(
            n=n,
            strings={
                "workflow_id": wid,
                "run_id": rid,
                "workflow_type": types,
                "task_queue": _same_text(queues),
                "parent_workflow_id": pwid,
                "parent_run_id": prid,
                "root_workflow_id": rwid,
                "root_run_id": rrid,
            },
            ints={name: _ints(merged, listing, name) for name in ("status", *_INT_FIELDS)},
            times={name: _times(getattr(merged, name), listing, name) for name in _TIME_FIELDS},
            **memo,
            search=_page_search_attributes(merged.search_attributes.indexed_fields, listing),
        )


def _page_memo(blobs: Any, listing: ListPage, decode: DecodeMemo) -> dict[str, Any]:
    """The memo column of one page, from the serialized memo of each row that has one."""
    n = listing.row_count
    present = list(blobs)
    if not present:
        return {"memo": [None] * n, "memo_error": [None] * n}
    joined = b"".join(present)
    entries = _MemoColumns.FromString(joined).fields
    keys = list(entries.key)
    values, errors = _memo_values(entries, keys, joined, decode)
    with gc_paused():
        if len(present) == n:
            if len(keys) == n and keys.count(keys[0]) == n:  # one key, in every row's memo
                names, groups, uniform = [keys[0]], [np.arange(n)], True
            else:
                names, groups, uniform = _group(keys, n)
            if uniform:  # every row has every key: the k-th occurrence of a key is row k's
                return _memo_rows(n, names, groups, values, errors)
        return _page_memo_per_row(listing, keys, values, errors)


def _memo_values(
    entries: Any, keys: list[str], joined: bytes, decode: DecodeMemo
) -> tuple[list[Any], list[str | None]]:
    """Decode the memo values of a page: whole groups of payloads at once where the decoder
    has a :data:`MemoPlan` for their encoding, the rest as ``Payload`` messages."""
    count = len(keys)
    values: list[Any] = [None] * count
    errors: list[str | None] = [None] * count
    columns = entries.value
    datas = columns.data  # read on demand: an error plan needs none of them
    shapes = _payload_shapes(columns.metadata[:], count) if len(datas) == count else None
    plan = getattr(decode, "plan", None)
    general = list(range(count))
    if shapes is not None and plan is not None:
        general = []
        for shape, members in shapes.items():
            how = plan(*shape)
            if how is None:
                general += members
            elif how[0] == "error":
                if len(members) == count:
                    errors = [how[1]] * count
                else:
                    for i in members:
                        errors[i] = how[1]
            else:  # ("json", scan): the scanner of the converter's json/plain decoding
                scan = how[1]
                for i in members:
                    try:
                        text = datas[i].decode()
                        value, end = scan(text, 0)
                        whole = end == len(text)
                    except (ValueError, StopIteration, RecursionError):
                        whole = False
                    if whole:
                        values[i] = value
                    else:  # not plain UTF-8 JSON: the decoder's converter decides
                        general.append(i)
    if general:
        general.sort()
        payloads = _MemoPayloads.FromString(joined).fields.value
        results = _safe_decode(decode, [payloads[i] for i in general])
        for i, (value, error) in zip(general, results, strict=True):
            values[i] = value
            errors[i] = error
    return values, errors


def _payload_shapes(
    metadata: list[bytes], count: int
) -> dict[tuple[bytes, bytes | None], list[int]] | None:
    """Payload indices by (``encoding``, ``encryption-key-id`` of encrypted payloads), from the
    serialized metadata entries of ``count`` payloads in order; ``None`` if they cannot be lined
    up (a payload without an encoding, or key ids on only some payloads)."""
    if not count:
        return None
    per_payload, spare = divmod(len(metadata), count)
    distinct = set(metadata[:per_payload])  # the first payload's entries, if all are alike
    if (
        not spare
        and len(distinct) == per_payload
        and sum(map(metadata.count, distinct)) == len(metadata)
    ):
        # Every entry is one of these; a payload has each metadata key at most once, so it holds
        # at most one entry per distinct key: each payload has all of them, the usual case.
        merged = _MetaEntries.FromString(b"".join(distinct))
        meta = dict(zip(merged.key, merged.value, strict=True))
        encoding = meta.get(_ENCODING_KEY)
        if encoding is None:
            return None
        key_id = meta.get(_KEY_ID_KEY) if encoding == _ENCRYPTED else None
        return {(encoding, key_id): list(range(count))}
    merged = _MetaEntries.FromString(b"".join(metadata))
    keys = list(merged.key)
    if keys.count(_ENCODING_KEY) != count:
        return None
    values = list(merged.value)
    encodings = [v for k, v in zip(keys, values, strict=True) if k == _ENCODING_KEY]
    with_ids = keys.count(_KEY_ID_KEY)
    if with_ids == 0:
        key_ids: list[bytes | None] = [None] * count
    elif with_ids == count:
        key_ids = [v for k, v in zip(keys, values, strict=True) if k == _KEY_ID_KEY]
    else:
        return None
    shapes: dict[tuple[bytes, bytes | None], list[int]] = {}
    for i, (encoding, key_id) in enumerate(zip(encodings, key_ids, strict=True)):
        shapes.setdefault((encoding, key_id if encoding == _ENCRYPTED else None), []).append(i)
    return shapes


def _memo_rows(
    n: int,
    names: list[str],
    groups: list[np.ndarray[Any, Any]],
    values: list[Any],
    errors: list[str | None],
) -> dict[str, Any]:
    # Keys in name order: the server sends each run's memo map in an order of its own, which
    # would change the rows' dicts and error texts from one listing to the next.
    if names != sorted(names):
        names, groups = map(list, zip(*sorted(zip(names, groups, strict=True)), strict=True))
    value_of = _objects(values)
    columns = [value_of[g] for g in groups]
    if len(names) == 1:
        (name,) = names
        memo = [{name: v} for v in columns[0].tolist()]
    else:
        memo = list(map(dict, map(zip, repeat(names), zip(*columns, strict=True))))
    if errors.count(None) == len(errors):
        return {"memo": memo, "memo_error": [None] * n}
    if len(names) == 1:  # one text per distinct error, shared by the rows
        texts1 = {e: None if e is None else f"{name}: {e}" for e in set(errors)}
        return {"memo": memo, "memo_error": list(map(texts1.__getitem__, errors))}
    error_of = _objects(errors)
    row_errors: list[str | None] = [None] * n
    texts: dict[tuple[str, str], str] = {}  # one string per key and error, shared by the rows
    for name, g in zip(names, groups, strict=True):
        for r, error in enumerate(error_of[g].tolist()):
            if error is None:
                continue
            text = texts.get((name, error))
            if text is None:
                text = texts[(name, error)] = f"{name}: {error}"
            previous = row_errors[r]
            row_errors[r] = text if previous is None else f"{previous}; {text}"
    return {"memo": memo, "memo_error": row_errors}


def _page_memo_per_row(
    listing: ListPage, keys: list[str], values: list[Any], errors: list[str | None]
) -> dict[str, Any]:
    n = listing.row_count
    memo: list[dict[str, Any] | None] = [None] * n
    row_errors: list[str | None] = [None] * n
    entry_rows = _entry_rows(_blobs(listing, "memo")).tolist()
    entries = sorted(zip(entry_rows, keys, values, errors, strict=True), key=_ROW_AND_KEY)
    for r, key, value, error in entries:  # keys in name order, as _memo_rows
        d = memo[r]
        if d is None:
            d = memo[r] = {}
        d[key] = value
        if error is not None:
            previous = row_errors[r]
            text = f"{key}: {error}"
            row_errors[r] = text if previous is None else f"{previous}; {text}"
    return {"memo": memo, "memo_error": row_errors}


_ROW_AND_KEY = itemgetter(0, 1)


def _page_search_attributes(
    entries: Any, listing: ListPage
) -> dict[str, tuple[str | None, np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]]:
    """Search-attribute columns of one page: every value is decoded by a single
    ``json.loads`` over the page, then split by name with numpy."""
    n = listing.row_count
    count = len(entries.key)
    if not count:
        return {}
    names: list[str]
    entry_rows: np.ndarray[Any, Any] | None
    text: memoryview | None = None
    datas: list[bytes] | None = None
    if len(entries.value.data) != count:  # a payload without data: read the rows one by one
        holders = [SearchAttributes.FromString(r.search_attributes) for r in listing.rows]
        row_keys = [k for m in holders for k in m.indexed_fields]
        datas = [m.indexed_fields[k].data for m in holders for k in m.indexed_fields]
        names, groups, _uniform = _group(row_keys, n)
        counts = [len(m.indexed_fields) for m in holders]
        entry_rows = np.repeat(np.arange(n), counts)
        types = _search_types(listing, names, groups, entry_rows)
    else:
        first = SearchAttributes.FromString(listing.row(0).search_attributes).indexed_fields
        types = {k: _payload_type(p) for k, p in first.items()}
        numbered = _numbered_entries(entries, count)
        if numbered is not None:
            raw_names, codes, text = numbered
            groups, uniform = _groups(codes, len(raw_names), n)
        else:
            raw_names, groups, uniform = _group(entries.key[:], n)
        names = [k.decode("utf-8", "replace") for k in raw_names]
        # Every row has every key: the k-th occurrence of a key is row k's.
        entry_rows = None if uniform else _entry_rows(_blobs(listing, "search_attributes"))
        if any(name not in types for name in names):
            types.update(_search_types(listing, names, groups, entry_rows))
    source = datas if datas is not None else entries.value.data
    values = _objects(_json_values(source, text))
    out: dict[str, tuple[str | None, np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]] = {}
    for name, idx in zip(names, groups, strict=True):
        if not len(idx):
            continue
        type_name = types.get(name)
        rows = None if entry_rows is None else entry_rows[idx]
        column = _typed_values(type_name, values[idx])
        if column.dtype == object and type_name not in _FLOAT_SAFE_TYPES:
            # An Int column that did not come out int64, or a type of no known shape: read it
            # again exactly (orjson gives integers beyond 64 bits as floats).
            exact = _json_values([source[i] for i in idx.tolist()], fast=False)
            column = _typed_values(type_name, _objects(exact))
        out[name] = (type_name, rows, column)
    return out


def _numbered_entries(
    entries: Any, count: int
) -> tuple[list[bytes], np.ndarray[Any, Any], memoryview] | None:
    """The merged search-attribute entries of a page read from their serialized form with numpy
    (see :mod:`workbench._wire`) rather than as one ``bytes`` object per key and per value:
    ``(distinct keys, each entry's key number, the values as one JSON array text)``, or
    ``None`` when the serialized form is not the expected ``count`` keys then one merged value
    holding ``count`` data records. Clears the merged values' metadata, which nothing reads
    (types come from a row's own parse)."""
    entries.value.ClearField("metadata")
    entries.DiscardUnknownFields()  # fields a newer API may add: only keys and data are wanted
    buf = entries.SerializeToString()
    keys = _wire.record_spans(buf, _KEY_TAG, count, prefix=True)
    if keys is None:
        return None
    value_start = _wire.message_record(buf, keys.end, _VALUE_TAG)
    if value_start is None:
        return None
    data_buf = memoryview(buf)[value_start:]
    data = _wire.record_spans(data_buf, _DATA_TAG, count)
    numbered = _wire.equal_contents(buf, keys)
    if data is None or numbered is None:
        return None
    return numbered[0], numbered[1], _wire.json_array(data_buf, data)


def _search_types(
    listing: ListPage,
    names: list[str],
    groups: list[np.ndarray[Any, Any]],
    entry_rows: np.ndarray[Any, Any] | None,
) -> dict[str, str | None]:
    """Each search attribute's ``type`` metadata, read from the first row that has it (the
    type of a name holds for the namespace)."""
    types: dict[str, str | None] = {}
    for name, idx in zip(names, groups, strict=True):
        if name in types:
            continue
        row = 0 if entry_rows is None else int(entry_rows[idx[0]])
        holder = SearchAttributes.FromString(listing.row(row).search_attributes)
        types.update({k: _payload_type(p) for k, p in holder.indexed_fields.items()})
    return types


_KINDS = {"Int": ("integer",), "Double": ("floating", "integer", "mixed-integer-float")}
_FLOAT_SAFE_TYPES = frozenset(("Keyword", "Text", "Double", "Bool", "Datetime", "KeywordList"))
"""Search-attribute types whose valid values hold no integer, or become floats anyway."""


def _typed_values(type_name: str | None, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A search attribute's JSON values; a numpy array of its type for Int, Double and Bool
    columns whose values all have that type, else the objects as they are."""
    if type_name in ("Int", "Double", "Bool"):
        kind = infer_dtype(values, skipna=False)
        try:
            if type_name == "Bool":
                if kind == "boolean":
                    return values.astype(bool)
            elif kind in _KINDS[type_name]:
                return values.astype(np.int64 if type_name == "Int" else np.float64)
        except OverflowError:  # an Int beyond int64
            clamped = _nearest_int64(values) if type_name == "Int" else None
            if clamped is not None:
                return clamped
    return values


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ROUNDING = 2**11
"""How far beyond int64 a value rounded through float64 can land (float64's spacing at 2**63)."""


def _nearest_int64(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """Integers of which none lies beyond int64 by more than float64 rounding, as int64 (the
    ones beyond become int64's ends); ``None`` if one lies farther out (keep the Python ints)."""
    out = []
    for value in values.tolist():
        if _INT64_MAX < value <= _INT64_MAX + _ROUNDING:
            value = _INT64_MAX
        elif _INT64_MIN - _ROUNDING <= value < _INT64_MIN:
            value = _INT64_MIN
        elif not _INT64_MIN <= value <= _INT64_MAX:
            return None
        out.append(value)
    return np.array(out, dtype=np.int64)


def _blobs(listing: ListPage, field_name: str) -> list[bytes]:
    return list(map(attrgetter(field_name), listing.rows))


def _json_values(
    datas: Sequence[bytes], text: memoryview | None = None, *, fast: bool = True
) -> list[Any]:
    """Decode many small JSON documents with one parse (much faster than one each); ``text`` is
    ``datas`` already joined as a JSON array, if the caller has it.

    ``fast`` parses with ``orjson``, which reads an integer beyond 64 bits as a ``float`` (not
    an error): callers that may meet one read those values again with ``fast=False``
    (``json``, exact). A document ``orjson`` refuses but ``json`` reads (``NaN``, a lone
    surrogate) sends the page to ``json``; a document neither reads is ``None`` (the others are
    then read one at a time).
    """
    if not len(datas):
        return []
    joined = b"[" + b",".join(datas) + b"]" if text is None else text
    for loads in (orjson.loads, json.loads) if fast else (json.loads,):
        try:
            values = loads(joined) if loads is orjson.loads else loads(bytes(joined))
        except ValueError:
            continue
        if isinstance(values, list) and len(values) == len(datas):
            return values
    out: list[Any] = []
    for d in datas:
        try:
            out.append(json.loads(d))
        except ValueError:
            out.append(None)
    return out


def _payload_type(payload: Any) -> str | None:
    value = payload.metadata.get("type")
    return value.decode("utf-8", "replace") if value else None


# ------------------------------------------------------------------------------ assembly
def _str_column(chunks: Sequence[pa.Array]) -> pd.api.extensions.ExtensionArray:
    """A ``str`` column of Arrow string arrays (kept as chunks when pandas stores strings in
    Arrow, its default with pyarrow installed; converted otherwise)."""
    column: pd.api.extensions.ExtensionArray = pd.array(
        pa.chunked_array(chunks, type=_LARGE_STRING), dtype="str"
    )
    return column


def _str_values(values: np.ndarray[Any, Any]) -> pd.api.extensions.ExtensionArray:
    """A ``str`` column of strings and ``None``; any other value becomes its ``str()``. Text
    that Arrow cannot hold (a lone surrogate, which JSON can spell) keeps the column in Python
    objects."""
    try:
        return _str_column([pa.array(values, type=_LARGE_STRING, from_pandas=True)])
    except (TypeError, ValueError):  # not all strings, or text that is not UTF-8
        pass
    try:
        column: pd.api.extensions.ExtensionArray = pd.array(values, dtype="str")
    except UnicodeEncodeError:
        column = pd.array(values, dtype=_SHARED_STR)
    return column


def _strings(values: Sequence[str], *, optional: bool = False) -> pd.api.extensions.ExtensionArray:
    """A ``str`` column of Python strings; with ``optional``, ``""`` is missing."""
    return _str_column([_text(values, optional=optional)])


def _datetimes(ns: np.ndarray[Any, Any]) -> pd.DatetimeIndex:
    ns = ns.copy()
    ns[ns == 0] = _NAT  # proto3 leaves unset timestamps at the epoch
    index: pd.DatetimeIndex = pd.DatetimeIndex(pd.to_datetime(ns.view("M8[ns]"), utc=True))
    return index


def _categorical(codes: np.ndarray[Any, Any], names: Sequence[str]) -> pd.Categorical:
    """Categories ``names`` from enum codes (1 = the first name; 0 and unknown codes = NaN)."""
    cat = codes - 1
    cat[(cat < 0) | (cat >= len(names))] = -1
    dtype = pd.CategoricalDtype(list(names))
    return pd.Categorical.from_codes(cat.astype(np.int8), dtype=dtype)


def _search_column(
    type_name: str | None, n: int, rows: np.ndarray[Any, Any] | None, values: np.ndarray[Any, Any]
) -> Any:
    """One search-attribute column of length ``n`` with ``values`` at ``rows`` (every row when
    ``rows`` is ``None``)."""
    where: Any = slice(None) if rows is None else rows
    try:
        if type_name in ("Keyword", "Text"):
            if rows is None:
                return _str_values(values)
            arr = np.full(n, None, dtype=object)
            arr[where] = values
            return _str_values(arr)
        if type_name == "Int" and values.dtype == np.int64:
            ints = np.zeros(n, dtype=np.int64)
            mask = np.ones(n, dtype=bool)
            ints[where] = values
            mask[where] = False
            return pd.arrays.IntegerArray(ints, mask)
        if type_name == "Double" and values.dtype == np.float64:
            floats = np.full(n, np.nan)
            floats[where] = values
            return floats
        if type_name == "Bool" and values.dtype == bool:
            bools = np.zeros(n, dtype=bool)
            mask = np.ones(n, dtype=bool)
            bools[where] = values
            mask[where] = False
            return pd.arrays.BooleanArray(bools, mask)
        if type_name == "Datetime" and infer_dtype(values, skipna=False) == "string":
            return _datetime_strings(values, n, where)
        if type_name == "KeywordList":
            items = values.tolist()
            if str in map(type, items):  # stops at the first single keyword
                single = [i for i, v in enumerate(items) if isinstance(v, str)]
                values = values.copy()  # a single keyword becomes a list of one
                values[single] = _objects([[items[i]] for i in single])
    except (TypeError, ValueError, OverflowError):
        pass  # a value of an unexpected shape: keep the column, as plain Python objects
    objects = np.full(n, None, dtype=object)
    objects[where] = values.astype(object) if values.dtype != object else values
    if infer_dtype(objects, skipna=True) == "string":
        return _str_values(objects)  # what pandas would make of it, a lone surrogate included
    return objects


def _datetime_strings(values: np.ndarray[Any, Any], n: int, where: Any) -> pd.DatetimeIndex:
    """A Datetime search-attribute column from its RFC 3339 texts, in microseconds (years 1 to
    9999; finer digits dropped), never wrapped around."""
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601"))
    except OutOfBoundsDatetime:  # nine fraction digits make pandas parse in nanoseconds
        micro = [_BEYOND_MICRO.sub(r"\1", v) for v in values.tolist()]
        parsed = pd.DatetimeIndex(pd.to_datetime(micro, utc=True, format="ISO8601"))
    ticks = np.full(n, _NAT, dtype=np.int64)
    ticks[where] = parsed.as_unit("us").asi8
    column: pd.DatetimeIndex = pd.DatetimeIndex(pd.to_datetime(ticks.view("M8[us]"), utc=True))
    return column


_BEYOND_MICRO = re.compile(r"(\.\d{6})\d+")


def _objects(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    """A 1-d object array of ``values`` (which may be lists: ``np.array`` would nest them)."""
    return np.fromiter(values, dtype=object, count=len(values))


def empty_workflows_frame() -> pd.DataFrame:
    """The listing schema with zero rows (what an empty result returns)."""
    return workflows_frame([])


def workflows_frame(
    pages: Iterable[PageColumns | Any], *, decode_memo: DecodeMemo | None = None
) -> pd.DataFrame:
    """Build the listing DataFrame from pages.

    Args:
        pages: :class:`PageColumns`, or pages :func:`page_columns` accepts (:class:`ListPage`,
            ``ListWorkflowExecutionsResponse``, sequences of ``WorkflowExecutionInfo``), in
            listing order.
        decode_memo: Memo decoder for pages not yet converted; default
            :func:`default_decode_memo`.

    Returns:
        One row per execution, columns as documented in this module.
    """
    parts: list[PageColumns] = []
    for page in pages:
        if isinstance(page, PageColumns):
            parts.append(page)
        else:
            parts.append(page_columns(page, decode_memo=decode_memo))
    with gc_paused():
        return _assemble(parts)


def _assemble(parts: list[PageColumns]) -> pd.DataFrame:
    n = sum(p.n for p in parts)
    data: dict[str, Any] = {}
    for name in _STRING_FIELDS[:3]:
        data[name] = _str_column([p.strings[name] for p in parts])

    def ints(name: str) -> np.ndarray[Any, Any]:
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([p.ints[name] for p in parts])

    def times(name: str) -> np.ndarray[Any, Any]:
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([p.times[name] for p in parts])

    data["status"] = _categorical(ints("status"), STATUS_NAMES)
    for name in _TIME_FIELDS:
        data[name] = _datetimes(times(name))
    data["duration"] = data["close_time"] - data["start_time"]
    data["task_queue"] = _str_column([p.strings["task_queue"] for p in parts])
    for name in _INT_FIELDS:
        data[name] = ints(name)
    own = {"root_workflow_id": "workflow_id", "root_run_id": "run_id"}
    for name in _OPTIONAL_STRING_FIELDS:
        if name in own and parts and all(p.strings[name] is p.strings[own[name]] for p in parts):
            data[name] = data[own[name]].copy()  # runs are their own roots (_own_and_root_ids)
            continue
        data[name] = _str_column([p.strings[name] for p in parts])
    data["memo"] = np.fromiter(chain.from_iterable(p.memo for p in parts), dtype=object, count=n)
    errors = np.fromiter(chain.from_iterable(p.memo_error for p in parts), dtype=object, count=n)
    # In Python objects, not Arrow (see the module's docstring): rows share their texts.
    data["memo_error"] = pd.array(errors, dtype=_SHARED_STR)
    for name, (type_name, rows, values) in _merge_search(parts).items():
        column = f"sa.{name}" if name in WORKFLOW_COLUMNS else name
        data[column] = _search_column(type_name, n, rows, values)
    frame: pd.DataFrame = pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)
    return frame


def _merge_search(
    parts: list[PageColumns],
) -> dict[str, tuple[str | None, np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]]:
    merged: dict[str, _SearchColumn] = {}
    offset = 0
    for p in parts:
        for name, (type_name, rows, values) in p.search.items():
            col = merged.get(name)
            if col is None:
                col = merged[name] = _SearchColumn(type_name)
            elif col.type != type_name:
                col.type = None  # the type changed between pages: keep Python objects
            col.rows.append(np.arange(offset, offset + p.n) if rows is None else rows + offset)
            col.values.append(values)
            col.every_row = col.every_row and rows is None
        offset += p.n
    return {
        name: (
            col.type,
            None if col.every_row and len(col.rows) == len(parts) else np.concatenate(col.rows),
            _concat_values(col.values),
        )
        for name, col in sorted(merged.items())
    }


def _concat_values(chunks: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    if len(chunks) == 1:
        return chunks[0]
    if len({c.dtype for c in chunks}) > 1:  # e.g. an Int column that overflowed on one page
        chunks = [c.astype(object) for c in chunks]
    return np.concatenate(chunks)


# ------------------------------------------------------------------------------ describe
def decode_search_attributes(indexed_fields: Mapping[str, Any]) -> dict[str, Any]:
    """Decode one run's search attributes to Python values, typed from their ``type`` metadata.

    Keyword/Text → ``str``, Int → ``int``, Double → ``float``, Bool → ``bool``, Datetime →
    timezone-aware UTC ``pandas.Timestamp`` in microseconds, KeywordList → ``list[str]``; a value
    that cannot be read is ``None``.
    """
    out: dict[str, Any] = {}
    for name in sorted(indexed_fields):
        payload = indexed_fields[name]
        type_name = _payload_type(payload)
        value = _json_values([payload.data], fast=False)[0]
        if type_name == "Datetime" and isinstance(value, str):
            try:  # in microseconds, as the listing's columns
                value = pd.Timestamp(_BEYOND_MICRO.sub(r"\1", value)).tz_convert("UTC")
                value = value.as_unit("us")
            except (TypeError, ValueError):
                value = None
        elif type_name == "KeywordList" and isinstance(value, str):
            value = [value]
        elif type_name == "Double" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # JSON writes 1.0 as 1
        out[name] = value
    return out


PENDING_ACTIVITY_COLUMNS: tuple[str, ...] = (
    "activity_id",
    "activity_type",
    "state",
    "attempt",
    "maximum_attempts",
    "scheduled_time",
    "last_started_time",
    "last_heartbeat_time",
    "expiration_time",
    "next_attempt_schedule_time",
    "current_retry_interval",
    "last_failure",
    "last_worker_identity",
    "heartbeat_details",
)
"""Columns of :attr:`WorkflowDescription.pending_activities`."""

PENDING_CHILD_COLUMNS: tuple[str, ...] = (
    "workflow_id",
    "run_id",
    "workflow_type",
    "initiated_id",
    "parent_close_policy",
)
"""Columns of :attr:`WorkflowDescription.pending_children`."""

_ACTIVITY_STATES = enum_labels(PendingActivityState, "PENDING_ACTIVITY_STATE_")
_ACTIVITY_STATE_NAMES = [_ACTIVITY_STATES[c] for c in sorted(_ACTIVITY_STATES) if c != 0]
_CLOSE_POLICIES = enum_labels(ParentClosePolicy, "PARENT_CLOSE_POLICY_")


def _stamp_ns(stamps: list[Any]) -> np.ndarray[Any, Any]:
    n = len(stamps)
    seconds = np.fromiter(map(attrgetter("seconds"), stamps), np.int64, n)
    nanos = np.fromiter(map(attrgetter("nanos"), stamps), np.int64, n)
    return seconds * _NS + nanos


def pending_activities_frame(
    activities: Sequence[Any], *, decode_memo: DecodeMemo | None = None
) -> pd.DataFrame:
    """``PendingActivityInfo`` messages → DataFrame (:data:`PENDING_ACTIVITY_COLUMNS`).

    ``state`` is a Categorical (Scheduled, Started, CancelRequested, Paused, PauseRequested);
    times are UTC (NaT when unset); ``maximum_attempts`` 0 means unlimited; ``last_failure`` is
    the last failure's message (NaN if none); ``last_worker_identity`` is NaN until a worker
    has picked the activity up; ``heartbeat_details`` is the list of decoded
    heartbeat values (``decode_memo`` decodes them; a value that fails is ``None``).
    """
    decode = decode_memo or default_decode_memo
    acts = list(activities)
    n = len(acts)
    states = np.fromiter(map(attrgetter("state"), acts), np.int64, n)
    interval = [a.current_retry_interval for a in acts]
    interval_ns = np.array([d.seconds * _NS + d.nanos for d in interval], dtype=np.int64)
    failures = [a.last_failure.message if a.HasField("last_failure") else None for a in acts]
    details = []
    for a in acts:
        payloads = list(a.heartbeat_details.payloads)
        details.append([v for v, _err in _safe_decode(decode, payloads)] if payloads else None)
    data: dict[str, Any] = {
        "activity_id": _strings([a.activity_id for a in acts]),
        "activity_type": _strings([a.activity_type.name for a in acts]),
        "state": _categorical(states, _ACTIVITY_STATE_NAMES),
        "attempt": np.array([a.attempt for a in acts], dtype=np.int64),
        "maximum_attempts": np.array([a.maximum_attempts for a in acts], dtype=np.int64),
    }
    for name in PENDING_ACTIVITY_COLUMNS[5:10]:
        data[name] = _datetimes(_stamp_ns([getattr(a, name) for a in acts]))
    data["current_retry_interval"] = pd.to_timedelta(interval_ns, unit="ns")
    data["last_failure"] = _str_values(_objects(failures))
    identities = [a.last_worker_identity for a in acts]  # "" until a worker picks it up
    data["last_worker_identity"] = _strings(identities, optional=True)
    hb = np.empty(n, dtype=object)
    hb[:] = details
    data["heartbeat_details"] = hb
    frame: pd.DataFrame = pd.DataFrame(data, index=pd.RangeIndex(n))
    return frame


def pending_children_frame(children: Sequence[Any]) -> pd.DataFrame:
    """``PendingChildExecutionInfo`` messages → DataFrame (:data:`PENDING_CHILD_COLUMNS`).

    ``parent_close_policy`` is Temporal's name (``Terminate``, ``Abandon``, ``RequestCancel``).
    """
    kids = list(children)
    policies = [
        _CLOSE_POLICIES.get(c.parent_close_policy) if c.parent_close_policy else None for c in kids
    ]
    data: dict[str, Any] = {
        "workflow_id": _strings([c.workflow_id for c in kids]),
        "run_id": _strings([c.run_id for c in kids]),
        "workflow_type": _strings([c.workflow_type_name for c in kids]),
        "initiated_id": np.array([c.initiated_id for c in kids], dtype=np.int64),
        "parent_close_policy": _str_values(_objects(policies)),
    }
    frame: pd.DataFrame = pd.DataFrame(data, index=pd.RangeIndex(len(kids)))
    return frame

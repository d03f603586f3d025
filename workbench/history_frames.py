"""History events → the ``events`` and ``payloads`` DataFrames of a :class:`~workbench.History`.

Pages of events are added one at a time (:meth:`FrameBuilder.add`): each page's payloads are
found (:mod:`workbench.payloads`), decoded in one batch by the codec chain and converted to values
by the SDK's converters; columns grow as plain lists and become DataFrames once, at the end.

Schema of ``events`` (one row per event, in event order):

=====================  ======================  ================================================
column                 dtype                   meaning
=====================  ======================  ================================================
event_id               int64                   the event's id (1, 2, ...)
event_time             datetime64[ns, UTC]     when the server wrote it
event_type             str                     ``ActivityTaskScheduled`` (no ``EVENT_TYPE_``)
task_id                int64                   the server's task id
activity_type          str                     activity events
activity_id            str                     activity events
attempt                Int64                   activity (and workflow) attempt
workflow_type          str                     this workflow's type on WorkflowExecutionStarted,
                                               the child's on child-workflow events
task_queue             str                     task queue the event names
signal_name            str                     signals received and sent
update_id              str                     workflow update events
update_name            str                     workflow update events
timer_id               str                     timer events
marker_name            str                     markers (local activities, versions, ...)
child_workflow_id      str                     child-workflow events, external signal/cancel
child_run_id           str                     child-workflow events, external signal/cancel
new_run_id             str                     the run this one continued as (continue-as-new,
                                               retry, cron)
scheduled_event_id     Int64                   the event this one refers back to
started_event_id       Int64                   "
initiated_event_id     Int64                   "
identity               str                     worker or client identity
retry_state            str                     ``MaximumAttemptsReached``, ``NonRetryableFailure``
failure_message        str                     the event's failure message, *decoded* from the
                                               failure's encoded attributes when the SDK
                                               encrypted it (marked "not decoded" when they
                                               could not be); for ActivityTaskStarted the last
                                               failure of a retried activity
failure_type           str                     application error type (``ValueError``), else
                                               the failure kind (``TimeoutFailure``, ...)
failure_cause          str                     message of the root cause (decoded), if any
input                  object (list)           decoded arguments (workflow, activity, signal,
                                               update, child, continue-as-new input)
result                 object                  decoded result: the value when there is one
                                               payload, a list when there are several; on
                                               WorkflowExecutionStarted (and ContinuedAsNew)
                                               of a cron or retried run, the last run's result
details                object (list)           decoded details (heartbeat, cancel, marker)
failure_details        object (list)           decoded details the event's failures carry:
                                               an application error's details, a timed-out
                                               activity's last heartbeat details, a
                                               cancellation's details (causes included,
                                               outermost first)
memo                   object (dict)           decoded memo, by key
header                 object (dict)           decoded header fields, by key
search_attributes      object (dict)           search attributes, by name (typed values)
payload_errors         int64                   how many of the event's payloads did not decode
=====================  ======================  ================================================

Schema of ``payloads`` (one row per payload, in event order then field order):

=============  ========  ==========================================================================
column         dtype     meaning
=============  ========  ==========================================================================
event_id       int64     the event holding it
event_type     str       its type
path           str       where it is: ``activity_task_scheduled_event_attributes.input[0]``
encodings      str       layers peeled, outermost first: ``binary/encrypted → binary/zlib →
                         json/plain``
key_id         str       the ``encryption-key-id`` of an encrypted payload (never the key)
value          object    the decoded value (None when ``error`` is set)
error          str       why it could not be decoded, or missing
size_bytes     int64     its size as stored in the history (encoded)
raw            object    for undecodable payloads, the innermost ``Payload`` reached (metadata and
                         data bytes, to inspect or decode by hand); None otherwise
=============  ========  ==========================================================================
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import date, datetime
from itertools import compress, repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent

from ._gc import gc_paused
from .codecs import Chain
from .codecs.base import encoding_of
from .payloads import RawRef, event_walker, search_attribute_value
from .values import payload_values

__all__ = [
    "EVENT_COLUMNS",
    "PAYLOAD_COLUMNS",
    "FrameBuilder",
    "PagedFrames",
    "enum_label",
    "json_default",
]

ARROW = " → "

# (column, dtype, candidate field paths inside the event's attributes; the first one the
# attributes' descriptor has is used). Resolved per attributes type, once.
_ATTR_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("activity_type", "str", ("activity_type.name",)),
    ("activity_id", "str", ("activity_id",)),
    ("attempt", "Int64", ("attempt",)),
    ("workflow_type", "str", ("workflow_type.name",)),
    ("task_queue", "str", ("task_queue.name",)),
    ("signal_name", "str", ("signal_name",)),
    (
        "update_id",
        "str",
        (
            "meta.update_id",
            "accepted_request.meta.update_id",
            "request.meta.update_id",
            "rejected_request.meta.update_id",
        ),
    ),
    (
        "update_name",
        "str",
        ("accepted_request.input.name", "request.input.name", "rejected_request.input.name"),
    ),
    ("timer_id", "str", ("timer_id",)),
    ("marker_name", "str", ("marker_name",)),
    ("child_workflow_id", "str", ("workflow_execution.workflow_id", "workflow_id")),
    ("child_run_id", "str", ("workflow_execution.run_id",)),
    ("new_run_id", "str", ("new_execution_run_id",)),
    ("scheduled_event_id", "Int64", ("scheduled_event_id",)),
    ("started_event_id", "Int64", ("started_event_id",)),
    ("initiated_event_id", "Int64", ("initiated_event_id",)),
    ("identity", "str", ("identity",)),
    ("retry_state", "str", ("retry_state",)),
)

# WorkflowExecutionStarted carries the workflow's own id in ``workflow_id``: not a child's.
_SKIP: dict[str, frozenset[str]] = {
    "workflow_execution_started_event_attributes": frozenset({"workflow_id"}),
}

# Where an event's failure is, in order of preference.
_FAILURE_PATHS = ("failure", "outcome.failure", "last_failure", "continued_failure")

_VALUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("failure_message", "str"),
    ("failure_type", "str"),
    ("failure_cause", "str"),
    ("input", "object"),
    ("result", "object"),
    ("details", "object"),
    ("failure_details", "object"),
    ("memo", "object"),
    ("header", "object"),
    ("search_attributes", "object"),
    ("payload_errors", "int64"),
)

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "int64"),
    ("event_time", "datetime64[ns, UTC]"),
    ("event_type", "str"),
    ("task_id", "int64"),
    *((name, dtype) for name, dtype, _ in _ATTR_COLUMNS),
    *_VALUE_COLUMNS,
)
"""Columns of ``History.events`` with their dtypes, in order."""

PAYLOAD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "int64"),
    ("event_type", "str"),
    ("path", "str"),
    ("encodings", "str"),
    ("key_id", "str"),
    ("value", "object"),
    ("error", "str"),
    ("size_bytes", "int64"),
    ("raw", "object"),
)
"""Columns of ``History.payloads`` with their dtypes, in order."""


# -- enum labels -----------------------------------------------------------------------------


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _common_prefix(names: list[str]) -> str:
    """The longest ``WORD_`` prefix every name shares (``RETRY_STATE_``)."""
    first = names[0].split("_")
    count = 0
    while count < len(first) - 1 and all(
        n.split("_")[count] == first[count] for n in names if n.count("_") > count
    ):
        count += 1
    return "".join(part + "_" for part in first[:count])


_enum_cache: dict[str, dict[int, str]] = {}


def enum_label(enum_type: Any) -> dict[int, str]:
    """Value → CamelCase label without the enum's prefix (``RETRY_STATE_TIMEOUT`` → ``Timeout``);
    the ``..._UNSPECIFIED`` value (0) maps to nothing."""
    labels = _enum_cache.get(enum_type.full_name)
    if labels is None:
        names = [v.name for v in enum_type.values]
        prefix = _common_prefix(names) if len(names) > 1 else ""
        labels = {v.number: _camel(v.name[len(prefix) :]) for v in enum_type.values if v.number}
        _enum_cache[enum_type.full_name] = labels
    return labels


_EVENT_TYPES = enum_label(HistoryEvent.DESCRIPTOR.fields_by_name["event_type"].enum_type)


# -- per-attributes-type specs ---------------------------------------------------------------

_STR = pd.StringDtype(na_value=np.nan)  # pandas' default "str" dtype (NaN for missing)
_NAN = np.nan

_EVENT_ID = attrgetter("event_id")
_EVENT_TYPE = attrgetter("event_type")
_TASK_ID = attrgetter("task_id")
_EVENT_TIME = attrgetter("event_time")
_SECONDS = attrgetter("seconds")
_NANOS = attrgetter("nanos")
_WHICH = methodcaller("WhichOneof", "attributes")
_FIRST, _SECOND, _THIRD, _FOURTH = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
_FIRST_TWO = itemgetter(0, 1)
_KEYED = frozenset({"failure", "memo", "header", "search_attributes"})
_BYTE_SIZE = methodcaller("ByteSize")


def _resolve(desc: Any, dotted: str) -> tuple[tuple[str, ...], Any] | None:
    names = tuple(dotted.split("."))
    field: Any = None
    current: Any = desc
    for name in names:
        if current is None:
            return None
        field = current.fields_by_name.get(name)
        if field is None:
            return None
        current = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    return names, field


class _Spec:
    """What to read from events of one attributes type, resolved once from its descriptor:
    the scalar columns it fills, where its failure is, and its compiled payload walker."""

    __slots__ = ("failure", "getters", "walk")

    def __init__(self, attr_field: str | None) -> None:
        self.getters: list[tuple[int, Callable[[Any], Any], dict[int, str] | None]] = []
        self.failure: list[tuple[Callable[[Any], Any] | None, str, str]] = []
        self.walk = event_walker(attr_field)
        if attr_field is None:
            return
        desc = HistoryEvent.DESCRIPTOR.fields_by_name[attr_field].message_type
        skip = _SKIP.get(attr_field, frozenset())
        for index, (_column, _dtype, candidates) in enumerate(_ATTR_COLUMNS):
            for dotted in candidates:
                found = _resolve(desc, dotted) if dotted not in skip else None
                if found is None or found[1].type == FieldDescriptor.TYPE_MESSAGE:
                    continue
                field = found[1]
                labels = enum_label(field.enum_type) if field.type == field.TYPE_ENUM else None
                self.getters.append((index, attrgetter(dotted), labels))
                break
        for dotted in _FAILURE_PATHS:
            found = _resolve(desc, dotted)
            if found is None or found[1].message_type.full_name != Failure.DESCRIPTOR.full_name:
                continue
            holder, _, name = dotted.rpartition(".")
            self.failure.append(
                (attrgetter(holder) if holder else None, name, f"{attr_field}.{dotted}")
            )


_specs: dict[str | None, _Spec] = {}


def _spec(attr_field: str | None) -> _Spec:
    spec = _specs.get(attr_field)
    if spec is None:
        spec = _specs[attr_field] = _Spec(attr_field)
    return spec


def _failure_kind(failure: Failure) -> str | None:
    if failure.HasField("application_failure_info"):
        return failure.application_failure_info.type or "ApplicationFailure"
    which = failure.WhichOneof("failure_info")
    if which is None:
        return None
    return _camel(which.removesuffix("_info"))


def _label_table(labels: dict[int, str]) -> np.ndarray[Any, Any]:
    """enum number -> label (NaN for unknown numbers), for a vectorised look-up."""
    table = np.full(max(labels, default=0) + 2, _NAN, dtype=object)
    for number, label in labels.items():
        table[number] = label
    return table


_EVENT_TYPE_TABLE = _label_table(_EVENT_TYPES)


# -- the builder -----------------------------------------------------------------------------


class FrameBuilder:
    """Accumulates decoded pages of a history, then builds its two DataFrames.

    Args:
        chain: The codec chain payloads are decoded with (search attributes never go through
            it: the server stores them unencoded).
        converter: A ``temporalio.converter.PayloadConverter`` (the SDK's default if ``None``).
    """

    def __init__(self, chain: Chain, converter: Any = None) -> None:
        self.chain = chain
        self.converter = converter
        self._ids: list[int] = []
        self._seconds: list[int] = []
        self._nanos: list[int] = []
        self._types: list[int] = []
        self._task_ids: list[int] = []
        # Sparse scalar columns: (rows, values) of the events that have a value.
        self._cols: list[tuple[list[int], list[Any]]] = [([], []) for _ in _ATTR_COLUMNS]
        self._fail_msg: dict[int, str] = {}
        self._fail_type: dict[int, str] = {}
        self._fail_cause: dict[int, str] = {}
        self._maps: dict[str, dict[int, dict[str, Any]]] = {
            "memo": {},
            "header": {},
            "search_attributes": {},
        }
        self._enc_text: dict[tuple[str, ...], str] = {}
        # payload columns (row: the owning event's row; tag: see workbench.payloads)
        self._p_row: list[int] = []
        self._p_tag: list[str | None] = []
        self._p_path: list[str] = []
        self._p_enc: list[str] = []
        self._p_key: list[Any] = []
        self._p_value: list[Any] = []
        self._p_error: list[Any] = []
        self._p_size: list[int] = []
        self._p_raw: list[Payload | None] = []

    @property
    def event_count(self) -> int:
        """Events added so far."""
        return len(self._ids)

    @property
    def payload_count(self) -> int:
        """Payloads decoded so far."""
        return len(self._p_path)

    def payload_rows(self) -> np.ndarray[Any, Any]:
        """For each payload row, the row (position) of the event holding it."""
        return np.asarray(self._p_row, dtype=np.intp)

    def add(self, events: Sequence[HistoryEvent]) -> None:
        """Decode one page of events and append their rows."""
        # Not for chains that wait on I/O: the pause is process-wide and would last the wait.
        with gc_paused(self.chain.pauses_gc):
            self._add(events if isinstance(events, list) else list(events))

    def _add(self, events: list[HistoryEvent]) -> None:
        base = len(self._ids)
        # Top-level fields, read by C-level iteration (map + attrgetter), not a Python loop.
        self._ids.extend(map(_EVENT_ID, events))
        self._types.extend(map(_EVENT_TYPE, events))
        self._task_ids.extend(map(_TASK_ID, events))
        times = list(map(_EVENT_TIME, events))
        self._seconds.extend(map(_SECONDS, times))
        self._nanos.extend(map(_NANOS, times))
        whiches: list[str | None] = list(map(_WHICH, events))
        bodies: list[Any]
        try:
            bodies = list(map(getattr, events, whiches))  # type: ignore[arg-type]
        except TypeError:  # an event without attributes (never written by a server)
            bodies = [
                None if w is None else getattr(e, w) for e, w in zip(events, whiches, strict=True)
            ]
        # The only per-event Python loop: group events by attributes type, and find payloads.
        refs: list[RawRef] = []
        add = refs.append
        groups: dict[str | None, tuple[Any, list[int]]] = {}
        for i, which in enumerate(whiches):
            entry = groups.get(which)
            if entry is None:
                entry = groups[which] = (_spec(which).walk, [])
            walk, members = entry
            members.append(i)
            walk(events[i], bodies[i], base + i, add)
        failures: list[tuple[int, Failure, str]] = []
        for which, (_walk, members) in groups.items():
            self._add_scalars(
                _specs[which],
                [base + i for i in members],
                [bodies[i] for i in members],
                failures,
            )
        attributes = self._decode(refs)
        for frow, failure, path in failures:
            self._failure_columns(frow, failure, path, attributes)

    def _add_scalars(
        self,
        spec: _Spec,
        rows: list[int],
        bodies: list[Any],
        failures: list[tuple[int, Failure, str]],
    ) -> None:
        """Fill the scalar columns for events of one attributes type, a column at a time."""
        for index, get, labels in spec.getters:
            values = list(map(get, bodies))
            col_rows, col_values = self._cols[index]
            # proto3 defaults (0, "") mean "not set": keep only the rows that have a value.
            col_rows.extend(compress(rows, values))
            kept = filter(None, values)
            # An enum number this SDK does not know (a newer server) reads as missing.
            col_values.extend(kept if labels is None else map(labels.get, kept, repeat(_NAN)))
        taken: set[int] = set()  # an event shows one failure: the first path that has one
        for get_holder, name, path in spec.failure:
            holders = bodies if get_holder is None else list(map(get_holder, bodies))
            for row, holder in zip(rows, holders, strict=True):
                if row not in taken and holder.HasField(name):
                    taken.add(row)
                    failures.append((row, getattr(holder, name), path))

    def _decode(self, refs: list[RawRef]) -> dict[tuple[int, str], tuple[Any, str | None]]:
        """Decode a page's payloads, append their rows, fill the value columns; return the
        decoded ``encoded_attributes`` of failures by (row, path)."""
        if not refs:
            return {}
        count = len(refs)
        sa_index = [k for k in range(count) if refs[k][3] == "search_attributes"]
        values: list[Any]
        errors: list[Any]
        raws: list[Payload | None] = [None] * count
        if not sa_index:
            values, errors, encodings, key_ids = self._decode_codec(refs, raws)
        else:
            sa = set(sa_index)
            codec_index = [k for k in range(count) if k not in sa]
            values, errors = [None] * count, [_NAN] * count
            encodings, key_ids = [""] * count, [_NAN] * count
            sub_raws: list[Payload | None] = [None] * len(codec_index)
            cv, ce, cenc, ckey = self._decode_codec([refs[k] for k in codec_index], sub_raws)
            for j, k in enumerate(codec_index):
                values[k], errors[k], encodings[k], key_ids[k] = cv[j], ce[j], cenc[j], ckey[j]
                raws[k] = sub_raws[j]
            plain = payload_values([refs[k][2] for k in sa_index], self.converter)
            for k, (value, error) in zip(sa_index, plain, strict=True):
                payload = refs[k][2]
                encodings[k] = encoding_of(payload) or ""
                if error is None:
                    values[k] = search_attribute_value(value, payload)
                else:
                    errors[k] = error
                    raws[k] = _copy(payload)
        self._p_row.extend(map(_FIRST, refs))
        self._p_tag.extend(map(_FOURTH, refs))
        self._p_path.extend(map(_SECOND, refs))
        self._p_enc.extend(encodings)
        self._p_key.extend(key_ids)
        self._p_value.extend(values)
        self._p_error.extend(errors)
        self._p_size.extend(map(_BYTE_SIZE, map(_THIRD, refs)))
        self._p_raw.extend(raws)
        # input/result/details columns are built at the end, vectorised; here only the rarer
        # keyed payloads (memo, header, search attributes) and failures' encoded attributes.
        maps = self._maps
        failure_attrs: dict[tuple[int, str], tuple[Any, str | None]] = {}
        for k in [k for k, ref in enumerate(refs) if ref[3] in _KEYED]:
            row, path, _payload, tag, key = refs[k]
            if tag == "failure":
                if path.endswith("encoded_attributes"):
                    error = errors[k]
                    failure_attrs[(row, path)] = (values[k], None if error is _NAN else error)
                continue
            m = maps[tag].get(row)  # type: ignore[index]
            if m is None:
                m = maps[tag][row] = {}  # type: ignore[index]
            m[key or ""] = values[k]
        return failure_attrs

    def _decode_codec(
        self, refs: list[RawRef], raws: list[Payload | None]
    ) -> tuple[list[Any], list[Any], list[str], list[Any]]:
        """(values, errors, encodings, key ids) of payloads that go through the codec chain;
        missing errors and key ids are NaN (what the str columns hold for missing)."""
        decoded = self.chain.decode_values(list(map(_THIRD, refs)), self.converter)
        values = [value for _d, value in decoded]
        errors: list[Any] = [_NAN if d.error is None else d.error for d, _v in decoded]
        key_ids: list[Any] = [_NAN if d.key_id is None else d.key_id for d, _v in decoded]
        texts = self._enc_text
        encodings: list[str] = []
        append = encodings.append
        for d, _v in decoded:
            text = texts.get(d.encodings)
            if text is None:
                text = texts[d.encodings] = ARROW.join(d.encodings)
            append(text)
        for k, error in enumerate(errors):
            if error is not _NAN:
                # A copy: a reference into the page would keep the whole page alive.
                raws[k] = _copy(decoded[k][0].payload)
        return values, errors, encodings, key_ids

    def _failure_columns(
        self,
        row: int,
        failure: Failure,
        path: str,
        attrs: dict[tuple[int, str], tuple[Any, str | None]],
    ) -> None:
        messages: list[str] = []
        node: Failure | None = failure
        node_path = path
        top_kind = _failure_kind(failure)
        while node is not None:
            message = node.message
            if node.HasField("encoded_attributes"):
                value, error = attrs.get((row, node_path + ".encoded_attributes"), (None, None))
                text = value.get("message") if isinstance(value, dict) else None
                if error is None and isinstance(text, str):
                    message = text
                elif error is not None:  # the SDK's placeholder ("Encoded failure") alone
                    message = f"{message} (not decoded: see its encoded_attributes payload)"
            messages.append(message)
            if node.HasField("cause"):
                node = node.cause
                node_path += ".cause"
            else:
                node = None
        self._fail_msg[row] = messages[0]
        if top_kind is not None:
            self._fail_type[row] = top_kind
        if len(messages) > 1:
            self._fail_cause[row] = messages[-1]

    # -- frames ------------------------------------------------------------------------------

    def events_frame(self) -> pd.DataFrame:
        """The ``events`` DataFrame (schema in the module docstring)."""
        n = len(self._ids)
        ns = np.asarray(self._seconds, dtype=np.int64) * 1_000_000_000 + np.asarray(
            self._nanos, dtype=np.int64
        )
        cols: dict[str, Any] = {
            "event_id": np.asarray(self._ids, dtype=np.int64),
            "event_time": pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array,
            "event_type": _str_array(_lookup(_EVENT_TYPE_TABLE, self._types)),
            "task_id": np.asarray(self._task_ids, dtype=np.int64),
        }
        for (name, dtype, _), (rows, values) in zip(_ATTR_COLUMNS, self._cols, strict=True):
            idx = np.asarray(rows, dtype=np.intp)
            if dtype == "Int64":
                data = np.zeros(n, dtype=np.int64)
                data[idx] = values
                mask = np.ones(n, dtype=bool)
                mask[idx] = False
                cols[name] = pd.arrays.IntegerArray(data, mask)
            else:
                cols[name] = _str_array(_scatter(n, idx, values))
        for name, by_row in (
            ("failure_message", self._fail_msg),
            ("failure_type", self._fail_type),
            ("failure_cause", self._fail_cause),
        ):
            cols[name] = _str_array(
                _scatter(n, np.fromiter(by_row, np.intp), list(by_row.values()))
            )
        p_rows = np.asarray(self._p_row, dtype=np.intp)
        p_tags = _objects(self._p_tag)
        p_values = _objects(self._p_value)
        cols["input"] = _object_column(
            _collect(n, p_rows, p_tags == "input", p_values, single=False)
        )
        cols["result"] = _object_column(
            _collect(n, p_rows, p_tags == "result", p_values, single=True)
        )
        cols["details"] = _object_column(
            _collect(n, p_rows, p_tags == "details", p_values, single=False)
        )
        cols["failure_details"] = _object_column(self._failure_details(n, p_tags))
        for name in ("memo", "header", "search_attributes"):
            cols[name] = _object_column(_sparse_obj(self._maps[name], n))
        failed = np.fromiter((e is not _NAN for e in self._p_error), bool, len(self._p_error))
        cols["payload_errors"] = np.bincount(p_rows[failed], minlength=n).astype(np.int64)
        frame: pd.DataFrame = pd.DataFrame(cols, index=pd.RangeIndex(n), copy=False)
        return frame

    def _failure_details(self, n: int, tags: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per event, the values of its failures' details: a failure's payloads are its
        encoded attributes (read into ``failure_message``) and its details, whatever its
        failure info calls them. Outermost failure first (the walk meets causes first)."""
        found: dict[int, list[tuple[int, int, Any]]] = {}
        for k in np.flatnonzero(tags == "failure").tolist():
            path = self._p_path[k]
            if not path.endswith("encoded_attributes"):
                depth = path.count(".cause.")
                found.setdefault(self._p_row[k], []).append((depth, k, self._p_value[k]))
        out = np.full(n, None, dtype=object)
        for row, entries in found.items():
            out[row] = [value for _depth, _k, value in sorted(entries, key=_FIRST_TWO)]
        return out

    def payloads_frame(self) -> pd.DataFrame:
        """The ``payloads`` DataFrame (schema in the module docstring)."""
        n = len(self._p_path)
        rows = np.asarray(self._p_row, dtype=np.intp)
        frame: pd.DataFrame = pd.DataFrame(
            {
                "event_id": np.asarray(self._ids, dtype=np.int64)[rows],
                "event_type": _str_array(_lookup(_EVENT_TYPE_TABLE, self._types)[rows]),
                "path": _str_array(_objects(self._p_path)),
                "encodings": _str_array(_objects(self._p_enc)),
                "key_id": _str_array(_objects(self._p_key)),
                "value": _object_column(_objects(self._p_value)),
                "error": _str_array(_objects(self._p_error)),
                "size_bytes": np.asarray(self._p_size, dtype=np.int64),
                "raw": _object_column(_objects(self._p_raw)),
            },
            index=pd.RangeIndex(n),
            copy=False,
        )
        return frame


class PagedFrames:
    """Builds the frames of each page as soon as it is added (a :class:`FrameBuilder` per page),
    so that a fetch does this work while the next page is on the wire; the frames are joined
    once at the end. Rows of an event never depend on other events, so pages are independent.
    Has the interface of :class:`FrameBuilder` that :class:`~workbench.History` uses."""

    def __init__(self, chain: Chain, converter: Any = None) -> None:
        self.chain = chain
        self.converter = converter
        self._events: list[pd.DataFrame] = []
        self._payloads: list[pd.DataFrame] = []

    def add(self, events: Sequence[HistoryEvent]) -> None:
        """Decode one page of events and build its rows."""
        if not len(events):
            return
        builder = FrameBuilder(self.chain, self.converter)
        builder.add(events)
        self._events.append(builder.events_frame())
        self._payloads.append(builder.payloads_frame())

    def events_frame(self) -> pd.DataFrame:
        """The ``events`` DataFrame of every page added."""
        return self._joined(self._events, "events")

    def payloads_frame(self) -> pd.DataFrame:
        """The ``payloads`` DataFrame of every page added."""
        return self._joined(self._payloads, "payloads")

    def _joined(self, frames: list[pd.DataFrame], which: str) -> pd.DataFrame:
        if not frames:
            empty = FrameBuilder(self.chain, self.converter)
            return empty.events_frame() if which == "events" else empty.payloads_frame()
        if len(frames) == 1:
            return frames[0]
        joined: pd.DataFrame = pd.concat(frames, ignore_index=True)
        return joined


def _copy(payload: Payload) -> Payload:
    out = Payload()
    out.CopyFrom(payload)
    return out


def _lookup(table: np.ndarray[Any, Any], codes: list[int]) -> np.ndarray[Any, Any]:
    codes_arr = np.asarray(codes, dtype=np.intp)
    # Numbers this SDK does not know (a newer server) read as missing, not as an error.
    codes_arr[(codes_arr < 0) | (codes_arr >= len(table))] = len(table) - 1
    out: np.ndarray[Any, Any] = table[codes_arr]
    return out


def _scatter(n: int, idx: np.ndarray[Any, Any], values: list[Any]) -> np.ndarray[Any, Any]:
    out = np.full(n, _NAN, dtype=object)
    if len(idx):
        out[idx] = _objects(values)
    return out


def _object_column(values: np.ndarray[Any, Any]) -> pd.Series:
    """An object column as it is: pandas would make an array of nothing but strings (a
    history whose results are all text) a "str" column, with NaN for None."""
    column: pd.Series = pd.Series(values, dtype=object, copy=False)
    return column


def _objects(values: list[Any]) -> np.ndarray[Any, Any]:
    """An object array holding ``values`` as they are (lists and dicts stay one cell each)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _collect(
    n: int,
    rows: np.ndarray[Any, Any],
    mask: np.ndarray[Any, Any],
    values: np.ndarray[Any, Any],
    *,
    single: bool,
) -> np.ndarray[Any, Any]:
    """One object cell per event from the payloads selected by ``mask``: a list of their values
    (``single``: the value itself when the event has exactly one), ``None`` for the others."""
    out = np.full(n, None, dtype=object)
    sel_rows = rows[mask]
    if not len(sel_rows):
        return out
    sel_values = values[mask]
    # Rows are in event order: an event with several payloads has adjacent equal rows.
    starts = np.flatnonzero(np.r_[True, sel_rows[1:] != sel_rows[:-1]])
    if len(starts) == len(sel_rows):  # one payload per event: the common case
        out[sel_rows] = sel_values if single else _objects([[v] for v in sel_values])
        return out
    for start, end in zip(starts, [*starts[1:], len(sel_rows)], strict=True):
        group = sel_values[start:end].tolist()
        out[sel_rows[start]] = group[0] if single and len(group) == 1 else group
    return out


def _sparse_obj(by_row: dict[int, Any], n: int) -> np.ndarray[Any, Any]:
    out = np.full(n, None, dtype=object)
    for row, value in by_row.items():
        out[row] = value
    return out


def _str_array(values: np.ndarray[Any, Any]) -> Any:
    """A pandas "str" array from an object array of str and NaN, without re-inferring."""
    if _STR.storage == "python":
        return pd.arrays.StringArray(values, dtype=_STR)  # type: ignore[call-arg]
    return pd.array(values, dtype=_STR)  # pyarrow storage: let pandas convert


def json_default(value: Any) -> Any:
    """``json.dumps`` ``default=`` for decoded values: datetimes as ISO 8601, bytes as base64,
    protobuf messages as proto3 JSON, anything else as its ``str``."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Message):
        return MessageToDict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)

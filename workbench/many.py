"""Many histories at once: fetched concurrently, decoded, and searchable inside their payloads.

>>> hs = s.histories("WorkflowType='OrderWorkflow' AND ExecutionStatus='Failed'", limit=5_000)
>>> hs.runs                                   # one row per run: status, events, payloads, error
>>> hs.events                                 # workflow_id, run_id, then History.events' columns
>>> hs.search(lambda v: v.get("customer") == "Ada")   # payload rows whose value matches
>>> hs.search("4111-1111")                    # or any text inside the decoded values

Each run's events are fetched, encoded, by :func:`workbench.history.fetch_raw_history` (the
paging :meth:`workbench.Session.history` uses) on a pool of threads, while the caller's thread
decodes the runs already fetched a batch at a time (:data:`BATCH_EVENTS`) with the library's
:class:`~workbench.history_frames.FrameBuilder`: one codec call and one pair of frames per batch,
since building frames run by run would cost more than decoding them. A codec server
(:class:`~workbench.codecs.Remote`) therefore gets the payloads of many runs per request. Rows
are put back in the order of :attr:`Histories.runs`.

A run failing with ``RESOURCE_EXHAUSTED`` or ``UNAVAILABLE`` (rate limits, a restarting server)
is fetched again after a capped backoff that every thread observes, so the whole pool slows
down; a run failing otherwise (deleted, not found) becomes a row of :attr:`Histories.runs` with
its ``error``.
"""

from __future__ import annotations

import json
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History as HistoryProto

from .codecs import Chain
from .errors import ArgumentError, NotFound, WorkbenchError
from .history import History, HistoryInterrupted, _ids_from_events, fetch_raw_history
from .history_frames import EVENT_COLUMNS, PAYLOAD_COLUMNS, FrameBuilder, json_default
from .values import as_converter

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "DEFAULT_CONCURRENCY",
    "RUN_COLUMNS",
    "Histories",
    "OnRun",
    "RunRef",
    "decode_histories",
    "fetch_histories",
    "warn_undecoded_runs",
]

DEFAULT_CONCURRENCY = 8
"""Runs fetched at once. Each fetch waits on the server most of the time (a small history is one
or two round trips), so a few threads keep the server busy; more mostly add rate-limit pressure
on the namespace."""

RETRY_DEADLINE = 120.0
"""Seconds one run keeps retrying ``RESOURCE_EXHAUSTED``/``UNAVAILABLE`` before it is a row
with its error."""

_BACKOFF_START = 0.1
_BACKOFF_CAP = 2.0
_RETRY_CODES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE"})

OnRun = Callable[[int, int], None]
"""``on_run(done, total)``: called after each run is fetched (or failed), runs so far."""

RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("workflow_id", "str"),
    ("run_id", "str"),
    ("workflow_type", "str"),
    ("status", "str"),
    ("events", "int64"),
    ("payloads", "int64"),
    ("undecodable", "int64"),
    ("fetched", "bool"),
    ("error", "str"),
)
"""Columns of :attr:`Histories.runs`: ``events``/``payloads``/``undecodable`` count the run's
rows; ``fetched`` is ``False`` for a run whose history is not in the result (an ``error`` says
why, or the fetch was stopped before it)."""

_ID_COLUMNS = (("workflow_id", "str"), ("run_id", "str"))
MANY_EVENT_COLUMNS: tuple[tuple[str, str], ...] = (*_ID_COLUMNS, *EVENT_COLUMNS)
MANY_PAYLOAD_COLUMNS: tuple[tuple[str, str], ...] = (*_ID_COLUMNS, *PAYLOAD_COLUMNS)


@dataclass(frozen=True)
class RunRef:
    """One run to fetch: its ids, and what the listing said about it."""

    workflow_id: str
    run_id: str
    workflow_type: str | None = None
    status: str | None = None


# -- the result ------------------------------------------------------------------------------


class Histories:
    """The decoded histories of many runs, as three frames.

    Attributes:
        runs: One row per run (:data:`RUN_COLUMNS`).
        complete: ``False`` when the fetch was stopped (``stop``, Ctrl-C) before every run
            was fetched; the runs not fetched have ``fetched = False``.
        path: The Parquet dataset the rows were written to (``to=``), else ``None``.
        query: The visibility query the runs came from, if any.
        retries: Fetches that were retried (rate limits, an unavailable server).
    """

    EVENT_COLUMNS = MANY_EVENT_COLUMNS
    """Columns of :attr:`events`: ``workflow_id``, ``run_id``, then ``History.events``'."""
    PAYLOAD_COLUMNS = MANY_PAYLOAD_COLUMNS
    """Columns of :attr:`payloads`: ``workflow_id``, ``run_id``, then ``History.payloads``'."""
    RUN_COLUMNS = RUN_COLUMNS

    def __init__(
        self,
        runs: pd.DataFrame,
        *,
        events: pd.DataFrame | None = None,
        payloads: pd.DataFrame | None = None,
        raws: dict[tuple[str, str], HistoryProto] | None = None,
        codec: Chain | None = None,
        complete: bool = True,
        path: Path | None = None,
        query: str | None = None,
        retries: int = 0,
    ) -> None:
        self.runs = runs
        self.retries = retries
        self.problems: pd.DataFrame = pd.DataFrame()
        """Files that could not be read in full (:func:`workbench.read_export`): ``file``,
        ``offset``, ``runs_read``, ``error``; empty otherwise."""
        self.complete = complete
        self.path = path
        self.query = query
        self.codec = codec
        self._raws = raws or {}
        self._events = events
        self._payloads = payloads

    def __repr__(self) -> str:
        runs = self.runs
        fetched = int(runs["fetched"].sum()) if len(runs) else 0
        failed = int(runs["error"].notna().sum()) if len(runs) else 0
        bad = int(runs["undecodable"].sum()) if len(runs) else 0
        parts = [f"{fetched} of {len(runs)} runs fetched"]
        if failed:
            parts.append(f"{failed} failed")
        parts.append(f"{int(runs['events'].sum()) if len(runs) else 0} events")
        parts.append(f"{int(runs['payloads'].sum()) if len(runs) else 0} payloads")
        if bad:
            parts.append(f"{bad} undecodable")
        where = f" in {str(self.path)!r}" if self.path is not None else ""
        partial = "" if self.complete else " (incomplete)"
        return f"<Histories: {', '.join(parts)}{where}{partial}>"

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def histories(self) -> list[History]:
        """A :class:`~workbench.History` per fetched run, in :attr:`runs` order (empty for a
        result written to Parquet). Built on demand from the frames."""
        return [self.history(w, r) for w, r in self._raws]

    def history(self, workflow_id: str, run_id: str | None = None) -> History:
        """The :class:`~workbench.History` of one run of the result (its rows of the frames,
        and the events as stored).

        Raises:
            NotFound: The run is not in the result (or the result was written to Parquet).
        """
        key = next(
            (k for k in self._raws if k[0] == workflow_id and (run_id is None or k[1] == run_id)),
            None,
        )
        if key is None:
            raise NotFound(
                f"workflow {workflow_id!r}"
                + (f" run {run_id!r}" if run_id else "")
                + " is not among the fetched histories (Histories.runs lists them; a result "
                "written to Parquet is read back with Histories.events)",
                workflow_id=workflow_id,
                run_id=run_id,
            )
        ev, p = self.events, self.payloads
        ids = ["workflow_id", "run_id"]
        mine = (ev["workflow_id"] == key[0]) & (ev["run_id"] == key[1])
        pmine = (p["workflow_id"] == key[0]) & (p["run_id"] == key[1])
        return History(
            self._raws[key],
            ev[mine].drop(columns=ids).reset_index(drop=True),
            p[pmine].drop(columns=ids).reset_index(drop=True),
            workflow_id=key[0],
            run_id=key[1],
            codec=self.codec if self.codec is not None else Chain(),
        )

    @property
    def events(self) -> pd.DataFrame:
        """One row per event of every run: ``workflow_id``, ``run_id``, then the columns of
        :attr:`workbench.History.events`. Read from the dataset when written with ``to=``
        (decoded values are JSON text there)."""
        if self._events is None:
            if self.path is not None:
                self._events = _read_part(self.path / "events", MANY_EVENT_COLUMNS)
            else:
                self._events = _empty(MANY_EVENT_COLUMNS)
        return self._events

    @property
    def payloads(self) -> pd.DataFrame:
        """One row per payload of every run: ``workflow_id``, ``run_id``, then the columns of
        :attr:`workbench.History.payloads`. Read from the dataset when written with ``to=``
        (values are JSON text there, ``raw`` the serialized Payload)."""
        if self._payloads is None:
            if self.path is not None:
                self._payloads = _read_part(self.path / "payloads", MANY_PAYLOAD_COLUMNS)
            else:
                self._payloads = _empty(MANY_PAYLOAD_COLUMNS)
        return self._payloads

    @property
    def errors(self) -> pd.DataFrame:
        """The rows of :attr:`payloads` that could not be decoded."""
        p = self.payloads
        rows: pd.DataFrame = p[p["error"].notna()]
        return rows

    def search(self, what: str | Callable[[Any], Any], *, case: bool = True) -> pd.DataFrame:
        """Payload rows whose decoded value matches.

        >>> hs.search(lambda v: v.get("customer") == "Ada")
        >>> hs.search("4111-1111")

        Args:
            what: A predicate called with each decoded value (a value for which it raises,
                e.g. ``.get`` on a string, does not match), or a text looked for inside each
                value (its JSON text, nested values included).
            case: For a text: match case (``False``: ignore it).

        Returns:
            The matching rows of :attr:`payloads` (same columns, original index). A result
            written with ``to=`` is searched one Parquet file at a time.

        Raises:
            ArgumentError: ``what`` is neither text nor callable, or the predicate raised for
                every value (the first error is named).
        """
        if isinstance(what, str):
            if not what:
                raise ArgumentError(
                    "search text is empty; give the text to look for", argument="what"
                )
            matcher = _text_matcher(what, case)
        elif callable(what):
            matcher = _predicate_matcher(what)
        else:
            raise ArgumentError(
                f"search takes a text or a predicate (a function of the value), got "
                f"{type(what).__name__}",
                argument="what",
            )
        if self.path is not None:
            found = [
                part[matcher.mask(part["value"].map(_from_json).tolist())]
                for part in _iter_parts(self.path / "payloads", MANY_PAYLOAD_COLUMNS)
            ]
            out = pd.concat(found) if found else _empty(MANY_PAYLOAD_COLUMNS)
        else:
            p = self.payloads
            out = p[matcher.mask(p["value"].tolist())]
        matcher.check()
        return out


class _Matcher:
    def __init__(self, test: Callable[[Any], bool]) -> None:
        self.test = test
        self.calls = 0
        self.failures = 0
        self.first_error: BaseException | None = None

    def mask(self, values: list[Any]) -> np.ndarray[Any, Any]:
        return np.fromiter((self._one(v) for v in values), dtype=bool, count=len(values))

    def _one(self, value: Any) -> bool:
        if value is None:
            return False
        self.calls += 1
        try:
            return bool(self.test(value))
        except Exception as err:  # a predicate meant for dicts meets a string: no match
            self.failures += 1
            if self.first_error is None:
                self.first_error = err
            return False

    def check(self) -> None:
        if self.calls and self.failures == self.calls and self.first_error is not None:
            err = self.first_error
            raise ArgumentError(
                f"the search predicate raised for every one of the {self.calls} values "
                f"({type(err).__name__}: {err}); check it on one value, e.g. "
                "hs.payloads.value.iloc[0]",
                argument="what",
            )


def _predicate_matcher(predicate: Callable[[Any], Any]) -> _Matcher:
    return _Matcher(predicate)


def _text_matcher(text: str, case: bool) -> _Matcher:
    needle = text if case else text.lower()

    def test(value: Any) -> bool:
        hay = value if isinstance(value, str) else _to_json(value)
        return needle in (hay if case else hay.lower())

    return _Matcher(test)


def _to_json(value: Any) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False)


def _from_json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- frames ----------------------------------------------------------------------------------


def _empty(columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    series = {name: pd.Series(dtype=dtype) for name, dtype in columns}  # type: ignore[call-overload]
    frame: pd.DataFrame = pd.DataFrame(series)
    return frame


def _runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return _empty(RUN_COLUMNS)
    frame = pd.DataFrame(rows, columns=[c for c, _ in RUN_COLUMNS])
    typed: pd.DataFrame = frame.astype(dict(RUN_COLUMNS))  # type: ignore[arg-type]
    return typed


# -- Parquet ---------------------------------------------------------------------------------


def _arrow_schema(columns: Sequence[tuple[str, str]]) -> Any:
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "int64": pa.int64(),
        "Int64": pa.int64(),
        "bool": pa.bool_(),
        "object": pa.string(),  # decoded values as JSON text
        "datetime64[ns, UTC]": pa.timestamp("ns", tz="UTC"),
    }
    fields = [
        pa.field(name, pa.binary() if name == "raw" else types[dtype]) for name, dtype in columns
    ]
    return pa.schema(fields)


def _for_parquet(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    out: pd.DataFrame = frame.copy(deep=False)
    for name, dtype in columns:
        if dtype != "object":
            continue
        if name == "raw":
            out[name] = [None if p is None else p.SerializeToString() for p in out[name]]
        else:
            out[name] = [None if v is None else _to_json(v) for v in out[name]]
    return out


class _ParquetSink:
    """Writes each decoded batch of runs to ``<path>/events/part-N.parquet`` and
    ``<path>/payloads/part-N.parquet`` as it comes (bounded memory), and ``<path>/runs.parquet``
    at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts = 0
        try:
            (path / "events").mkdir(parents=True, exist_ok=True)
            (path / "payloads").mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ArgumentError(
                f"cannot create the Parquet dataset folder {str(path)!r}: {err}", argument="to"
            ) from None
        stale = list((path / "events").glob("*.parquet")) + list(
            (path / "payloads").glob("*.parquet")
        )
        if stale:
            raise ArgumentError(
                f"{str(path)!r} already holds a dataset ({len(stale)} part files); choose a new "
                "path or delete the old one, so that two results are not mixed",
                argument="to",
            )
        self.event_schema = _arrow_schema(MANY_EVENT_COLUMNS)
        self.payload_schema = _arrow_schema(MANY_PAYLOAD_COLUMNS)

    def write(self, events: pd.DataFrame, payloads: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = f"part-{self.parts:05d}.parquet"
        for folder, frame, columns, schema in (
            ("events", events, MANY_EVENT_COLUMNS, self.event_schema),
            ("payloads", payloads, MANY_PAYLOAD_COLUMNS, self.payload_schema),
        ):
            table = pa.Table.from_pandas(
                _for_parquet(frame, columns), schema=schema, preserve_index=False
            )
            pq.write_table(table, self.path / folder / name)
        self.parts += 1

    def close(self, runs: pd.DataFrame) -> None:
        runs.to_parquet(self.path / "runs.parquet", index=False)


def _iter_parts(folder: Path, columns: Sequence[tuple[str, str]]) -> Iterator[pd.DataFrame]:
    for part in sorted(folder.glob("*.parquet")):
        yield pd.read_parquet(part)


def _read_part(folder: Path, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    parts = list(_iter_parts(folder, columns))
    if not parts:
        return _empty([(n, "str" if d == "object" else d) for n, d in columns])
    frame: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return frame


class _Throttle:
    """A pause every fetch thread honours before its next call: set by a thread that met
    ``RESOURCE_EXHAUSTED``, so the whole pool slows down, not just that thread."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def slow_down(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, halt: threading.Event) -> bool:
        """Wait out the pause; True if halted meanwhile."""
        while (left := self._until - time.monotonic()) > 0:
            if halt.wait(min(left, 0.1)):
                return True
        return halt.is_set()


def _retryable(error: WorkbenchError) -> bool:
    code = getattr(error, "grpc_code", None)
    return code in _RETRY_CODES and "larger than" not in str(getattr(error, "details", "") or "")


@dataclass
class _Outcome:
    ref: RunRef
    raw: HistoryProto | None  # the events, when the run was fetched whole
    run_id: str
    error: str | None
    retries: int = 0


def _fetch_one(
    conn: Connection,
    ref: RunRef,
    halt: threading.Event,
    throttle: _Throttle,
    retry_deadline: float,
) -> _Outcome:
    """Fetch one run's events (encoded), retrying rate limits and an unavailable server."""
    delay = _BACKOFF_START
    give_up: float | None = None
    retries = 0
    while True:
        if throttle.wait(halt):
            return _Outcome(ref, None, ref.run_id, None, retries)
        try:
            fetched = fetch_raw_history(conn, ref.workflow_id, ref.run_id or None, stop=halt)
        except WorkbenchError as err:
            if not _retryable(err):
                return _Outcome(ref, None, ref.run_id, err.message, retries)
            now = time.monotonic()
            give_up = give_up if give_up is not None else now + retry_deadline
            if now + delay > give_up:
                message = f"{err.message} (gave up after {retry_deadline:g} s)"
                return _Outcome(ref, None, ref.run_id, message, retries)
            retries += 1
            if getattr(err, "grpc_code", None) == "RESOURCE_EXHAUSTED":
                throttle.slow_down(delay)
            if halt.wait(delay * (0.5 + random.random())):
                return _Outcome(ref, None, ref.run_id, None, retries)
            delay = min(delay * 2, _BACKOFF_CAP)
            continue
        if not fetched.complete:  # halted mid-way: the run is not fetched
            return _Outcome(ref, None, fetched.run_id, None, retries)
        return _Outcome(ref, fetched.history, fetched.run_id, None, retries)


BATCH_EVENTS = 5_000
"""Events decoded together: the runs fetched so far are decoded (one codec call, one pair of
frames) once this many events wait, and at the end. Building frames per run would cost more
than decoding them; a codec server gets the payloads of many runs per request."""


class _Collector:
    """Decodes fetched runs a batch at a time into frames (one :class:`FrameBuilder` per batch:
    rows of an event never depend on other events, so runs can share one), and keeps or writes
    the frames."""

    def __init__(self, codec: Chain, converter: Any, sink: _ParquetSink | None) -> None:
        self.codec = codec
        self.converter = converter
        self.sink = sink
        self.events: list[pd.DataFrame] = []
        self.payloads: list[pd.DataFrame] = []
        self.event_order: list[np.ndarray[Any, Any]] = []  # run position of each row
        self.payload_order: list[np.ndarray[Any, Any]] = []
        self.raws: dict[tuple[str, str], HistoryProto] = {}

    def decode(
        self, batch: Sequence[tuple[RunRef, HistoryProto]], positions: Sequence[int]
    ) -> list[dict[str, Any]]:
        """Decode a batch of runs (``positions``: their places in the result's run order);
        return their rows for :attr:`Histories.runs`."""
        if not batch:
            return []
        builder = FrameBuilder(self.codec, self.converter)
        events: list[Any] = []
        counts: list[int] = []
        for _ref, raw in batch:
            events.extend(raw.events)
            counts.append(len(raw.events))
        builder.add(events)
        ev = builder.events_frame()
        pf = builder.payloads_frame()
        offsets = np.cumsum([0, *counts])
        rows = builder.payload_rows()
        owner: np.ndarray[Any, Any] = np.searchsorted(offsets, rows, side="right") - 1
        wids = np.asarray([ref.workflow_id for ref, _ in batch], dtype=object)
        rids = np.asarray([ref.run_id for ref, _ in batch], dtype=object)
        ev.insert(0, "run_id", pd.Series(np.repeat(rids, counts), dtype="str"))
        ev.insert(0, "workflow_id", pd.Series(np.repeat(wids, counts), dtype="str"))
        pf.insert(0, "run_id", pd.Series(rids[owner], dtype="str"))
        pf.insert(0, "workflow_id", pd.Series(wids[owner], dtype="str"))
        n = len(batch)
        payloads = np.bincount(owner, minlength=n)
        bad = np.bincount(owner[pf["error"].notna().to_numpy()], minlength=n)
        if self.sink is not None:
            self.sink.write(ev, pf)
        else:
            places = np.asarray(positions, dtype=np.int64)
            self.events.append(ev)
            self.payloads.append(pf)
            self.event_order.append(np.repeat(places, counts))
            self.payload_order.append(places[owner])
            for ref, raw in batch:
                self.raws[(ref.workflow_id, ref.run_id)] = raw
        return [
            {
                "workflow_id": ref.workflow_id,
                "run_id": ref.run_id,
                "workflow_type": ref.workflow_type or _workflow_type(raw),
                "status": ref.status or _status(raw),
                "events": counts[k],
                "payloads": int(payloads[k]),
                "undecodable": int(bad[k]),
                "fetched": True,
                "error": None,
            }
            for k, (ref, raw) in enumerate(batch)
        ]

    def result(
        self, runs: pd.DataFrame, *, complete: bool, query: str | None, retries: int
    ) -> Histories:
        if self.sink is not None:
            self.sink.close(runs)
        # Runs are decoded in the order they arrive; rows are put back in run order.
        events = _joined(self.events, MANY_EVENT_COLUMNS, self.event_order)
        payloads = _joined(self.payloads, MANY_PAYLOAD_COLUMNS, self.payload_order)
        return Histories(
            runs,
            events=None if self.sink is not None else events,
            payloads=None if self.sink is not None else payloads,
            raws=self.raws,
            codec=self.codec,
            complete=complete,
            path=self.sink.path if self.sink is not None else None,
            query=query,
            retries=retries,
        )


def _joined(
    frames: list[pd.DataFrame],
    columns: Sequence[tuple[str, str]],
    orders: list[np.ndarray[Any, Any]],
) -> pd.DataFrame:
    if not frames:
        return _empty(columns)
    joined: pd.DataFrame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    order = np.concatenate(orders) if orders else np.zeros(0, dtype=np.int64)
    if len(order) and (np.diff(order) < 0).any():
        # stable: a run's rows keep their event order
        joined = joined.take(np.argsort(order, kind="stable")).reset_index(drop=True)
    return joined


def _workflow_type(raw: HistoryProto) -> str | None:
    if not raw.events or not raw.events[0].HasField("workflow_execution_started_event_attributes"):
        return None
    name = raw.events[0].workflow_execution_started_event_attributes.workflow_type.name
    return name or None


_CLOSE_STATUS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "Completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "Failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "Canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "Terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "ContinuedAsNew",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TimedOut",
}


def _status(raw: HistoryProto) -> str | None:
    """The status a history's last event says (``Running`` when it is not a closing one)."""
    if not raw.events:
        return None
    return _CLOSE_STATUS.get(raw.events[-1].event_type, "Running")


def _unfetched_row(ref: RunRef, error: str | None) -> dict[str, Any]:
    return {
        "workflow_id": ref.workflow_id,
        "run_id": ref.run_id,
        "workflow_type": ref.workflow_type,
        "status": ref.status,
        "events": 0,
        "payloads": 0,
        "undecodable": 0,
        "fetched": False,
        "error": error,
    }


def fetch_histories(
    conn: Connection,
    runs: Iterable[RunRef],
    *,
    codec: Chain,
    concurrency: int = DEFAULT_CONCURRENCY,
    converter: Any = None,
    to: str | Path | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    on_run: OnRun | None = None,
    retry_deadline: float = RETRY_DEADLINE,
    query: str | None = None,
) -> Histories:
    """Fetch the histories of ``runs`` on ``concurrency`` threads and decode them in batches
    on the caller's thread while the next ones are fetched.

    See :meth:`workbench.Session.histories` for what the result holds and how interruption,
    retries and failures are handled.

    Raises:
        ArgumentError: ``concurrency`` is not a positive int, or ``to`` cannot be used.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ArgumentError(
            f"concurrency must be a positive int (runs fetched at once), got {concurrency!r}",
            argument="concurrency",
        )
    refs = list(runs)
    sink = _ParquetSink(Path(to).expanduser()) if to is not None else None
    collector = _Collector(codec, as_converter(converter), sink)
    halt = threading.Event()
    throttle = _Throttle()
    outcomes: dict[int, _Outcome] = {}
    rows: dict[int, dict[str, Any]] = {}
    waiting: list[int] = []  # fetched, not yet decoded
    waiting_events = 0
    bar = _runs_bar(len(refs)) if progress else None
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="workbench-history")
    pending: dict[Future[_Outcome], int] = {}
    todo = iter(enumerate(refs))
    window = concurrency * 4  # runs queued ahead: bounded, so fetched events do not pile up

    def submit() -> None:
        while len(pending) < window and not halt.is_set():
            item = next(todo, None)
            if item is None:
                return
            index, ref = item
            future = pool.submit(_fetch_one, conn, ref, halt, throttle, retry_deadline)
            pending[future] = index

    def settle(index: int, outcome: _Outcome) -> None:
        nonlocal waiting_events
        outcomes[index] = outcome
        if outcome.raw is not None:
            waiting.append(index)
            waiting_events += len(outcome.raw.events)

    def decode_waiting() -> None:
        # A batch is decoded whole or not at all (an interrupt leaves it waiting).
        nonlocal waiting_events
        batch = [
            (
                RunRef(
                    outcomes[i].ref.workflow_id,
                    outcomes[i].run_id,
                    outcomes[i].ref.workflow_type,
                    outcomes[i].ref.status,
                ),
                outcomes[i].raw,
            )
            for i in waiting
        ]
        decoded = collector.decode(batch, waiting)  # type: ignore[arg-type]
        for i, row in zip(waiting, decoded, strict=True):
            rows[i] = row
            outcomes[i].raw = None  # its events are in the frames (and kept by the collector)
        waiting.clear()
        waiting_events = 0

    interrupted = False
    try:
        submit()
        while pending or waiting:
            if stop is not None and stop.is_set():
                halt.set()
            if pending:
                done, _ = wait(list(pending), timeout=0.05, return_when=FIRST_COMPLETED)
            else:
                done = set()
            for future in done:
                settle(pending.pop(future), future.result())
                if bar is not None:
                    bar.update(1)
                if on_run is not None:
                    on_run(len(outcomes), len(refs))
            submit()
            if waiting and (waiting_events >= BATCH_EVENTS or not pending):
                decode_waiting()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        halt.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    if interrupted:  # what finished while the pool wound down is kept too
        for future, index in pending.items():
            if future.done() and not future.cancelled() and index not in outcomes:
                settle(index, future.result())
    decode_waiting()
    run_rows = []
    for index, ref in enumerate(refs):
        if index in rows:
            run_rows.append(rows[index])
            continue
        outcome = outcomes.get(index)
        run_rows.append(_unfetched_row(ref, outcome.error if outcome is not None else None))
    runs_frame = _runs_frame(run_rows)
    fetched_or_failed = runs_frame["fetched"] | runs_frame["error"].notna()
    complete = bool(fetched_or_failed.all())
    result = collector.result(
        runs_frame,
        complete=complete,
        query=query,
        retries=sum(o.retries for o in outcomes.values()),
    )
    if not complete:
        missing = int((~fetched_or_failed).sum())
        warnings.warn(
            f"fetching histories stopped early: {len(refs) - missing} of {len(refs)} runs are "
            f"in the result; the {missing} others have fetched=False in Histories.runs.",
            HistoryInterrupted,
            stacklevel=4,  # the caller of Session.histories / histories_for
        )
    return result


def _runs_bar(total: int) -> Any:
    from tqdm.auto import tqdm  # imported lazily: tqdm.auto probes for Jupyter

    return tqdm(total=total, unit=" runs", desc="histories", delay=0.5, leave=False)


def refs_from(runs: Any) -> list[RunRef]:
    """Runs to fetch from what a user holds: a frame of :meth:`workbench.Session.workflows`
    (or any frame with ``workflow_id`` and optionally ``run_id``, ``workflow_type``,
    ``status``), a list of workflow ids, or of ``(workflow_id, run_id)`` pairs.

    Raises:
        ArgumentError: Something else, or a frame without a ``workflow_id`` column.
    """
    if isinstance(runs, pd.DataFrame):
        if "workflow_id" not in runs.columns:
            raise ArgumentError(
                "the frame has no 'workflow_id' column; pass rows of s.workflows(...) (or a "
                "frame with workflow_id and run_id columns)",
                argument="runs",
            )
        n = len(runs)

        def column(name: str) -> list[Any]:
            if name not in runs.columns:
                return [None] * n
            return [v if isinstance(v, str) and v else None for v in runs[name].tolist()]

        wids = runs["workflow_id"].tolist()
        rids, types, statuses = column("run_id"), column("workflow_type"), column("status")
        return [
            RunRef(str(w), r or "", t, s)
            for w, r, t, s in zip(wids, rids, types, statuses, strict=True)
        ]
    if isinstance(runs, pd.Series):
        runs = runs.tolist()
    if isinstance(runs, str) or not isinstance(runs, Iterable):
        raise ArgumentError(
            f"histories_for takes a frame of s.workflows(), a list of workflow ids or of "
            f"(workflow_id, run_id) pairs, got {type(runs).__name__}",
            argument="runs",
        )
    out: list[RunRef] = []
    for item in runs:
        if isinstance(item, str) and item:
            out.append(RunRef(item, ""))
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and item[0]
            and isinstance(item[1], (str, type(None)))
        ):
            out.append(RunRef(item[0], item[1] or ""))
        else:
            raise ArgumentError(
                f"histories_for: {item!r} is neither a workflow id nor a (workflow_id, run_id) "
                "pair",
                argument="runs",
            )
    return out


def decode_histories(
    protos: Sequence[HistoryProto], codec: Chain, converter: Any = None
) -> Histories:
    """Decode histories already in memory (export files) into a :class:`Histories`, a batch
    of runs at a time (a codec server gets the payloads of several runs per request)."""
    collector = _Collector(codec, as_converter(converter), None)
    batch: list[tuple[RunRef, HistoryProto]] = []
    places: list[int] = []
    size = 0
    rows: list[dict[str, Any]] = []
    for place, proto in enumerate(protos):
        wid, rid = _ids_from_events(proto)
        batch.append((RunRef(wid, rid), proto))
        places.append(place)
        size += len(proto.events)
        if size >= BATCH_EVENTS:
            rows += collector.decode(batch, places)
            batch, places, size = [], [], 0
    rows += collector.decode(batch, places)
    return collector.result(_runs_frame(rows), complete=True, query=None, retries=0)


def warn_undecoded_runs(hs: Histories, *, stacklevel: int = 2) -> None:
    """Warn (``UserWarning``) once when payloads of some runs could not be decoded, with the most
    common reason, so that a wrong or missing key is never silent."""
    runs = hs.runs
    if not len(runs):
        return
    bad = int(runs["undecodable"].sum())
    if not bad:
        return
    total = int(runs["payloads"].sum())
    affected = int((runs["undecodable"] > 0).sum())
    reasons = hs.errors["error"].value_counts() if hs.path is None else None
    top = f" Most common reason: {reasons.index[0]}" if reasons is not None and len(reasons) else ""
    warnings.warn(
        f"{bad} of {total} payloads in {affected} of {len(runs)} runs could not be decoded; "
        f"their rows have value None and the reason in 'error' (Histories.errors lists them).{top}",
        UserWarning,
        stacklevel=stacklevel + 1,
    )

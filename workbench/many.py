"""Many histories at once: fetched concurrently, decoded, and searchable inside their payloads.

>>> hs = s.histories("WorkflowType='OrderWorkflow' AND ExecutionStatus='Failed'", limit=5_000)
>>> hs.runs                                   # one row per run: status, events, payloads, error
>>> hs.events                                 # workflow_id, run_id, then History.events' columns
>>> hs.search(lambda v: v.get("customer") == "Ada")   # payload rows whose value matches
>>> hs.search("4111-1111")                    # or any text inside the decoded values

Each run is fetched by :func:`workbench.history.fetch_history_quiet` (the library's one fetch and
decode) on a pool of threads. A run failing with ``RESOURCE_EXHAUSTED`` or ``UNAVAILABLE`` (rate
limits, a restarting server) is fetched again after a capped backoff that every thread observes,
so the whole pool slows down; a run failing otherwise (deleted, not found) becomes a row of
:attr:`Histories.runs` with its ``error``. Codecs that make a request per batch (a codec server,
:class:`~workbench.codecs.Remote`) are shared by the threads through a coalescer, so one request
carries the payloads of several runs.
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
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from temporalio.api.common.v1 import Payload

from .codecs import Chain, Remote
from .codecs.base import Codec, DecodeFailure
from .errors import ArgumentError, NotFound, WorkbenchError
from .history import History, HistoryInterrupted, fetch_history_quiet
from .history_frames import EVENT_COLUMNS, PAYLOAD_COLUMNS, json_default

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

_T = TypeVar("_T")

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
        histories: Sequence[History] = (),
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
        self._histories = list(histories)
        self._events: pd.DataFrame | None = None
        self._payloads: pd.DataFrame | None = None

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
        """The :class:`~workbench.History` of each fetched run, in :attr:`runs` order (empty
        for a result written to Parquet)."""
        return list(self._histories)

    def history(self, workflow_id: str, run_id: str | None = None) -> History:
        """The :class:`~workbench.History` of one run of the result.

        Raises:
            NotFound: The run is not in the result (or the result was written to Parquet).
        """
        for h in self._histories:
            if h.workflow_id == workflow_id and (run_id is None or h.run_id == run_id):
                return h
        raise NotFound(
            f"workflow {workflow_id!r}"
            + (f" run {run_id!r}" if run_id else "")
            + " is not among the fetched histories (Histories.runs lists them; a run written "
            "to Parquet is read back with Histories.events)",
            workflow_id=workflow_id,
            run_id=run_id,
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
                self._events = _concat(self._histories, "events", MANY_EVENT_COLUMNS)
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
                self._payloads = _concat(self._histories, "payloads", MANY_PAYLOAD_COLUMNS)
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


def _concat(
    histories: Sequence[History], attr: str, columns: Sequence[tuple[str, str]]
) -> pd.DataFrame:
    frames = [getattr(h, attr) for h in histories]
    if not frames:
        return _empty(columns)
    body: pd.DataFrame = pd.concat(frames, ignore_index=True)
    lengths = [len(f) for f in frames]
    ids = {
        "workflow_id": _str_column([h.workflow_id for h in histories], lengths),
        "run_id": _str_column([h.run_id for h in histories], lengths),
    }
    frame: pd.DataFrame = pd.concat([pd.DataFrame(ids, index=body.index), body], axis=1)
    return frame


def _str_column(values: list[str], lengths: list[int]) -> pd.Series:
    repeated = np.repeat(np.asarray(values, dtype=object), lengths)
    column: pd.Series = pd.Series(repeated, dtype="str")
    return column


def _runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return _empty(RUN_COLUMNS)
    frame = pd.DataFrame(rows, columns=[c for c, _ in RUN_COLUMNS])
    typed: pd.DataFrame = frame.astype(dict(RUN_COLUMNS))  # type: ignore[arg-type]
    return typed


def _run_row(ref: RunRef, history: History | None, error: str | None) -> dict[str, Any]:
    if history is None:
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
    p = history.payloads
    return {
        "workflow_id": history.workflow_id or ref.workflow_id,
        "run_id": history.run_id or ref.run_id,
        "workflow_type": ref.workflow_type or _workflow_type(history),
        "status": ref.status or _status(history),
        "events": len(history.events),
        "payloads": len(p),
        "undecodable": int(p["error"].notna().sum()),
        "fetched": True,
        "error": error,
    }


def _workflow_type(history: History) -> str | None:
    ev = history.events
    if not len(ev) or ev["event_type"].iloc[0] != "WorkflowExecutionStarted":
        return None
    value = ev["workflow_type"].iloc[0]
    return value if isinstance(value, str) else None


_CLOSE_STATUS = {
    "WorkflowExecutionCompleted": "Completed",
    "WorkflowExecutionFailed": "Failed",
    "WorkflowExecutionCanceled": "Canceled",
    "WorkflowExecutionTerminated": "Terminated",
    "WorkflowExecutionContinuedAsNew": "ContinuedAsNew",
    "WorkflowExecutionTimedOut": "TimedOut",
}


def _status(history: History) -> str | None:
    """The status a history's last event says (``Running`` when it is not a closing one)."""
    ev = history.events
    if not len(ev):
        return None
    return _CLOSE_STATUS.get(str(ev["event_type"].iloc[-1]), "Running")


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
    """Writes the rows of fetched runs to ``<path>/events/part-N.parquet`` and
    ``<path>/payloads/part-N.parquet`` a batch of runs at a time (bounded memory), and
    ``<path>/runs.parquet`` at the end."""

    def __init__(self, path: Path, flush_events: int = 50_000) -> None:
        self.path = path
        self.flush_events = flush_events
        self.pending: list[History] = []
        self.pending_events = 0
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

    def add(self, history: History) -> None:
        self.pending.append(history)
        self.pending_events += len(history.events) + len(history.payloads)
        if self.pending_events >= self.flush_events:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = f"part-{self.parts:05d}.parquet"
        for attr, columns, schema in (
            ("events", MANY_EVENT_COLUMNS, self.event_schema),
            ("payloads", MANY_PAYLOAD_COLUMNS, self.payload_schema),
        ):
            frame = _for_parquet(_concat(self.pending, attr, columns), columns)
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            pq.write_table(table, self.path / attr / name)
        self.parts += 1
        self.pending = []
        self.pending_events = 0

    def close(self, runs: pd.DataFrame) -> None:
        self.flush()
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


# -- codec batching across runs --------------------------------------------------------------


class _Coalesced(Codec):
    """A codec shared by the fetch threads whose ``decode`` calls are merged: what arrives
    within ``linger`` seconds (or until ``batch_size`` payloads) goes out as one call of the
    wrapped codec, so a codec server gets a request per batch of payloads from many runs
    instead of one per run (or per payload). A batch goes out at once when every fetch in
    progress (``active()``) is waiting on it: nobody else can join."""

    def __init__(
        self,
        inner: Codec,
        *,
        linger: float = 0.05,
        batch_size: int = 256,
        active: Callable[[], int] | None = None,
    ) -> None:
        self.inner = inner
        self.active = active
        self.name = inner.name
        self.passes_through = inner.passes_through
        self.linger = linger
        self.batch_size = batch_size
        self._cond = threading.Condition()
        self._queue: list[tuple[Sequence[Payload], Future[list[Payload | DecodeFailure]]]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="workbench-codec", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return repr(self.inner)

    def claims_encoding(self, encoding: bytes | None) -> bool:
        return self.inner.claims_encoding(encoding)

    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        future: Future[list[Payload | DecodeFailure]] = Future()
        with self._cond:
            self._queue.append((payloads, future))
            self._cond.notify()
        return future.result()

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.inner.encode(payloads)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return
                # Let the other threads' payloads join this request.
                deadline = time.monotonic() + self.linger
                while sum(len(p) for p, _ in self._queue) < self.batch_size:
                    if self.active is not None and len(self._queue) >= self.active():
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                taken, self._queue = self._queue, []
            merged = [p for payloads, _ in taken for p in payloads]
            try:
                results = self.inner.decode(merged)
            except BaseException as err:  # a codec must not raise; if it does, its callers do
                for _, future in taken:
                    future.set_exception(err)
                continue
            start = 0
            for payloads, future in taken:
                future.set_result(list(results[start : start + len(payloads)]))
                start += len(payloads)


def _coalescing(
    chain: Chain, active: Callable[[], int] | None = None
) -> tuple[Chain, list[_Coalesced]]:
    """``chain`` with each :class:`~workbench.codecs.Remote` wrapped in a :class:`_Coalesced`
    (and the wrappers, to close)."""
    wrapped: list[_Coalesced] = []
    codecs: list[Codec] = []
    for codec in chain.codecs:
        if isinstance(codec, Remote):
            co = _Coalesced(codec, batch_size=codec.batch_size, active=active)
            wrapped.append(co)
            codecs.append(co)
        else:
            codecs.append(codec)
    if not wrapped:
        return chain, []
    return Chain(*codecs, max_depth=chain.max_depth), wrapped


# -- fetching --------------------------------------------------------------------------------


class _Counter:
    """How many fetches are running (what the codec coalescer waits for)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def value(self) -> int:
        return self._n

    def around(self, fn: Callable[..., _T]) -> Callable[..., _T]:
        def run(*args: Any) -> _T:
            with self._lock:
                self._n += 1
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self._n -= 1

        return run


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
    history: History | None
    error: str | None
    retries: int = 0
    summary: dict[str, Any] | None = None  # the run's row, once its history went to Parquet


def _fetch_one(
    conn: Connection,
    ref: RunRef,
    chain: Chain,
    converter: Any,
    halt: threading.Event,
    throttle: _Throttle,
    retry_deadline: float,
) -> _Outcome:
    delay = _BACKOFF_START
    give_up: float | None = None
    retries = 0
    while True:
        if throttle.wait(halt):
            return _Outcome(ref, None, None, retries)
        try:
            history = fetch_history_quiet(
                conn, ref.workflow_id, ref.run_id or None, codec=chain, converter=converter,
                stop=halt,
            )  # fmt: skip
        except WorkbenchError as err:
            if not _retryable(err):
                return _Outcome(ref, None, err.message, retries)
            now = time.monotonic()
            give_up = give_up if give_up is not None else now + retry_deadline
            if now + delay > give_up:
                return _Outcome(
                    ref, None, f"{err.message} (gave up after {retry_deadline:g} s)", retries
                )
            retries += 1
            if getattr(err, "grpc_code", None) == "RESOURCE_EXHAUSTED":
                throttle.slow_down(delay)
            if halt.wait(delay * (0.5 + random.random())):
                return _Outcome(ref, None, None, retries)
            delay = min(delay * 2, _BACKOFF_CAP)
            continue
        if not history.complete:  # halted mid-way: the run is not fetched
            return _Outcome(ref, None, None, retries)
        return _Outcome(ref, history, None, retries)


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
    """Fetch and decode the histories of ``runs`` on ``concurrency`` threads.

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
    halt = threading.Event()
    running = _Counter()
    chain, coalesced = _coalescing(codec, running.value)
    throttle = _Throttle()
    outcomes: dict[int, _Outcome] = {}
    bar = _runs_bar(len(refs)) if progress else None
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="workbench-history")
    interrupted = False
    pending: dict[Future[_Outcome], int] = {}
    try:
        todo = iter(enumerate(refs))
        window = concurrency * 2  # runs queued ahead: bounded, so results do not pile up

        def submit() -> None:
            while len(pending) < window and not halt.is_set():
                item = next(todo, None)
                if item is None:
                    return
                index, ref = item
                future = pool.submit(
                    running.around(_fetch_one),
                    conn,
                    ref,
                    chain,
                    converter,
                    halt,
                    throttle,
                    retry_deadline,
                )
                pending[future] = index

        submit()
        while pending:
            if stop is not None and stop.is_set():
                halt.set()
            done, _ = wait(list(pending), timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                outcomes[index] = _settle(future.result(), sink)
                if bar is not None:
                    bar.update(1)
                if on_run is not None:
                    on_run(len(outcomes), len(refs))
            submit()
    except KeyboardInterrupt:
        interrupted = True
        halt.set()
    finally:
        halt.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for co in coalesced:
            co.close()
        if bar is not None:
            bar.close()
    if interrupted:  # collect what finished while the pool wound down
        for future, index in list(pending.items()):
            if future.done() and not future.cancelled() and index not in outcomes:
                outcomes[index] = _settle(future.result(), sink)
    rows: list[dict[str, Any]] = []
    histories: list[History] = []
    for index, ref in enumerate(refs):
        outcome = outcomes.get(index)
        if outcome is None:
            rows.append(_run_row(ref, None, None))
        elif outcome.summary is not None:
            rows.append(outcome.summary)
        else:
            rows.append(_run_row(ref, outcome.history, outcome.error))
            if outcome.history is not None:
                histories.append(outcome.history)
    runs_frame = _runs_frame(rows)
    fetched_or_failed = runs_frame["fetched"] | runs_frame["error"].notna()
    complete = bool(fetched_or_failed.all())
    if sink is not None:
        sink.close(runs_frame)
    result = Histories(
        runs_frame,
        histories=histories,
        complete=complete,
        path=sink.path if sink is not None else None,
        query=query,
        retries=sum(o.retries for o in outcomes.values()),
    )
    if not complete:
        missing = int((~fetched_or_failed).sum())
        warnings.warn(
            f"fetching histories stopped early: {len(refs) - missing} of {len(refs)} runs are "
            f"in the result; the {missing} others have fetched=False in Histories.runs.",
            HistoryInterrupted,
            stacklevel=3,
        )
    return result


def _settle(outcome: _Outcome, sink: _ParquetSink | None) -> _Outcome:
    """Hand a fetched history to the Parquet sink, keeping only its run row (memory stays
    bounded); without a sink the outcome is kept as it is."""
    if sink is None or outcome.history is None:
        return outcome
    sink.add(outcome.history)
    row = _run_row(outcome.ref, outcome.history, None)
    return _Outcome(outcome.ref, None, None, outcome.retries, summary=row)


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
    protos: Sequence[Any], codec: Chain, converter: Any = None, *, concurrency: int = 4
) -> Histories:
    """Decode histories already in memory (export files) into a :class:`Histories`.

    With a codec server in the chain the runs are decoded on ``concurrency`` threads whose
    requests are merged, so each request carries the payloads of several runs.
    """
    running = _Counter()
    chain, coalesced = _coalescing(codec, running.value)

    def one(proto: Any) -> History:
        return History._from_proto(proto, codec=chain, workflow_id=None, converter=converter)

    try:
        if coalesced:
            with ThreadPoolExecutor(concurrency, thread_name_prefix="workbench-decode") as pool:
                histories = list(pool.map(running.around(one), protos))
        else:
            histories = [one(p) for p in protos]
    finally:
        for co in coalesced:
            co.close()
    rows = [_run_row(RunRef(h.workflow_id, h.run_id), h, None) for h in histories]
    return Histories(_runs_frame(rows), histories=histories)


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

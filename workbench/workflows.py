"""Visibility: list, count and describe workflow executions.

Listings page through ``ListWorkflowExecutions`` on a helper thread that requests page k+1 as
soon as page k arrives, so the caller converts pages while the server works on the next ones
(:func:`list_workflows` converts them a few at a time, :func:`iter_workflows` one by one).
Pages failing with ``RESOURCE_EXHAUSTED`` (namespace rate limits) or ``UNAVAILABLE`` (a
restarting server) are requested again from the same page token with a capped backoff — no row
lost, none duplicated — and a rejected query becomes :class:`~workbench.errors.QueryError`
naming the query (and the unknown search attribute, if that is the problem). The columns are
built by :mod:`workbench.frames`.

The server is only ever called from helper threads during a listing: a KeyboardInterrupt lands
in the main thread, and one landing inside grpcio's Python code can leave the channel's lock
held (every later call on the session would hang). :func:`list_workflows` turns an interrupt
into a partial frame of the pages already received (see its docstring).
"""

from __future__ import annotations

import queue
import re
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    ListWorkflowExecutionsRequest,
)

from ._args import check_paging, check_query, check_run, outside_quotes
from ._gc import gc_paused
from .errors import (
    ArgumentError,
    AuthError,
    NotFound,
    QueryError,
    RPCError,
    TLSError,
    WorkbenchError,
    as_sentence,
)
from .frames import (
    STATUS_NAMES,
    DecodeMemo,
    ListPage,
    PageColumns,
    _safe_decode,
    decode_search_attributes,
    default_decode_memo,
    empty_workflows_frame,
    page_columns,
    pending_activities_frame,
    pending_children_frame,
    workflows_frame,
)

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "BATCH",
    "DEFAULT_PAGE_SIZE",
    "RETRY_DEADLINE",
    "ListingInterrupted",
    "OnPage",
    "OnRetry",
    "WorkflowDescription",
    "count",
    "count_by_status",
    "describe",
    "iter_pages",
    "iter_workflows",
    "list_workflows",
]

DEFAULT_PAGE_SIZE = 1000
"""Rows per ``ListWorkflowExecutions`` call (the server caps it, usually at 1000)."""

RETRY_DEADLINE = 120.0
"""Seconds a listing keeps retrying ``RESOURCE_EXHAUSTED``/``UNAVAILABLE`` before giving up."""

_BACKOFF_START = 0.1
_BACKOFF_CAP = 2.0  # grpc's own reconnect backoff is capped at 2 s in our channel options
_RETRY_CODES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE"})
_UNKNOWN_ATTRIBUTE = re.compile(r"invalid search attribute:?\s*\"?([A-Za-z_][\w.-]*)")


OnPage = Callable[[int, int], None]
"""``on_page(pages, rows)``: called after each page is received (pages and rows so far)."""


OnRetry = Callable[[WorkbenchError, float], None]
"""``on_retry(error, delay)``: a page failed with a retryable error; retrying after ``delay`` s."""


class ListingInterrupted(UserWarning):
    """A listing was interrupted (KeyboardInterrupt or ``stop``) and returned a partial frame."""


# ------------------------------------------------------------------------------ errors
def _query_error(query: str) -> Callable[[str], WorkbenchError]:
    def build(details: str) -> WorkbenchError:
        shown = query if query else "(empty query)"
        unknown = _UNKNOWN_ATTRIBUTE.search(details)
        if unknown:
            name = unknown.group(1)
            return QueryError(
                f"unknown search attribute {name!r} in the query {shown!r} (server: {details}). "
                f"Check its spelling, or register it: 'temporal operator search-attribute "
                f"create --name {name} --type Keyword' (with its real type).",
                query=query,
                server_message=details,
            )
        return QueryError(
            f"the server rejected the query {shown!r}: {as_sentence(details)} Fix the query "
            "(list filter "
            "syntax: https://docs.temporal.io/list-filter), e.g. "
            "\"WorkflowType='OrderWorkflow' AND ExecutionStatus='Failed'\".",
            query=query,
            server_message=details,
        )

    return build


_CLAUSE = re.compile(r"\b(?:group|order)\s+by\b", re.IGNORECASE)


def _retryable(error: BaseException) -> bool:
    if not isinstance(error, WorkbenchError) or isinstance(error, (TLSError, AuthError)):
        return False
    code = getattr(error, "grpc_code", None)
    details = str(getattr(error, "details", "") or "")
    return code in _RETRY_CODES and "larger than" not in details


# ------------------------------------------------------------------------------ paging
def iter_pages(
    conn: Connection,
    query: str = "",
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
    retry_deadline: float = RETRY_DEADLINE,
    stop: threading.Event | None = None,
    on_retry: OnRetry | None = None,
    lite: bool = False,
    ahead: int = 1,
) -> Generator[Any, None, None]:
    """Yield raw ``ListWorkflowExecutionsResponse`` pages while a helper thread fetches ahead.

    With ``lite=True`` the pages are parsed as :class:`workbench.frames.ListPage`, a view holding
    only what :func:`workbench.frames.page_columns` needs (several times faster to parse).

    A helper thread requests page k+1 as soon as page k has arrived (its token is needed for
    that), so the server works on the next page while the caller handles the current one; it
    keeps at most ``ahead`` unclaimed pages. A page failing with ``RESOURCE_EXHAUSTED`` or
    ``UNAVAILABLE`` is requested again with the same page token after a capped exponential
    backoff (0.1 s doubling to 2 s) until ``retry_deadline`` seconds of consecutive failures;
    pages are therefore neither skipped nor repeated. ``on_retry(error, delay)`` is called (on
    the helper thread) before each backoff. If ``stop`` is set the iteration ends after the page
    in flight. The last page is truncated so that at most ``limit`` executions are yielded.

    Closing the generator (``break``, KeyboardInterrupt) stops the helper after its call in
    flight; that call's page is dropped.

    Raises:
        ArgumentError: ``query``, ``page_size`` or ``limit`` is malformed (raised at once).
        QueryError: The server rejected the query (syntax, unknown search attribute).
        WorkbenchError: Any other failure, or retries exhausted.
    """
    check_query(query)
    page_size, limit = check_paging(page_size, limit)
    return _pages(conn, query, page_size, limit, retry_deadline, stop, on_retry, lite, ahead)


def _pages(
    conn: Connection,
    query: str,
    page_size: int,
    limit: int | None,
    retry_deadline: float,
    stop: threading.Event | None,
    on_retry: OnRetry | None,
    lite: bool,
    ahead: int,
) -> Generator[Any, None, None]:
    if limit == 0:
        return
    halt = threading.Event()
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, ahead))
    fetch = _PageFetcher(
        conn, query, page_size, limit, retry_deadline, stop, on_retry, lite, halt, pages
    )
    threading.Thread(target=fetch.run, name="workbench-listing", daemon=True).start()
    try:
        while True:
            kind, item = pages.get()
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        halt.set()


class _PageFetcher:
    """The helper thread of :func:`iter_pages`: fetches pages one after the other.

    The server is called from this thread, never from the caller's: the caller's thread is the
    main thread, where KeyboardInterrupt (Ctrl-C, Jupyter's Stop) lands, and an interrupt
    landing inside grpcio's own Python code can leave the channel's lock held so that every later
    call on the session hangs. The caller only waits on a queue, which an interrupt leaves
    harmlessly.
    """

    def __init__(
        self,
        conn: Connection,
        query: str,
        page_size: int,
        limit: int | None,
        retry_deadline: float,
        stop: threading.Event | None,
        on_retry: OnRetry | None,
        lite: bool,
        halt: threading.Event,
        pages: queue.Queue[tuple[str, Any]],
    ) -> None:
        self.conn, self.query, self.page_size, self.limit = conn, query, page_size, limit
        self.retry_deadline, self.stop, self.on_retry = retry_deadline, stop, on_retry
        self.response_type = ListPage if lite else None
        self.halt, self.pages = halt, pages
        self.errors = {"INVALID_ARGUMENT": _query_error(query)}

    def stopped(self) -> bool:
        return self.halt.is_set() or (self.stop is not None and self.stop.is_set())

    def run(self) -> None:
        token = b""
        fetched = 0
        limit = self.limit
        try:
            while not self.stopped():
                resp = self.fetch(token, fetched)
                if resp is None:
                    break
                token = resp.next_page_token
                got = _row_count(resp)
                if limit is not None and fetched + got > limit:
                    if isinstance(resp, ListPage):
                        resp.truncate(limit - fetched)
                    else:
                        del resp.executions[limit - fetched :]
                    got = limit - fetched
                fetched += got
                if not self.put(("page", resp)):
                    return
                if not token or (limit is not None and fetched >= limit):
                    break
        except BaseException as e:
            self.put(("error", e))
            return
        self.put(("end", None))

    def put(self, item: tuple[str, Any]) -> bool:
        """Hand an item to the caller; False if the caller went away."""
        while not self.halt.is_set():
            try:
                self.pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch(self, token: bytes, fetched: int) -> Any:
        """One page, retried from the same token; None if stopped while backing off."""
        # One row beyond the limit, when the page has room for it: whether the server sends it
        # says whether the limit cut the listing short (attrs["limit_reached"]); it is dropped.
        size = self.page_size
        if self.limit is not None:
            size = min(size, self.limit - fetched + 1)
        req = ListWorkflowExecutionsRequest(
            namespace=self.conn.settings.namespace,
            page_size=size,
            next_page_token=token,
            query=self.query,
        )
        delay = _BACKOFF_START
        give_up: float | None = None
        while True:
            try:
                return self.conn.call(
                    "ListWorkflowExecutions",
                    req,
                    errors=self.errors,
                    response_type=self.response_type,
                )
            except WorkbenchError as e:
                if not _retryable(e):
                    raise
                now = time.monotonic()
                if give_up is None:
                    give_up = now + self.retry_deadline
                if now + delay > give_up:
                    raise
                if self.on_retry is not None:
                    self.on_retry(e, delay)
                if self.wait(delay):
                    return None
                delay = min(delay * 2, _BACKOFF_CAP)

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early if stopped; True if stopped."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stopped():
                return True
            self.halt.wait(min(left, 0.05))
        return self.stopped()


def _row_count(resp: Any) -> int:
    return len(resp) if isinstance(resp, ListPage) else len(resp.executions)


def _memo_decoder(decode_memo: DecodeMemo | None) -> DecodeMemo:
    return decode_memo if decode_memo is not None else default_decode_memo


def iter_workflows(
    conn: Connection,
    query: str = "",
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
    decode_memo: DecodeMemo | None = None,
    retry_deadline: float = RETRY_DEADLINE,
) -> Iterator[pd.DataFrame]:
    """Yield one DataFrame per page (the listing schema of :mod:`workbench.frames`).

    Each page's frame has the fixed columns plus the search attributes present in that page,
    and its index goes on from the previous page's (0 to 999, 1000 to 1999, …), so that
    ``pd.concat(pages)`` has the rows and index of :func:`list_workflows`. An empty page (the
    server ends a listing whose last page was full with one) is not yielded; an empty listing
    yields one empty frame, the schema. The next page is fetched while the caller works on the
    current one. Interrupting the loop (``break``, KeyboardInterrupt) simply stops the listing;
    the pages already yielded are the caller's.

    Raises:
        ArgumentError: ``query``, ``page_size`` or ``limit`` is malformed (raised at once).
        QueryError: The server rejected the query (raised by the first ``next()``).
    """
    pages = iter_pages(  # checks the arguments at once
        conn, query, page_size=page_size, limit=limit, retry_deadline=retry_deadline, lite=True
    )
    return _page_frames(pages, _memo_decoder(decode_memo))


def _page_frames(pages: Iterator[Any], decode: DecodeMemo) -> Iterator[pd.DataFrame]:
    offset = 0
    for resp in pages:
        if not _row_count(resp):
            continue
        frame = workflows_frame([page_columns(resp, decode_memo=decode)])
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        yield frame
    if not offset:
        yield empty_workflows_frame()


def list_workflows(
    conn: Connection,
    query: str = "",
    *,
    limit: int | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: bool = True,
    decode_memo: DecodeMemo | None = None,
    on_page: OnPage | None = None,
    stop: threading.Event | None = None,
    retry_deadline: float = RETRY_DEADLINE,
    pause_gc: bool = True,
) -> pd.DataFrame:
    """Every execution matching ``query`` as one DataFrame (see :func:`iter_workflows`).

    Pages are converted while the next ones are on the wire, :data:`BATCH` at a time, and
    concatenated once at the end.

    With ``progress=True`` a ``tqdm.auto`` bar (a widget in Jupyter, text elsewhere) counts rows
    as they arrive; to give it a total, one ``CountWorkflowExecutions`` call runs alongside the
    first page (its failure never fails the listing). ``progress=False`` makes no extra call.

    Interruption: a KeyboardInterrupt (Ctrl-C, Jupyter's Stop) or ``stop.set()`` from another
    thread ends the listing early. Every page already received is converted and returned as the
    frame (whole pages, each once); the page still on the wire is dropped. A
    :class:`ListingInterrupted` warning says how many rows the frame holds, and ``frame.attrs``
    records ``complete=False`` and the ``next_page_token`` to continue from. A complete listing
    has ``attrs["complete"] = True``; ``attrs["limit_reached"]`` is ``True`` when ``limit`` ended
    it while more runs match (the listing asks the server for one row beyond ``limit``, or, when
    ``limit`` ends a full page, for the next page's first row). ``attrs["retries"]`` counts the
    page requests that were retried.

    Args:
        conn: The connection.
        query: A visibility list filter (``""`` lists everything).
        limit: At most this many rows.
        page_size: Rows per call.
        progress: Show a progress bar.
        decode_memo: Memo decoder; default :func:`workbench.frames.default_decode_memo`.
        on_page: ``on_page(pages, rows)`` after each page is received.
        stop: An event another thread may set to stop after the current page.
        retry_deadline: Seconds of consecutive retryable failures tolerated per page.
        pause_gc: Pause Python's cyclic garbage collector for the listing (it catches up at the
            end): the rows' dicts and lists would otherwise make it traverse the whole process
            again and again. Pass ``False`` when ``decode_memo`` waits on I/O (a codec server).

    Raises:
        QueryError: The server rejected the query.
        WorkbenchError: Any other failure (after retries, for the retryable ones).
    """
    with gc_paused(pause_gc):
        return _list_workflows(
            conn, query, limit, page_size, progress, decode_memo, on_page, stop, retry_deadline
        )


BATCH = 2
"""Pages :func:`list_workflows` lets arrive before converting them (all pages are converted
as soon as the listing ends or is interrupted). Few: a page is about 1 MB on the wire, and the
memory of pages waiting is memory the allocator hands back to the system and takes again, page
fault by page fault (with 8, a listing took 1.6 times the page faults of a listing with 2)."""


def _list_workflows(
    conn: Connection,
    query: str,
    limit: int | None,
    page_size: int,
    progress: bool,
    decode_memo: DecodeMemo | None,
    on_page: OnPage | None,
    stop: threading.Event | None,
    retry_deadline: float,
) -> pd.DataFrame:
    decode = _memo_decoder(decode_memo)
    chunks: list[PageColumns] = []
    received: list[Any] = []  # every page received (None once converted)
    rows = 0
    pages = 0
    next_token = b""
    dropped = 0  # rows of the last page beyond the limit
    retries = 0

    def count_retry(error: WorkbenchError, delay: float) -> None:
        nonlocal retries
        retries += 1

    def convert() -> None:
        # received[i] becomes chunks[i]; an interrupt cannot separate the two steps that
        # matter (a page's columns are appended whole or not at all), so no page is lost or
        # converted twice. Converted pages are dropped to free their bytes.
        for i in range(len(chunks), len(received)):
            chunks.append(page_columns(received[i], decode_memo=decode))
            received[i] = None

    page_iter = iter_pages(
        conn,
        query,
        page_size=page_size,
        limit=limit,
        retry_deadline=retry_deadline,
        stop=stop,
        on_retry=count_retry,
        lite=True,
        ahead=2 * BATCH,
    )  # checks the arguments, before the progress bar's count call
    bar = _ProgressBar(conn, query, limit) if progress else None
    try:
        for resp in page_iter:
            received.append(resp)
            next_token = resp.next_page_token
            dropped = resp.dropped
            pages += 1
            rows += _row_count(resp)
            if bar is not None:
                bar.update(rows)
            if on_page is not None:
                on_page(pages, rows)
            if len(received) - len(chunks) >= BATCH:
                convert()
            if stop is not None and stop.is_set():
                break
        convert()
    except KeyboardInterrupt:
        convert()  # the pages received are kept, including one whose conversion was cut short
    finally:
        page_iter.close()  # an abandoned in-flight call just completes unseen
        if bar is not None:
            bar.close()
    # Complete means the server said "no more pages" (or the limit was reached), whatever
    # interrupted us afterwards.
    complete = limit == 0 or (
        pages > 0 and (not next_token or (limit is not None and rows >= limit))
    )
    frame = workflows_frame(chunks)
    frame.attrs.update(
        query=query,
        complete=complete,
        next_page_token=None if complete else next_token,
        limit_reached=complete
        and limit is not None
        and rows >= limit
        and (dropped > 0 or (bool(next_token) and _more_after(conn, query, next_token))),
        retries=retries,
    )
    if not complete:
        warnings.warn(
            f"listing of {query or '(all workflows)'!r} stopped early: the frame holds the "
            f"{len(frame)} rows of the {len(chunks)} pages received; "
            "frame.attrs['next_page_token'] is where it stopped.",
            ListingInterrupted,
            stacklevel=4,
        )
    return frame


def _more_after(conn: Connection, query: str, token: bytes) -> bool:
    """Whether the listing has a run after ``token`` (a page of one row is asked for); ``True``
    when the server cannot say."""
    req = ListWorkflowExecutionsRequest(
        namespace=conn.settings.namespace, page_size=1, next_page_token=token, query=query
    )
    try:
        return len(conn.call("ListWorkflowExecutions", req, response_type=ListPage)) > 0
    except WorkbenchError:
        return True


class _ProgressBar:
    """A tqdm.auto bar whose total comes from a count run alongside the listing."""

    def __init__(self, conn: Connection, query: str, limit: int | None) -> None:
        from tqdm.auto import tqdm  # imported lazily: tqdm.auto probes for Jupyter

        self._limit = limit
        self._bar = tqdm(total=limit, unit=" rows", desc="workflows", delay=0.5, leave=False)
        req = CountWorkflowExecutionsRequest(namespace=conn.settings.namespace, query=query)
        self._count: Future[Any] | None = conn.call_future("CountWorkflowExecutions", req)

    def update(self, rows: int) -> None:
        count = self._count
        if count is not None and count.done():
            self._count = None
            if count.exception() is None:
                total = int(count.result().count)
                if self._limit is not None:
                    total = min(total, self._limit)
                self._bar.total = max(total, rows)
        self._bar.update(rows - self._bar.n)

    def close(self) -> None:
        self._bar.close()


# ------------------------------------------------------------------------------ counts
def count(conn: Connection, query: str = "") -> int:
    """Number of executions matching ``query`` (``CountWorkflowExecutions``).

    Raises:
        QueryError: The server rejected the query.
    """
    check_query(query)
    req = CountWorkflowExecutionsRequest(namespace=conn.settings.namespace, query=query)
    resp = conn.call(
        "CountWorkflowExecutions", req, errors={"INVALID_ARGUMENT": _query_error(query)}
    )
    return int(resp.count)


def count_by_status(conn: Connection, query: str = "") -> pd.Series:
    """Executions matching ``query`` per status (``… GROUP BY ExecutionStatus``).

    Returns:
        An int64 Series named ``count`` indexed by status name (index named ``status``), one
        entry for every status of :data:`~workbench.frames.STATUS_NAMES`, zeros included.

    Raises:
        ArgumentError: ``query`` has its own ``GROUP BY`` or ``ORDER BY`` (pass the filter
            only: the call groups by status itself, and the server cannot order a count).
        QueryError: The server rejected the query.
    """
    check_query(query)
    clause = _CLAUSE.search(outside_quotes(query))
    if clause:
        raise ArgumentError(
            f"count_by_status groups by ExecutionStatus itself: pass only the filter, without "
            f"{' '.join(clause.group(0).upper().split())!r}, in the query {query!r}",
            argument="query",
        )
    grouped = f"{query} GROUP BY ExecutionStatus" if query.strip() else "GROUP BY ExecutionStatus"
    req = CountWorkflowExecutionsRequest(namespace=conn.settings.namespace, query=grouped)
    resp = conn.call(
        "CountWorkflowExecutions", req, errors={"INVALID_ARGUMENT": _query_error(query)}
    )
    counts = dict.fromkeys(STATUS_NAMES, 0)
    for group in resp.groups:
        values = _safe_decode(default_decode_memo, list(group.group_values))
        name = values[0][0] if values else None
        if isinstance(name, str):
            counts[name] = counts.get(name, 0) + int(group.count)
    index = pd.Index(list(counts), dtype="str", name="status")
    return pd.Series(list(counts.values()), index=index, dtype="int64", name="count")


# ------------------------------------------------------------------------------ describe
@dataclass(frozen=True)
class WorkflowDescription:
    """One run as ``DescribeWorkflowExecution`` reports it, decoded."""

    info: pd.Series
    """The run's row in the listing schema (:mod:`workbench.frames`): ids, type, status, times,
    task queue, history size, parent/root, memo, and its search attributes."""
    pending_activities: pd.DataFrame
    """Activities scheduled or running (columns
    :data:`~workbench.frames.PENDING_ACTIVITY_COLUMNS`); empty when none."""
    pending_children: pd.DataFrame
    """Child workflows started and not yet closed (columns
    :data:`~workbench.frames.PENDING_CHILD_COLUMNS`); empty when none."""
    memo: dict[str, Any]
    """Memo key → decoded value (``None`` for a value that failed, see ``memo_errors``)."""
    memo_errors: dict[str, str]
    """Memo key → why its value could not be decoded (empty when all decoded)."""
    search_attributes: dict[str, Any]
    """Search attribute name → typed Python value (see
    :func:`workbench.frames.decode_search_attributes`)."""
    raw: DescribeWorkflowExecutionResponse = field(repr=False, compare=False)
    """The response as received (escape hatch)."""

    @property
    def workflow_id(self) -> str:
        """The workflow id."""
        return str(self.info["workflow_id"])

    @property
    def run_id(self) -> str:
        """The run id."""
        return str(self.info["run_id"])

    @property
    def workflow_type(self) -> str:
        """The workflow type name."""
        return str(self.info["workflow_type"])

    @property
    def status(self) -> str:
        """The run's status name (``Running``, ``Completed``, …)."""
        return str(self.info["status"])

    def _repr_html_(self) -> str:
        from ._html import description_html

        return description_html(self)

    def __repr__(self) -> str:
        return (
            f"WorkflowDescription({self.workflow_id!r}, run_id={self.run_id!r}, "
            f"type={self.workflow_type!r}, status={self.status!r}, "
            f"pending_activities={len(self.pending_activities)}, "
            f"pending_children={len(self.pending_children)})"
        )


def describe(
    conn: Connection,
    workflow_id: str,
    run_id: str | None = None,
    *,
    decode_memo: DecodeMemo | None = None,
) -> WorkflowDescription:
    """Describe a workflow run (the latest run of ``workflow_id`` unless ``run_id`` is given).

    Raises:
        NotFound: No such workflow (or run) in the session's namespace, or a malformed run id.
    """
    check_run(workflow_id, run_id)
    namespace = conn.settings.namespace
    where = f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "")

    def not_found(details: str) -> WorkbenchError:
        return NotFound(
            f"{where} not found in namespace {namespace!r} on {conn.settings.address} "
            f"({details}). Check the id (and the namespace); closed runs are only kept for "
            "the namespace's retention period.",
            workflow_id=workflow_id,
            run_id=run_id,
        )

    def bad_run_id(details: str) -> WorkbenchError:
        if "runid" in details.lower().replace(" ", "") and run_id:
            return NotFound(
                f"run id {run_id!r} of workflow {workflow_id!r} is not a valid run id "
                f"({details}); run ids are UUIDs such as the run_id column of "
                "session.workflows().",
                workflow_id=workflow_id,
                run_id=run_id,
            )
        return RPCError(
            f"DescribeWorkflowExecution of {where} was rejected: {details}",
            method="DescribeWorkflowExecution",
            grpc_code="INVALID_ARGUMENT",
            details=details,
        )

    req = DescribeWorkflowExecutionRequest(
        namespace=namespace,
        execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id or ""),
    )
    resp: DescribeWorkflowExecutionResponse = conn.call(
        "DescribeWorkflowExecution",
        req,
        errors={"NOT_FOUND": not_found, "INVALID_ARGUMENT": bad_run_id},
    )
    decode = _memo_decoder(decode_memo)
    info = resp.workflow_execution_info
    frame = workflows_frame([page_columns([info], decode_memo=decode)])
    fields = info.memo.fields
    keys = list(fields)
    results = _safe_decode(decode, [fields[k] for k in keys])
    return WorkflowDescription(
        info=frame.iloc[0],
        pending_activities=pending_activities_frame(resp.pending_activities, decode_memo=decode),
        pending_children=pending_children_frame(resp.pending_children),
        memo={k: r[0] for k, r in zip(keys, results, strict=True)},
        memo_errors={k: r[1] for k, r in zip(keys, results, strict=True) if r[1] is not None},
        search_attributes=decode_search_attributes(info.search_attributes.indexed_fields),
        raw=resp,
    )

"""What the workflows panel does, as plain Python: queries, counts, a listing with progress.

The listing goes through :meth:`Session.iter_workflows` (the library's paging, prefetch and
retries), page by page, so that the first rows can be shown while the rest arrive and Stop
keeps every page received.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import WorkbenchError
from ..frames import empty_workflows_frame

__all__ = ["EXAMPLE_QUERIES", "Listing", "QueryBook", "narrow"]

EXAMPLE_QUERIES: tuple[str, ...] = (
    "ExecutionStatus='Running'",
    "ExecutionStatus='Failed'",
    "ExecutionStatus='Failed' AND StartTime > '2026-01-01T00:00:00Z'",
    "WorkflowType='OrderWorkflow'",
    "CloseTime > '2026-01-01T00:00:00Z' ORDER BY CloseTime DESC",
    "WorkflowId STARTS_WITH 'order-'",
)


def narrow(query: str, status: str) -> str:
    """``query`` narrowed to one execution status (replacing an ExecutionStatus term it has)."""
    import re

    term = f"ExecutionStatus='{status}'"
    q = query.strip()
    existing = re.compile(r"ExecutionStatus\s*=\s*(['\"])[A-Za-z]+\1", re.IGNORECASE)
    if existing.search(q):
        return existing.sub(term, q, count=1)
    if not q:
        return term
    order = re.search(r"\bORDER\s+BY\b", q, re.IGNORECASE)
    if order:
        head, tail = q[: order.start()].strip(), q[order.start() :]
        return f"({head}) AND {term} {tail}" if head else f"{term} {tail}"
    return f"({q}) AND {term}"


@dataclass
class QueryBook:
    """Example queries and the queries run in this session (most recent first)."""

    past: list[str] = field(default_factory=list)
    examples: tuple[str, ...] = EXAMPLE_QUERIES
    keep: int = 30

    def remember(self, query: str) -> None:
        """Record a query that was run."""
        q = query.strip()
        if not q:
            return
        if q in self.past:
            self.past.remove(q)
        self.past.insert(0, q)
        del self.past[self.keep :]

    def suggestions(self) -> list[str]:
        """Past queries, then the examples not already among them."""
        return self.past + [e for e in self.examples if e not in self.past]


@dataclass
class Listing:
    """The result of one run of the workflows panel (complete or not)."""

    query: str
    frame: pd.DataFrame
    counts: pd.Series | None
    complete: bool
    error: WorkbenchError | None = None
    stopped: bool = False

    @property
    def total(self) -> int | None:
        """Executions matching the query, from the counts (``None`` if not counted)."""
        return None if self.counts is None else int(self.counts.sum())

    def summary(self, limit: int | None) -> str:
        """What a person reads under the query box."""
        rows = len(self.frame)
        if self.error is not None:
            kept = f" ({rows:,} rows fetched before it are kept)" if rows else ""
            return f"{self.error}{kept}"
        if rows == 0 and self.complete:
            return "No workflows match."
        total = self.total
        text = f"{rows:,} workflow{'s' if rows != 1 else ''}"
        if self.stopped:
            of = f" of {total:,} matching" if total is not None else ""
            text += f"{of} (stopped; the rows received are kept)"
        elif total is not None and total > rows and limit is not None and rows >= limit:
            text += f" of {total:,} matching (limit {limit:,} reached)"
        elif total is not None and total > rows:
            text += f" (the server counts {total:,})"
        return text + "."


def run_listing(
    session: Any,
    query: str,
    *,
    limit: int | None,
    stop: threading.Event,
    on_first: Callable[[pd.DataFrame], None] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
    count: bool = True,
    page_size: int = 1000,
    retry_deadline: float | None = None,
) -> Listing:
    """List workflows for the panel: counts first (the progress total), then every page.

    ``on_first(frame)`` receives the first page as soon as it is converted; ``on_progress(rows,
    total)`` after every page. A failure after some pages keeps them (``Listing.error``).

    Raises:
        WorkbenchError: The query was rejected (before any row arrived).
    """
    # The counts (the progress bar's total, the bars by status) are asked for once the first
    # page is in, alongside the next pages: a count competes with the first page for the
    # server (a visibility count scans what the query matches), and the first rows matter more.
    from concurrent.futures import Future, ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    counting: Future[pd.Series] | None = None
    total: int | None = None

    def start_counting() -> None:
        nonlocal counting
        if count and counting is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-count")
            counting = pool.submit(session.count_by_status, query)
            pool.shutdown(wait=False)

    def known_total() -> int | None:
        nonlocal total
        if total is None and counting is not None and counting.done():
            try:
                total = int(counting.result().sum())
            except WorkbenchError:
                return None
            if limit is not None:
                total = min(total, limit)
        return total

    if on_progress is not None:
        on_progress(0, known_total())
    frames: list[pd.DataFrame] = []
    rows = 0
    error: WorkbenchError | None = None
    complete = False
    extra = {} if retry_deadline is None else {"retry_deadline": retry_deadline}
    pages = session.iter_workflows(query, limit=limit, page_size=page_size, **extra)
    try:
        for frame in pages:
            frames.append(frame)
            rows += len(frame)
            if len(frames) == 1:
                start_counting()
                if on_first is not None:
                    on_first(frame)
            if on_progress is not None:
                on_progress(rows, known_total())
            if stop.is_set():
                break
        else:
            complete = True
    except WorkbenchError as e:
        if not frames:
            raise  # a rejected query: the server's words, nothing to keep
        error = e
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    counts: pd.Series | None = None
    if counting is not None:
        # After Stop or a failure, the answer must not wait long for the bars.
        wait = None if complete else 0.5
        try:
            counts = counting.result(timeout=wait)
        except (WorkbenchError, FutureTimeout):
            counts = None  # the listing itself is what matters; the bars are left out
    if not frames:
        frame = empty_workflows_frame()
    elif len(frames) == 1:
        frame = frames[0]
    else:
        frame = pd.concat(frames)
    return Listing(
        query=query,
        frame=frame,
        counts=counts,
        complete=complete,
        error=error,
        stopped=stop.is_set() and not complete,
    )

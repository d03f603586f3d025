"""The workflows panel: a visibility query → counts by status and the listing as a table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import ipywidgets as w
import pandas as pd

from ..session import Session
from ._jobs import Job
from ._style import State, Status, close_tree, esc, on_enter, style_widget
from .listing import Listing, QueryBook, narrow, run_listing
from .many_runs import ManyRuns
from .table import TableModel
from .table_view import TableView

__all__ = ["WorkflowsPanel"]

TABLE_COLUMNS = [
    "workflow_id",
    "workflow_type",
    "status",
    "start_time",
    "close_time",
    "duration",
    "task_queue",
    "history_length",
    "run_id",
]

_STATUS_COLOURS = {
    "Running": "#0b5cad",
    "Completed": "#1a7f37",
    "Failed": "#b42318",
    "Canceled": "#9a6700",
    "Terminated": "#6e3b00",
    "ContinuedAsNew": "#6639ba",
    "TimedOut": "#cf222e",
    "Paused": "#57606a",
}


class WorkflowsPanel(w.VBox):
    """Run a visibility query and browse every row of the result.

    >>> panel = WorkflowsPanel(session)
    >>> panel.frame            # the whole listing, a DataFrame (kept in the kernel)

    Args:
        session: The session to list from (``None``: set one with :meth:`set_session`).
        on_open: Called with ``(workflow_id, run_id)`` when a row is selected.
        limit: The default row limit.
        page_size: Rows per server call.
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        on_open: Callable[[str, str], None] | None = None,
        limit: int = 10_000,
        page_size: int = 1000,
    ) -> None:
        self.session = session
        self.on_open = on_open
        self.book = QueryBook()
        self.page_size = page_size
        self._generation = 0  # bumped when the session changes: older listings are ignored
        self.retry_deadline: float | None = None
        """Seconds a listing retries an unavailable server (``None``: the library's 120 s)."""
        self.listing: Listing | None = None
        self.selected: pd.Series | None = None
        self.job: Job[Listing] = Job(self._set_busy, name="workbench-listing")
        self._last_draw = 0.0

        self.query = w.Combobox(
            placeholder="visibility query, e.g. WorkflowType='OrderWorkflow' AND "
            "ExecutionStatus='Failed' (empty: all)",
            options=list(self.book.suggestions()),
            ensure_option=False,
            layout=w.Layout(width="640px"),
        )
        self.query.add_class("wb-wf-query")
        self.limit = w.BoundedIntText(
            value=limit,
            min=1,
            max=10_000_000,
            description="limit",
            layout=w.Layout(width="180px"),
            style={"description_width": "40px"},
        )
        self.limit.add_class("wb-wf-limit")
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.add_class("wb-wf-run")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("wb-wf-stop")
        self.progress = w.IntProgress(
            value=0, min=0, max=1, layout=w.Layout(width="300px", display="none")
        )
        self.progress.add_class("wb-wf-progress")
        self.progress_text = w.HTML()
        self.progress_text.add_class("wb-wf-progress-text")
        self.status = Status("Type a query (or leave it empty for all workflows) and press Run.")
        self.status.add_class("wb-wf-status")
        self.counts_box = w.VBox()
        self.counts_box.add_class("wb-wf-counts")
        self.table = TableView(
            TableModel(page_size=25),
            columns=TABLE_COLUMNS,
            on_select=self._on_select,
            placeholder="filter these rows: text in any column",
        )
        self.table.add_class("wb-wf-table")
        self.many = ManyRuns(self.table.model.filtered, on_open=self._open)
        if session is not None:
            self.many.set_session(session)
        many_box = w.Accordion(children=[self.many], selected_index=None)
        many_box.set_title(0, "Many runs: fetch these histories and search inside their payloads")
        many_box.add_class("wb-wf-many")

        self.run_button.on_click(lambda _b: self.run())
        on_enter(self.query, lambda: self.run())
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__(
            [
                style_widget(),
                w.HBox(
                    [self.query, self.limit, self.run_button, self.stop_button],
                    layout=w.Layout(flex_flow="row wrap"),
                ),
                self.status,
                w.HBox([self.progress, self.progress_text], layout=w.Layout(align_items="center")),
                self.counts_box,
                self.table,
                many_box,
            ]
        )
        self.add_class("wb-panel")
        self.add_class("wb-workflows-panel")

    # -- state ----------------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """The whole listing (every row received), or an empty frame before any run."""
        return self.listing.frame if self.listing is not None else pd.DataFrame()

    def set_session(self, session: Session) -> None:
        """List from ``session`` from now on; what was listed from another one is dropped."""
        if session is not self.session:
            # A listing still running reads the old session: stop it, and let nothing it
            # still delivers reach the panel (the generation it was started in is over).
            self._generation += 1
            self.job.stop()
            self.job.wait(10)
            self.listing = None
            self.selected = None
            self.table.set_frame(pd.DataFrame(columns=TABLE_COLUMNS))
            close_tree(self.counts_box.children)
            self.counts_box.children = ()
            self.progress.layout.display = "none"
            self.progress_text.value = ""
        self.session = session
        self.many.set_session(session)
        self.status.show(
            f"Connected to {session.namespace}. Type a query (or leave it empty) and press Run.",
            "idle",
        )

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy
        self.run_button.description = "Running…" if busy else "Run"

    # -- actions --------------------------------------------------------------------------------

    def run(self, query: str | None = None, *, wait: bool = False) -> bool:
        """Run the query in the box (or ``query``); what the Run button does.

        Returns ``False`` if a listing is already running (a second click does nothing).
        """
        if self.job.busy:
            return False
        if self.session is None:
            self.status.show("Connect first (the Connection tab).", "error")
            return False
        if query is not None:
            self.query.value = query
        q = self.query.value.strip()
        limit = int(self.limit.value) if self.limit.value else None
        session = self.session
        generation = self._generation
        self._last_draw = 0.0
        self.progress.layout.display = "flex"
        self.progress.value = 0
        self.progress_text.value = "<span class='wb-muted'>counting…</span>"
        self.status.show(f"Running {q or '(all workflows)'} …", "busy")

        def current() -> bool:
            return generation == self._generation

        def first(frame: pd.DataFrame) -> None:
            if current():
                self.table.set_frame(frame)

        def progress(rows: int, total: int | None) -> None:
            if current():
                self._progress(rows, total)

        def work(stop: threading.Event) -> Listing:
            return run_listing(
                session,
                q,
                limit=limit,
                stop=stop,
                on_first=first,
                on_progress=progress,
                page_size=self.page_size,
                retry_deadline=self.retry_deadline,
            )

        def done(listing: Listing) -> None:
            if not current():
                return
            self.listing = listing
            self.book.remember(q)
            self.query.options = list(self.book.suggestions())
            # The first page was shown while the rest came: keep the sort or filter a person
            # chose meanwhile.
            self.table.set_frame(listing.frame, keep_view=True)
            self._show_counts(listing)
            state: State = "ok"
            if listing.error is not None:
                state = "error"
            elif listing.frame.empty:
                state = "idle"
            self.status.show(listing.summary(limit), state)
            self._progress(len(listing.frame), listing.total, final=True)

        def failed(error: BaseException) -> None:
            if not current():
                return
            self.progress.layout.display = "none"
            self.progress_text.value = ""
            self.status.error(error)

        started = self.job.start(work, done=done, failed=failed)
        if wait:
            self.job.wait()
        return started

    def stop(self) -> None:
        """Stop the listing after the page in flight; the rows received are kept."""
        self.job.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running listing to end (for scripts and tests)."""
        return self.job.wait(timeout)

    def _progress(self, rows: int, total: int | None, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and rows and now - self._last_draw < 0.1:
            return  # at most ten updates a second reach the browser
        self._last_draw = now
        top = max(total or 0, rows, 1)
        self.progress.max = top
        self.progress.value = min(rows, top)
        of = f" of {total:,}" if total is not None else ""
        self.progress_text.value = f"<span class='wb-muted'>{rows:,}{of} rows</span>"

    # -- counts ---------------------------------------------------------------------------------

    def _show_counts(self, listing: Listing) -> None:
        close_tree(self.counts_box.children)
        counts = listing.counts
        if counts is None:
            self.counts_box.children = []
            return
        nonzero = counts[counts > 0]
        if nonzero.empty:
            self.counts_box.children = []
            return
        top = int(nonzero.max())
        rows: list[w.Widget] = [
            w.HTML("<span class='wb-muted'>By status (click one to narrow the query):</span>")
        ]
        for status, n in nonzero.items():
            button = w.Button(
                description=f"{status}",
                tooltip=f"narrow the query to ExecutionStatus='{status}'",
                layout=w.Layout(width="130px", height="24px"),
            )
            button.add_class("wb-wf-status-button")
            button.add_class(f"wb-wf-status-{status}")
            button.on_click(lambda _b, s=str(status): self.narrow_to(s))
            width = max(2, int(300 * int(n) / top))
            colour = _STATUS_COLOURS.get(str(status), "#57606a")
            bar = w.HTML(
                f"<div style='display:flex;align-items:center;gap:6px'>"
                f"<div style='width:{width}px;height:14px;background:{colour};border-radius:2px'>"
                f"</div><span>{int(n):,}</span></div>"
            )
            rows.append(w.HBox([button, bar], layout=w.Layout(align_items="center")))
        self.counts_box.children = rows

    def narrow_to(self, status: str) -> bool:
        """Narrow the query to one status and run it (what clicking a status does)."""
        base = self.listing.query if self.listing is not None else self.query.value
        return self.run(narrow(base, status))

    # -- selection ------------------------------------------------------------------------------

    def _open(self, workflow_id: str, run_id: str) -> None:
        if self.on_open is not None:
            self.on_open(workflow_id, run_id)

    def _on_select(self, row: pd.Series) -> None:
        self.selected = row
        if self.on_open is not None:
            self.on_open(str(row["workflow_id"]), str(row["run_id"]))
        else:
            self.status.show(
                f"Selected {esc(row['workflow_id'])} (run {esc(row['run_id'])}).",
                "idle",
                html_text=True,
            )

"""The workflows panel's "many runs" mode: fetch the histories of the rows listed, then search
inside their decoded payloads (which a visibility query cannot reach: the server only ever
sees them encrypted). A thin view over :meth:`Session.histories_for` and
:meth:`Histories.search`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import ipywidgets as w
import pandas as pd

from ..many import Histories
from ..session import Session
from ._jobs import Job
from ._style import Status
from .table import TableModel
from .table_view import TableView

__all__ = ["ManyRuns", "fetched_summary", "search_summary"]

RESULT_COLUMNS = ["workflow_id", "event_id", "event_type", "path", "value", "run_id"]


def fetched_summary(hs: Histories) -> str:
    """ "24 runs fetched: 1,200 events, 96 payloads (3 undecodable); 1 run failed"."""
    runs = hs.runs
    fetched = int(runs["fetched"].sum()) if len(runs) else 0
    failed = int(runs["error"].notna().sum()) if len(runs) else 0
    bad = int(runs["undecodable"].sum()) if len(runs) else 0
    text = (
        f"{fetched:,} run{'s' if fetched != 1 else ''} fetched: {int(runs['events'].sum()):,} "
        f"events, {int(runs['payloads'].sum()):,} payloads"
        if len(runs)
        else "No runs to fetch"
    )
    if bad:
        text += f" ({bad:,} undecodable: add the codec in the Converter tab)"
    if failed:
        text += f"; {failed:,} could not be fetched (see the runs' error column)"
    if not hs.complete:
        text += "; stopped: the runs fetched so far are kept"
    return text + "."


def search_summary(found: pd.DataFrame, text: str) -> str:
    """ "12 payloads in 6 runs contain '4111'" or "No decoded payload contains ..."."""
    if found.empty:
        return f"No decoded payload contains {text!r}."
    runs = found[["workflow_id", "run_id"]].drop_duplicates()
    return (
        f"{len(found):,} payload{'s' if len(found) != 1 else ''} in {len(runs):,} "
        f"run{'s' if len(runs) != 1 else ''} contain {text!r} (select one to open its history)."
    )


class ManyRuns(w.VBox):
    """Fetch the listed rows' histories, search their decoded payloads, open a match.

    Args:
        rows: Returns the rows to fetch (the workflows panel's filtered listing).
        on_open: Called with ``(workflow_id, run_id)`` of a selected match.
        limit: Most runs fetched at once.
    """

    def __init__(
        self,
        rows: Callable[[], pd.DataFrame],
        *,
        on_open: Callable[[str, str], None] | None = None,
        limit: int = 2000,
    ) -> None:
        self.session: Session | None = None
        self.rows = rows
        self.on_open = on_open
        self.histories: Histories | None = None
        self.found: pd.DataFrame | None = None
        self.job: Job[Histories] = Job(self._set_busy, name="workbench-many-runs")
        self._last_draw = 0.0
        self.limit = w.BoundedIntText(
            value=limit,
            min=1,
            max=1_000_000,
            description="at most",
            layout=w.Layout(width="170px"),
            style={"description_width": "52px"},
        )
        self.limit.add_class("wb-many-limit")
        self.fetch_button = w.Button(
            description="Fetch their histories", icon="download", layout=w.Layout(width="200px")
        )
        self.fetch_button.add_class("wb-many-fetch")
        self.stop_button = w.Button(
            description="Stop", icon="stop", disabled=True, layout=w.Layout(width="90px")
        )
        self.stop_button.add_class("wb-many-stop")
        self.progress = w.IntProgress(
            value=0, min=0, max=1, layout=w.Layout(width="240px", visibility="hidden")
        )
        self.search_text = w.Text(
            placeholder="text inside decoded payloads, e.g. 4111-1111",
            layout=w.Layout(width="360px"),
            continuous_update=False,
        )
        self.search_text.add_class("wb-many-search-text")
        self.search_button = w.Button(description="Search", icon="search", disabled=True)
        self.search_button.add_class("wb-many-search")
        self.status = Status(
            "Fetch the histories of the rows listed above (after their filter), then search "
            "inside their decrypted payloads."
        )
        self.status.add_class("wb-many-status")
        self.results = TableView(
            TableModel(page_size=15),
            columns=RESULT_COLUMNS,
            on_select=self._on_select,
            placeholder="filter the matches",
        )
        self.results.add_class("wb-many-results")
        self.results.layout.display = "none"
        self.fetch_button.on_click(lambda _b: self.fetch())
        self.stop_button.on_click(lambda _b: self.job.stop())
        self.search_button.on_click(lambda _b: self.search())
        self.search_text.observe(lambda _c: self.search(), "value")
        super().__init__(
            [
                w.HBox(
                    [self.limit, self.fetch_button, self.stop_button, self.progress],
                    layout=w.Layout(align_items="center", flex_flow="row wrap"),
                ),
                w.HBox([self.search_text, self.search_button]),
                self.status,
                self.results,
            ]
        )
        self.add_class("wb-many-runs")

    def set_session(self, session: Session) -> None:
        """Fetch from ``session`` from now on (results of another session are dropped)."""
        self.session = session
        self.histories = None
        self.search_button.disabled = True
        self.results.layout.display = "none"

    def _set_busy(self, busy: bool) -> None:
        self.fetch_button.disabled = busy
        self.stop_button.disabled = not busy
        self.search_button.disabled = busy or self.histories is None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a fetch to end (scripts and tests)."""
        return self.job.wait(timeout)

    def fetch(self, *, wait: bool = False) -> bool:
        """Fetch the histories of the listed rows (at most :attr:`limit`)."""
        if self.session is None:
            self.status.show("Connect first, and list some workflows.", "error")
            return False
        rows = self.rows()
        if rows is None or rows.empty:
            self.status.show("List some workflows first: their histories are fetched.", "error")
            return False
        rows = rows.head(int(self.limit.value))
        session = self.session
        total = len(rows)
        self.progress.max = max(total, 1)
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.status.show(f"Fetching {total:,} histories …", "busy")

        def on_run(done: int, _total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self.progress.value = done
            self.status.show(f"Fetching histories … {done:,} of {total:,}", "busy")

        def work(stop: threading.Event) -> Histories:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the summary counts what did not decode
                return session.histories_for(rows, progress=False, stop=stop, on_run=on_run)

        def done(hs: Histories) -> None:
            self.histories = hs
            self.progress.value = int(hs.runs["fetched"].sum()) if len(hs.runs) else 0
            bad = len(hs.runs) and (hs.runs["error"].notna().any() or hs.runs["undecodable"].any())
            self.status.show(fetched_summary(hs), "error" if bad else "ok")
            self.search_button.disabled = False
            if self.search_text.value.strip():
                self.search()

        started = self.job.start(work, done=done, failed=self.status.error)
        if wait:
            self.job.wait()
        return started

    def search(self) -> None:
        """Find the payloads whose decoded value contains the search text."""
        text = self.search_text.value.strip()
        if self.histories is None or not text:
            return
        try:
            found = self.histories.search(text, case=False)
        except Exception as e:  # said in the panel
            self.status.error(e)
            return
        self.found = found
        self.results.set_frame(found)
        self.results.layout.display = "flex"
        self.status.show(search_summary(found, text), "ok" if len(found) else "idle")

    def _on_select(self, row: pd.Series) -> None:
        if self.on_open is not None:
            self.on_open(str(row["workflow_id"]), str(row["run_id"]))

    def close(self) -> None:
        """Stop a running fetch and close the widgets."""
        self.job.stop()
        super().close()

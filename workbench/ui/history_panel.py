"""The history panel: one run's events with every payload decoded, its timeline, downloads,
and histories opened from a file (no server needed)."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import ipywidgets as w
import pandas as pd

from ..codecs import Chain
from ..errors import HistoryFormatError
from ..history import History
from ..session import Session
from ._jobs import Job
from ._style import Status, esc, style_widget
from .history_view import EVENT_TABLE_COLUMNS, HistoryView, mark_undecoded
from .table import TableModel
from .table_view import TableView

__all__ = ["HistoryPanel"]


class HistoryPanel(w.VBox):
    """Read one workflow run's history, decoded with the session's converter.

    >>> HistoryPanel(session, workflow_id="order-123")

    Args:
        session: Where histories are fetched from (``None``: open files only, until
            :meth:`set_session`).
        workflow_id: Open this workflow's latest run (or ``run_id``) now.
        run_id: The run to open.
        codec: Decode files with this when there is no session (default: the session's).
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        workflow_id: str | None = None,
        run_id: str | None = None,
        codec: Any = None,
    ) -> None:
        self.session = session
        self.codec = codec
        self.view: HistoryView | None = None
        self._generation = 0  # bumped when the session changes: older fetches are ignored
        self.job: Job[History] = Job(self._set_busy, name="workbench-history")
        self._timeline_for: History | None = None
        self._last_draw = 0.0

        self.workflow_id = w.Text(placeholder="workflow id", layout=w.Layout(width="320px"))
        self.workflow_id.add_class("wb-hist-workflow-id")
        self.run_id = w.Text(
            placeholder="run id (empty: the latest run)", layout=w.Layout(width="300px")
        )
        self.run_id.add_class("wb-hist-run-id")
        self.open_button = w.Button(description="Open", button_style="primary", icon="folder-open")
        self.open_button.add_class("wb-hist-open")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("wb-hist-stop")
        self.upload = w.FileUpload(
            accept=".json,application/json",
            multiple=False,
            description="Open a file…",
            tooltip="Open a history JSON downloaded from the Web UI or the CLI (no server needed)",
        )
        self.upload.add_class("wb-hist-upload")
        self.progress = w.IntProgress(
            value=0, min=0, max=1, layout=w.Layout(width="240px", display="none")
        )
        self.status = Status(
            "Select a workflow in the Workflows tab, type an id, or open a "
            "history JSON downloaded from the Web UI or the CLI."
        )
        self.status.add_class("wb-hist-status")
        self.header = w.HTML()
        self.header.add_class("wb-hist-header")

        self.event_type = w.Dropdown(
            options=[("(all event types)", "")], value="", layout=w.Layout(width="300px")
        )
        self.event_type.add_class("wb-hist-event-type")
        self.failures_only = w.Checkbox(
            description="failures only", indent=False, layout=w.Layout(width="130px")
        )
        self.failures_only.add_class("wb-hist-failures")
        self.undecodable_only = w.Checkbox(
            description="undecodable only", indent=False, layout=w.Layout(width="150px")
        )
        self.undecodable_only.add_class("wb-hist-undecodable")
        self.table = TableView(
            TableModel(page_size=20),
            prepare=mark_undecoded,
            columns=EVENT_TABLE_COLUMNS,
            on_select=self._on_select,
            placeholder="filter: text in any column (values included)",
        )
        self.table.add_class("wb-hist-table")
        self.detail = w.HTML("<span class='wb-muted'>Select an event to see its payloads.</span>")
        self.detail.add_class("wb-hist-detail")
        self.timeline = w.Image(format="png", layout=w.Layout(max_width="100%", width="auto"))
        self.timeline.add_class("wb-hist-timeline")
        self.timeline_note = w.HTML()
        self.download_encoded = w.Button(
            description="JSON (encoded, replayable)",
            icon="download",
            layout=w.Layout(width="240px"),
        )
        self.download_decoded = w.Button(
            description="JSON (decoded, readable)", icon="download", layout=w.Layout(width="240px")
        )
        self.download_link = w.HTML()
        self.download_link.add_class("wb-hist-download-link")

        events_tab = w.VBox(
            [
                w.HBox(
                    [self.event_type, self.failures_only, self.undecodable_only],
                    layout=w.Layout(align_items="center"),
                ),
                self.table,
                self.detail,
            ]
        )
        timeline_tab = w.VBox([self.timeline_note, self.timeline])
        download_tab = w.VBox(
            [
                w.HTML(
                    "<span class='wb-muted'>Encoded: what <code>temporal workflow show -o json"
                    "</code> writes; replays in the SDK; encrypted payloads stay encrypted. "
                    "Decoded: every payload replaced by its value (for reading; contains the "
                    "decrypted data).</span>"
                ),
                w.HBox([self.download_encoded, self.download_decoded]),
                self.download_link,
            ]
        )
        self.tabs = w.Tab(children=[events_tab, timeline_tab, download_tab])
        for i, title in enumerate(("Events", "Timeline", "Download")):
            self.tabs.set_title(i, title)
        self.tabs.add_class("wb-hist-tabs")
        self.body = w.VBox([self.header, self.tabs], layout=w.Layout(display="none"))

        self.open_button.on_click(lambda _b: self.load())
        self.stop_button.on_click(lambda _b: self.job.stop())
        self.upload.observe(self._on_upload, "value")
        for box in (self.event_type, self.failures_only, self.undecodable_only):
            box.observe(self._on_filters, "value")
        self.tabs.observe(self._on_tab, "selected_index")
        self.download_encoded.on_click(lambda _b: self._download(decoded=False))
        self.download_decoded.on_click(lambda _b: self._download(decoded=True))
        super().__init__(
            [
                style_widget(),
                w.HBox(
                    [
                        self.workflow_id,
                        self.run_id,
                        self.open_button,
                        self.stop_button,
                        self.upload,
                    ],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.progress,
                self.status,
                self.body,
            ]
        )
        self.add_class("wb-panel")
        self.add_class("wb-history-panel")
        if workflow_id:
            self.load(workflow_id, run_id)

    # -- state ----------------------------------------------------------------------------------

    @property
    def history(self) -> History | None:
        """The history shown, or ``None``."""
        return self.view.history if self.view is not None else None

    def set_session(self, session: Session) -> None:
        """Fetch from ``session`` from now on; a history of another session is put away."""
        if session is not self.session and self.session is not None:
            self._generation += 1
            self.job.stop()
            self.job.wait(10)
            self.view = None
            self.body.layout.display = "none"
            self.progress.layout.display = "none"
            self.status.show(
                f"Connected to {session.namespace}: select a workflow in the Workflows tab, "
                "type an id, or open a history file.",
                "idle",
            )
        self.session = session

    def _set_busy(self, busy: bool) -> None:
        self.open_button.disabled = busy
        self.stop_button.disabled = not busy
        self.open_button.description = "Opening…" if busy else "Open"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a history being opened (for scripts and tests)."""
        return self.job.wait(timeout)

    # -- opening --------------------------------------------------------------------------------

    def load(
        self, workflow_id: str | None = None, run_id: str | None = None, *, wait: bool = False
    ) -> bool:
        """Fetch and show a run's history (what Open does; the Workflows tab calls it too).

        While another history is still being fetched, that fetch is stopped and this one
        follows it (the last one asked for is the one shown).
        """
        if workflow_id is not None:
            self.workflow_id.value = workflow_id
            self.run_id.value = run_id or ""
        wid = self.workflow_id.value.strip()
        rid = self.run_id.value.strip() or None
        if self.session is None:
            self.status.show("Connect first, or open a history file.", "error")
            return False
        if not wid:
            self.status.show("Type a workflow id (or select a row in the Workflows tab).", "error")
            return False
        if self.job.busy:
            # The last one asked for is the one shown: stop the fetch under way, then this.
            self.job.stop()
            self.status.show(f"Opening {wid} once the current fetch has stopped …", "busy")
            self.job.then(lambda: self.load(wid, rid))
            if wait:
                self.job.wait()
            return True
        session = self.session
        generation = self._generation
        self.status.show(f"Fetching the history of {wid} …", "busy")
        self.progress.layout.display = "flex"
        self.progress.value = 0
        self._last_draw = 0.0

        def work(stop: threading.Event) -> History:
            return _fetch(session, wid, rid, stop, self._on_page)

        def done(history: History) -> None:
            if generation == self._generation and not self.job.queued:
                self.show(history)

        def failed(error: BaseException) -> None:
            if generation != self._generation or self.job.queued:
                return
            self.progress.layout.display = "none"
            shown = self.history
            still = (
                f" (still showing {shown.workflow_id or 'the previous history'})"
                if shown is not None
                else ""
            )
            self.status.show(f"{_words(error)}{still}", "error")

        started = self.job.start(work, done=done, failed=failed)
        if wait:
            self.job.wait()
        return started

    def _on_page(self, pages: int, events: int) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.progress.max = max(self.progress.max, events + 1)
        self.progress.value = events
        self.status.show(f"Fetching … {events:,} events so far", "busy")

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = item["name"] if isinstance(item, dict) else getattr(item, "name", "file")
        content = item["content"] if isinstance(item, dict) else item.content
        self.open_file(bytes(content), name=str(name))
        self.upload.value = ()  # the file's bytes must not stay in the widget's state

    def open_file(self, content: bytes | str, *, name: str = "file") -> bool:
        """Decode a history JSON (as downloaded from the Web UI or the CLI) without a server.

        While a history is being fetched, the fetch is stopped and the file opened after it.
        """
        if self.job.busy:
            self.job.stop()
            self.status.show(f"Opening {name} once the current fetch has stopped …", "busy")
            self.job.then(lambda: self.open_file(content, name=name))
            return True
        codec = self._codec()

        def work(_stop: threading.Event) -> History:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the panel shows the undecodable count
                history = History.from_json(
                    content if isinstance(content, bytes) else content.encode(), codec=codec
                )
            if not len(history.events):
                raise HistoryFormatError(
                    "it holds no events: not a workflow history, or an empty download; "
                    "download the history again (Web UI: the run's Download button; CLI: "
                    "temporal workflow show -w ID -o json)",
                    source=name,
                )
            return history

        def failed(error: BaseException) -> None:
            self.status.show(f"{name}: {_words(error)}", "error")

        self.status.show(f"Reading {name} …", "busy")
        return self.job.start(work, done=self.show, failed=failed, inline=True)

    def _codec(self) -> Chain | Any:
        if self.codec is not None:
            return self.codec
        return self.session.codec if self.session is not None else None

    # -- showing --------------------------------------------------------------------------------

    def show(self, history: History) -> None:
        """Show ``history`` (fetched, loaded or given)."""
        view = HistoryView(history)
        self.view = view
        self._timeline_for = None
        self.progress.layout.display = "none"
        self.header.value = view.header_html()
        types = view.event_types()
        self.event_type.unobserve(self._on_filters, "value")
        self.failures_only.unobserve(self._on_filters, "value")
        self.undecodable_only.unobserve(self._on_filters, "value")
        try:
            self.event_type.options = [("(all event types)", "")] + [(t, t) for t in types]
            self.event_type.value = ""
            self.failures_only.value = False
            self.undecodable_only.value = False
        finally:
            for box in (self.event_type, self.failures_only, self.undecodable_only):
                box.observe(self._on_filters, "value")
        self.table.set_frame(history.events, column_filters={"panel": view.mask})
        self.detail.value = "<span class='wb-muted'>Select an event to see its payloads.</span>"
        self.download_link.value = ""
        self.body.layout.display = "flex"
        hd = view.header()
        text = f"{hd.events:,} events, {hd.payloads:,} payloads"
        if hd.undecodable:
            text += (
                f", {hd.undecodable:,} could not be decoded (tick 'undecodable only' to "
                "see them and why)"
            )
        if not hd.complete:
            text += " — stopped before the end: the events received so far"
        self.status.show(text + ".", "error" if hd.undecodable else "ok")
        if self.tabs.selected_index == 1:
            self._draw_timeline()

    def _on_filters(self, _change: dict[str, Any]) -> None:
        if self.view is None:
            return
        self.view.set_filters(
            event_type=self.event_type.value or None,
            failures_only=self.failures_only.value,
            undecodable_only=self.undecodable_only.value,
        )
        self.table.model.set_column_filter("panel", self.view.mask)
        self.table.render()

    def _on_select(self, row: pd.Series) -> None:
        if self.view is not None:
            self.select_event(int(row["event_id"]))

    def select_event(self, event_id: int) -> None:
        """Show one event's payloads in the detail pane."""
        if self.view is not None:
            self.detail.value = self.view.detail_html(event_id)

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1:
            self._draw_timeline()

    def _draw_timeline(self) -> None:
        history = self.history
        if history is None or self._timeline_for is history:
            return
        from ..plots import timeline, to_png

        try:
            self.timeline.value = to_png(timeline(history))
            self.timeline_note.value = ""
        except Exception as e:  # shown, never swallowed
            self.timeline_note.value = f"<span class='wb-error'>No timeline: {esc(e)}</span>"
        self._timeline_for = history

    def _download(self, *, decoded: bool) -> None:
        history = self.history
        if history is None:
            return
        text = history.to_decoded_json() if decoded else history.to_json()
        name = f"{history.workflow_id or 'history'}{'-decoded' if decoded else ''}.json"
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        self.download_link.value = (
            f"<a download='{esc(name)}' href='data:application/json;base64,{data}' "
            "style='font-weight:600;text-decoration:underline'>"
            f"⬇ Save {esc(name)}</a> <span class='wb-muted'>({len(text):,} bytes; the link "
            "goes away after two minutes, so the file does not stay in the notebook)</span>"
        )
        # The link carries the whole file (decrypted, for the readable one) in the widget's
        # state, which a saved notebook would keep: it is dropped once it has served.
        link = self.download_link.value
        timer = threading.Timer(120, self._drop_link, args=(link,))
        timer.daemon = True
        timer.start()

    def _drop_link(self, link: str) -> None:
        if self.download_link.value == link:
            self.download_link.value = ""


def _words(error: BaseException) -> str:
    from ._style import describe_error

    return describe_error(error)


def _fetch(
    session: Session, workflow_id: str, run_id: str | None, stop: threading.Event, on_page: Any
) -> History:
    import warnings

    with warnings.catch_warnings():
        # The panel says how many payloads did not decode, and that a stopped fetch is partial.
        warnings.simplefilter("ignore")
        return session.history(workflow_id, run_id, stop=stop, on_page=on_page)

"""What the history panel shows, as plain Python: header, event filters, the event detail.

Payload rows are indexed by event once per history, so showing an event's payloads is a dict
look-up and a little HTML, whatever the history's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._html import duration_text, history_header
from ..history import History
from ._style import esc

__all__ = ["EVENT_TABLE_COLUMNS", "NOT_DECODED", "HistoryView", "error_hint", "mark_undecoded"]

EVENT_TABLE_COLUMNS = [
    "event_id",
    "event_time",
    "event_type",
    "activity_type",
    "input",
    "result",
    "failure_message",
    "payload_errors",
    "attempt",
    "signal_name",
    "timer_id",
]


_SCALARS = (
    "event_type",
    "event_time",
    "activity_type",
    "activity_id",
    "attempt",
    "workflow_type",
    "task_queue",
    "signal_name",
    "update_name",
    "timer_id",
    "marker_name",
    "child_workflow_id",
    "child_run_id",
    "new_run_id",
    "scheduled_event_id",
    "started_event_id",
    "initiated_event_id",
    "identity",
    "retry_state",
    "failure_type",
    "failure_message",
    "failure_cause",
)


NOT_DECODED = "⚠ not decoded"
"""What the events table shows for a payload that could not be decoded (not ``null``)."""


def mark_undecoded(page: pd.DataFrame) -> pd.DataFrame:
    """A page of events with the values that did not decode shown as :data:`NOT_DECODED`.

    A payload that could not be decoded has the value ``None``, which a table would show as
    ``null``, as if the workflow had been given null.
    """
    if "payload_errors" not in page.columns or not (page["payload_errors"] > 0).any():
        return page
    page = page.copy()
    bad = page["payload_errors"] > 0
    for name in ("input", "result", "details", "failure_details"):
        if name in page.columns:
            page.loc[bad, name] = page.loc[bad, name].map(_mark)
    return page


def _mark(value: Any) -> Any:
    if value is None:
        return NOT_DECODED
    if isinstance(value, list):
        return [NOT_DECODED if v is None else v for v in value]
    return value


def error_hint(error: str, key_id: str | None) -> str:
    """What to do about a payload that did not decode, in a few words."""
    text = error.lower()
    if key_id and ("key" in text):
        return (
            f"Add the key with id '{key_id}' to the AES-GCM codec in the Converter tab "
            "(or check that the key given for it is the right one)."
        )
    if "binary/encrypted" in text or "encrypt" in text:
        return "Add an AES-GCM codec with the workers' key ring in the Converter tab."
    if "zlib" in text or "gzip" in text or "snappy" in text:
        return "Add the matching compression codec in the Converter tab."
    if "codec server" in text or "http" in text:
        return "Check the codec server's endpoint and credentials in the Converter tab."
    return "Add the codec your workers use in the Converter tab (or 'my codec')."


@dataclass(frozen=True)
class Header:
    """The facts shown above the events."""

    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    duration: pd.Timedelta | None
    events: int
    payloads: int
    undecodable: int
    complete: bool = True


class HistoryView:
    """A history with the panel's filters and selection.

    >>> view = HistoryView(history)
    >>> view.set_filters(event_type="ActivityTaskFailed")
    >>> view.rows()                      # the events that pass
    >>> view.detail_html(5)              # event 5 with its payloads
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self.event_type: str | None = None
        self.failures_only = False
        self.undecodable_only = False
        p = history.payloads
        self._payload_rows: dict[int, list[int]] = {}
        for i, event_id in enumerate(p["event_id"].tolist()):
            self._payload_rows.setdefault(int(event_id), []).append(i)
        ev = history.events
        self._event_pos = {int(e): i for i, e in enumerate(ev["event_id"].tolist())}

    # -- header ---------------------------------------------------------------------------------

    def header(self) -> Header:
        """Ids, type, status, duration and counts."""
        h = self.history
        facts = history_header(h)
        return Header(
            workflow_id=h.workflow_id,
            run_id=h.run_id,
            complete=bool(getattr(h, "complete", True)),
            **facts,
        )

    def header_html(self) -> str:
        """The header as a small HTML block."""
        hd = self.header()
        bad_cls = "wb-error" if hd.undecodable else "wb-ok"
        duration = duration_text(hd.duration) or "—"
        partial = (
            " <span class='wb-warn'>(stopped: the events received so far)</span>"
            if not hd.complete
            else ""
        )
        return (
            f"<div class='wb-h'>{esc(hd.workflow_id or '(workflow id not in the file)')}"
            f"{partial}</div><table class='wb-kv'>"
            f"<tr><td>run</td><td><code>{esc(hd.run_id or '?')}</code></td>"
            f"<td>type</td><td>{esc(hd.workflow_type or '?')}</td>"
            f"<td>status</td><td><b>{esc(hd.status)}</b></td>"
            f"<td>duration</td><td>{esc(duration)}</td></tr>"
            f"<tr><td>events</td><td>{hd.events:,}</td><td>payloads</td><td>{hd.payloads:,}</td>"
            f"<td>undecodable</td><td class='{bad_cls}'>{hd.undecodable:,}</td>"
            "<td></td><td></td></tr>"
            "</table>"
        )

    # -- filters --------------------------------------------------------------------------------

    def event_types(self) -> list[str]:
        """The event types present, in order of first appearance."""
        return list(dict.fromkeys(self.history.events["event_type"].tolist()))

    def set_filters(
        self,
        *,
        event_type: str | None = None,
        failures_only: bool = False,
        undecodable_only: bool = False,
    ) -> None:
        """Choose which events :meth:`rows` returns."""
        self.event_type = event_type or None
        self.failures_only = failures_only
        self.undecodable_only = undecodable_only

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """The filters as a boolean mask over ``frame`` (the events or a page of them)."""
        keep: pd.Series = pd.Series(True, index=frame.index)
        if self.event_type:
            keep &= frame["event_type"] == self.event_type
        if self.failures_only:
            keep &= frame["failure_message"].notna() | frame["event_type"].str.contains(
                "Failed|TimedOut", regex=True
            )
        if self.undecodable_only:
            keep &= frame["payload_errors"] > 0
        return keep

    def rows(self) -> pd.DataFrame:
        """The events that pass the filters."""
        ev = self.history.events
        rows: pd.DataFrame = ev[self.mask(ev)]
        return rows

    # -- detail ---------------------------------------------------------------------------------

    def payload_rows(self, event_id: int) -> pd.DataFrame:
        """The payloads of one event (rows of ``History.payloads``)."""
        positions = self._payload_rows.get(int(event_id), [])
        rows: pd.DataFrame = self.history.payloads.iloc[positions]
        return rows

    def detail_html(self, event_id: int) -> str:
        """One event: its facts, then each payload pretty-printed, errors highlighted."""
        pos = self._event_pos.get(int(event_id))
        if pos is None:
            return f"<span class='wb-error'>No event {int(event_id)} in this history.</span>"
        event = self.history.events.iloc[pos]
        facts = []
        for name in _SCALARS:
            value = event[name]
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            facts.append(f"<tr><td>{esc(name)}</td><td>{esc(value)}</td></tr>")
        parts = [
            f"<div class='wb-h'>Event {int(event_id)}: {esc(event['event_type'])}</div>",
            f"<table class='wb-kv'>{''.join(facts)}</table>",
        ]
        payloads = self.payload_rows(event_id)
        if payloads.empty:
            parts.append("<div class='wb-muted'>No payloads in this event.</div>")
        for row in payloads.itertuples(index=False):
            parts.append(_payload_html(row))
        return "".join(parts)


def _payload_html(row: Any) -> str:
    stack = str(row.encodings) if isinstance(row.encodings, str) else "(no encoding)"
    key = (
        f" · key id <code>{esc(row.key_id)}</code>"
        if isinstance(row.key_id, str) and row.key_id
        else ""
    )
    head = (
        f"<div><code>{esc(row.path)}</code> · <span class='wb-stack'>{esc(stack)}</span>{key}"
        f" · <span class='wb-muted'>{int(row.size_bytes):,} bytes stored</span></div>"
    )
    if isinstance(row.error, str):
        hint = error_hint(row.error, row.key_id if isinstance(row.key_id, str) else None)
        return (
            f"<div class='wb-payload wb-bad'>{head}<div class='wb-error'>✗ not decoded: "
            f"{esc(row.error)}</div><div class='wb-muted'>{esc(hint)}</div></div>"
        )
    text = json.dumps(row.value, indent=2, default=str, ensure_ascii=False)
    if len(text) > 200_000:
        text = (
            text[:200_000]
            + "\n… (cut at 200,000 characters; the full value is in History.payloads)"
        )
    return (
        f"<div class='wb-payload'>{head}<details open><summary>value</summary>"
        f"<pre>{esc(text)}</pre></details></div>"
    )

"""HTML for notebook cells that show a workbench object without panels (``_repr_html_``).

Plain strings, no ipywidgets: ``import workbench`` stays light. The panels reuse these.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .cluster import ServerInfo
    from .history import History
    from .workflows import WorkflowDescription

__all__ = ["description_html", "duration_text", "history_html", "server_info_html"]

_CLOSING = {
    "WorkflowExecutionCompleted": "Completed",
    "WorkflowExecutionFailed": "Failed",
    "WorkflowExecutionTimedOut": "TimedOut",
    "WorkflowExecutionCanceled": "Canceled",
    "WorkflowExecutionTerminated": "Terminated",
    "WorkflowExecutionContinuedAsNew": "ContinuedAsNew",
}

_TABLE = "border-collapse:collapse;font-size:13px"
_KEY = "color:#666;padding:1px 12px 1px 0;text-align:left;vertical-align:top"
_VAL = "padding:1px 16px 1px 0;text-align:left;vertical-align:top"


def esc(value: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def duration_text(td: Any) -> str:
    """``212 ms``, ``3.4 s``, ``2.5 min``, ``1.2 h``, ``3.0 d`` (empty for NaT/None)."""
    if td is None or pd.isna(td):
        return ""
    seconds = pd.Timedelta(td).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _table(rows: list[tuple[str, object]], *, raw: frozenset[str] = frozenset()) -> str:
    cells = "".join(
        f"<tr><th style='{_KEY}'>{esc(k)}</th>"
        f"<td style='{_VAL}'>{v if k in raw else esc(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table style='{_TABLE}'>{cells}</table>"


def server_info_html(info: ServerInfo) -> str:
    """Server version, address, namespace, retention and capabilities."""
    ns = info.namespace
    retention = f"{ns.retention.days} days" if ns.retention else "unset"
    enabled = ", ".join(k for k, v in info.capabilities.items() if v) or "none"
    return (
        f"<div><b>Temporal {esc(info.server_version or '(version not reported)')}</b> at "
        f"<code>{esc(info.address)}</code></div>"
        + _table(
            [
                ("namespace", ns.name),
                ("state", ns.state),
                ("retention", retention),
                (
                    "archival",
                    f"history {ns.history_archival or '?'}, "
                    f"visibility {ns.visibility_archival or '?'}",
                ),
                ("capabilities", enabled),
            ]
        )
    )


def description_html(d: WorkflowDescription) -> str:
    """A run's facts, memo and search attributes, and its pending work."""
    info = d.info
    rows: list[tuple[str, object]] = [
        ("workflow id", d.workflow_id),
        ("run id", d.run_id),
        ("type", d.workflow_type),
        ("status", d.status),
        ("started", info.get("start_time")),
        ("closed", info.get("close_time") if not pd.isna(info.get("close_time")) else "—"),
        ("duration", duration_text(info.get("duration")) or "—"),
        ("task queue", info.get("task_queue")),
        ("history", f"{int(info.get('history_length') or 0):,} events"),
    ]
    if d.memo:
        rows.append(("memo", ", ".join(f"{k}={v!r}" for k, v in d.memo.items())))
    if d.memo_errors:
        rows.append(("memo errors", "; ".join(f"{k}: {v}" for k, v in d.memo_errors.items())))
    if d.search_attributes:
        rows.append(
            ("search attributes", ", ".join(f"{k}={v!r}" for k, v in d.search_attributes.items()))
        )
    rows.append(
        (
            "pending",
            f"{len(d.pending_activities)} activities, {len(d.pending_children)} child workflows",
        )
    )
    return _table(rows)


def history_header(history: History) -> dict[str, Any]:
    """Type, status, duration and counts of a history, for headers."""
    ev = history.events
    wtype, status, duration = "", "Running", None
    if len(ev):
        first = ev.iloc[0]
        if first["event_type"] == "WorkflowExecutionStarted" and isinstance(
            first["workflow_type"], str
        ):
            wtype = first["workflow_type"]
        last_type = str(ev["event_type"].iloc[-1])
        if last_type in _CLOSING:
            status = _CLOSING[last_type]
            duration = ev["event_time"].iloc[-1] - ev["event_time"].iloc[0]
    p = history.payloads
    return {
        "workflow_type": wtype,
        "status": status,
        "duration": duration,
        "events": len(ev),
        "payloads": len(p),
        "undecodable": int(p["error"].notna().sum()) if len(p) else 0,
    }


def history_html(history: History, *, events: int = 10) -> str:
    """Header facts and the first events, values decoded."""
    hd = history_header(history)
    bad = hd["undecodable"]
    bad_text = f"<span style='color:#b42318'>{bad:,} (see History.errors)</span>" if bad else "0"
    head = _table(
        [
            ("workflow id", history.workflow_id or "?"),
            ("run id", history.run_id or "?"),
            ("type", hd["workflow_type"] or "?"),
            ("status", hd["status"]),
            ("duration", duration_text(hd["duration"]) or "—"),
            ("events", f"{hd['events']:,}"),
            ("payloads", f"{hd['payloads']:,}"),
            ("undecodable", bad_text),
            ("converter", repr(history.codec)),
        ],
        raw=frozenset({"undecodable"}),
    )
    cols = [
        c
        for c in (
            "event_id",
            "event_time",
            "event_type",
            "activity_type",
            "input",
            "result",
            "failure_message",
        )
        if c in history.events.columns
    ]
    preview = history.events[cols].head(events).to_html(index=False, border=0, na_rep="")
    more = (
        f"<div style='color:#666'>… {len(history.events) - events:,} more events "
        "(History.events)</div>"
        if len(history.events) > events
        else ""
    )
    return f"{head}{preview}{more}"

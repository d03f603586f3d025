"""Plots of histories: the activity / timer / child-workflow timeline.

The project plots with **matplotlib**, on purpose: its figures are static PNGs that render the
same everywhere a notebook goes (JupyterLab, Notebook 7, Voilà, VS Code, GitHub, nbconvert) with
no front-end extension and no CDN, they survive in saved notebooks, and pandas' ``.plot`` uses it
too. Interactive libraries either need a front-end extension or fail offline (altair).
Figures are built with the object API (``matplotlib.figure.Figure``), not pyplot, so panels can
draw from background threads without touching pyplot's global state.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .history import History

__all__ = ["SPAN_COLUMNS", "spans", "timeline", "to_png"]

SPAN_COLUMNS = ("kind", "name", "id", "start", "started", "end", "outcome", "attempt")

_CLOSE = {
    "ActivityTaskCompleted": "completed",
    "ActivityTaskFailed": "failed",
    "ActivityTaskTimedOut": "timed out",
    "ActivityTaskCanceled": "canceled",
    "TimerFired": "fired",
    "TimerCanceled": "canceled",
    "ChildWorkflowExecutionCompleted": "completed",
    "ChildWorkflowExecutionFailed": "failed",
    "ChildWorkflowExecutionTimedOut": "timed out",
    "ChildWorkflowExecutionCanceled": "canceled",
    "ChildWorkflowExecutionTerminated": "terminated",
    "StartChildWorkflowExecutionFailed": "failed to start",
}
_COLOURS = {
    "completed": "#2da44e",
    "fired": "#8c959f",
    "failed": "#cf222e",
    "failed to start": "#cf222e",
    "timed out": "#bc4c00",
    "canceled": "#9a6700",
    "terminated": "#6e3b00",
    "running": "#0969da",
}


def spans(history: History) -> pd.DataFrame:
    """One row per activity, timer and child workflow of ``history``, with its time span.

    Columns: ``kind`` (activity, timer, child), ``name`` (activity type, timer id, child
    workflow type), ``id`` (activity id, timer id, child workflow id), ``start`` (scheduled /
    started / initiated), ``started`` (when a worker picked it up, activities and children),
    ``end`` (closed; NaT while open), ``outcome`` (completed, failed, timed out, fired, ...,
    ``running`` while open), ``attempt``.
    """
    ev = history.events
    if ev.empty:
        return pd.DataFrame(columns=list(SPAN_COLUMNS))  # type: ignore[no-any-return]
    rows: dict[Any, dict[str, Any]] = {}
    events: Any = ev.itertuples(index=False)
    for e in events:
        t = e.event_type
        if t == "ActivityTaskScheduled":
            rows[e.event_id] = _span("activity", e.activity_type, e.activity_id, e.event_time)
        elif t == "TimerStarted":
            rows[e.event_id] = _span("timer", e.timer_id, e.timer_id, e.event_time, started=True)
        elif t == "StartChildWorkflowExecutionInitiated":
            rows[e.event_id] = _span("child", e.workflow_type, e.child_workflow_id, e.event_time)
        elif t == "ActivityTaskStarted":
            row = rows.get(_int(e.scheduled_event_id))
            if row is not None:
                row["started"] = e.event_time
                row["attempt"] = e.attempt
        elif t == "ChildWorkflowExecutionStarted":
            row = rows.get(_int(e.initiated_event_id))
            if row is not None:
                row["started"] = e.event_time
        elif t in _CLOSE:
            ref = _int(e.scheduled_event_id)
            if t.startswith("Timer"):
                ref = _int(e.started_event_id)
            elif "Child" in t:
                ref = _int(e.initiated_event_id)
            row = rows.get(ref)
            if row is not None:
                row["end"] = e.event_time
                row["outcome"] = _CLOSE[t]
    return pd.DataFrame(list(rows.values()), columns=list(SPAN_COLUMNS))  # type: ignore[no-any-return]


def _span(kind: str, name: Any, id_: Any, at: Any, *, started: bool = False) -> dict[str, Any]:
    """A span opened at ``at``; a timer runs from the moment it is started."""
    return {
        "kind": kind,
        "name": name,
        "id": id_,
        "start": at,
        "started": at if started else pd.NaT,
        "end": pd.NaT,
        "outcome": "running",
        "attempt": pd.NA,
    }


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def timeline(history: History, *, max_rows: int = 60, width: float = 9.0) -> Figure:
    """A Gantt chart of the history's activities, timers and child workflows.

    Each row is one activity (by type and id), timer or child workflow; a bar runs from when it
    was scheduled to when it closed, the part before a worker started it lighter, coloured by
    outcome (red for failures). Open ones run to the last event. At most ``max_rows`` rows are
    drawn (the first ones in time); the title says how many were left out.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    table = spans(history)
    ev = history.events
    fig = Figure(figsize=(width, 1.6))
    ax = fig.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "no activities, timers or child workflows", ha="center", va="center")
        ax.set_axis_off()
        return fig
    origin = ev["event_time"].iloc[0]
    last = ev["event_time"].iloc[-1]
    shown = table.head(max_rows)
    fig.set_size_inches(width, 1.2 + 0.24 * len(shown))
    for i, row in enumerate(shown.itertuples(index=False)):
        start = (row.start - origin).total_seconds()
        end_time = row.end if not pd.isna(row.end) else last
        end = max((end_time - origin).total_seconds(), start)
        colour = _COLOURS.get(row.outcome, "#8c959f")
        if not pd.isna(row.started) and row.kind != "timer":
            began = (row.started - origin).total_seconds()
            ax.barh(i, began - start, left=start, height=0.6, color=colour, alpha=0.3)
            ax.barh(i, max(end - began, 0.001), left=began, height=0.6, color=colour)
        else:
            ax.barh(
                i,
                max(end - start, 0.001),
                left=start,
                height=0.6,
                color=colour,
                alpha=0.55 if row.kind == "timer" else 1.0,
            )
    labels = [
        f"{k}: {n}" + (f" ({i})" if i and i != n else "")
        for k, n, i in zip(shown["kind"], shown["name"], shown["id"], strict=True)
    ]
    ax.set_yticks(range(len(shown)), labels=[lbl[:48] for lbl in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max((last - origin).total_seconds(), 0.001) * 1.02)
    ax.set_xlabel("seconds since the workflow started")
    ax.grid(axis="x", alpha=0.3)
    outcomes = [o for o in _COLOURS if o in set(shown["outcome"])]
    ax.legend(
        handles=[Patch(color=_COLOURS[o], label=o) for o in outcomes],
        fontsize=7,
        loc="lower right",
        framealpha=0.8,
    )
    more = len(table) - len(shown)
    noun = "span" if len(table) == 1 else "spans"
    title = f"{history.workflow_id or 'workflow'}: {len(table)} {noun}"
    ax.set_title(title + (f" (first {len(shown)} shown, {more} more)" if more else ""), fontsize=9)
    fig.tight_layout()
    return fig


def to_png(fig: Figure, *, dpi: int = 96) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()

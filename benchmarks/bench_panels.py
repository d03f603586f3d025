"""How the panels cost against the library calls they wrap (issue: the workbench in a notebook).

Everything is measured in one run, as ratios against the plain library call measured beside it:

- **Listing through the workflows panel** (20k seeded workflows, ``_seed.py``): Run → last row
  in the table, against ``s.workflows()`` alone; Run → first rows shown, against
  ``s.workflows(limit=page_size)``.
- **Table over 100k rows** (the 20k listing repeated five times with fresh ids, in the kernel):
  bytes sent to the browser per sort, filter and page action (counted on the widgets' comm
  messages), the same at 20k and 100k; kernel time per action; memory the table adds.
- **10k-event history** (``bench_history.py``'s seeded run): opening it in the history panel
  against ``s.history()`` alone; selecting an event (kernel time until its payloads are shown).
- **Stop** during a long listing: seconds from Stop to the panel's answer, rows kept.

    .venv/bin/python benchmarks/bench_panels.py [--runs 5] [--no-write]

No browser: the widgets run in this process and their comm messages are counted, which is
what a kernel sends to the browser.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT.parent / "tests"))

import _seed  # noqa: E402
import bench_history  # noqa: E402
import ipywidgets  # noqa: E402
from _results import write_section  # noqa: E402

import workbench  # noqa: E402
from workbench import codecs  # noqa: E402
from workbench.ui import HistoryPanel, WorkflowsPanel  # noqa: E402
from workbench.ui.table import TableModel  # noqa: E402
from workbench.ui.table_view import TableView  # noqa: E402

RESULTS = ROOT / "RESULTS.md"
SECTION = "## Panels (`bench_panels.py`)"


class CommBytes:
    """Counts the bytes of every widget message the kernel would send to the browser."""

    def __init__(self, *, skip_code: bool = True) -> None:
        self.total = 0
        self.skip_code = skip_code
        self._orig = ipywidgets.Widget._send

    def __enter__(self) -> CommBytes:
        counter = self

        def send(widget: Any, msg: Any, buffers: Any = None) -> None:
            if counter.skip_code and isinstance(msg, dict) and isinstance(msg.get("state"), dict):
                # The widget's own code (itables' ESM and CSS) goes once per widget.
                msg = {
                    **msg,
                    "state": {k: v for k, v in msg["state"].items() if k not in ("_esm", "_css")},
                }
            counter.total += len(json.dumps(msg, default=str))
            counter.total += sum(len(b) for b in buffers or ())

        ipywidgets.Widget._send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ipywidgets.Widget._send = self._orig  # type: ignore[method-assign]


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def med(xs: list[float]) -> float:
    return statistics.median(xs)


# -- listing ---------------------------------------------------------------------------------


def bench_listing(session: workbench.Session, runs: int) -> dict[str, float]:
    plain, panel_last, plain_first, panel_first = [], [], [], []
    for _ in range(runs):
        plain.append(timed(lambda: session.workflows("", progress=False)))
        panel = WorkflowsPanel(session, limit=10_000_000)
        first = threading.Event()
        orig = panel.table.set_frame

        def set_frame(
            frame: pd.DataFrame, *, keep_view: bool = False, _o: Any = orig, _f: Any = first
        ) -> None:
            _o(frame, keep_view=keep_view)
            _f.set()

        panel.table.set_frame = set_frame  # type: ignore[method-assign]
        t0 = time.perf_counter()
        panel.run("")
        first.wait(120)
        t_first = time.perf_counter() - t0
        panel.wait(300)
        t_last = time.perf_counter() - t0
        assert len(panel.frame) >= 20_000, len(panel.frame)
        panel_first.append(t_first)
        panel_last.append(t_last)
        plain_first.append(timed(lambda: session.workflows("", limit=1000, progress=False)))
        panel.close()
    return {
        "plain_all": med(plain),
        "panel_last": med(panel_last),
        "plain_first": med(plain_first),
        "panel_first": med(panel_first),
    }


# -- table -----------------------------------------------------------------------------------


def big_frame(base: pd.DataFrame, rows: int) -> pd.DataFrame:
    parts = []
    for i in range(-(-rows // len(base))):
        part = base.copy()
        part["workflow_id"] = part["workflow_id"] + f"-copy{i}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).head(rows)


def table_actions(frame: pd.DataFrame) -> Iterator[tuple[str, Callable[[TableView], None]]]:
    yield (
        "sort by start_time (desc)",
        lambda v: (setattr(v.descending, "value", True), setattr(v.sort, "value", "start_time")),
    )
    yield (
        "filter 'copy3' (first filter: builds the text cache)",
        lambda v: setattr(v.filter, "value", "copy3"),
    )
    yield "filter 'completed'", lambda v: setattr(v.filter, "value", "completed")
    yield "next page", lambda v: v.next.click()
    yield "filter cleared", lambda v: setattr(v.filter, "value", "")
    yield "sort by workflow_id", lambda v: setattr(v.sort, "value", "workflow_id")
    yield "page 2,000", lambda v: (v.model.go_to(1999), v.render())


def bench_table(base: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rows in (20_000, 100_000):
        frame = big_frame(base, rows)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        with CommBytes(skip_code=False) as code:
            view = TableView(TableModel(page_size=25), columns=list(frame.columns[:9]))
        with CommBytes() as sent:
            view.set_frame(frame)
        opened = sent.total
        out["code"] = code.total
        per_action: dict[str, tuple[int, float]] = {}
        for name, act in table_actions(frame):
            with CommBytes() as sent:
                t0 = time.process_time()
                act(view)
                cpu = time.process_time() - t0
            per_action[name] = (sent.total, cpu)
        added = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        out[rows] = {"open": opened, "actions": per_action, "memory": added}
        view.close()
    return out


# -- history ---------------------------------------------------------------------------------


def bench_history_panel(session: workbench.Session, run_id: str, runs: int) -> dict[str, float]:
    codec = codecs.Chain(codecs.AesGcm({bench_history.KEY_ID: bench_history.KEY}))
    session.codec = codec
    plain, panel_times, select = [], [], []
    events = 0
    for _ in range(runs):
        plain.append(timed(lambda: session.history(bench_history.WORKFLOW_ID, run_id)))
        panel = HistoryPanel(session)
        t0 = time.perf_counter()
        panel.load(bench_history.WORKFLOW_ID, run_id)
        panel.wait(300)
        panel_times.append(time.perf_counter() - t0)
        assert panel.history is not None and panel.status.state == "ok", panel.status.text
        events = len(panel.history.events)
        ids = panel.history.events["event_id"].tolist()
        for event_id in ids[:: max(1, len(ids) // 20)]:
            t1 = time.process_time()
            panel.select_event(int(event_id))
            select.append(time.process_time() - t1)
        panel.close()
    return {
        "plain": med(plain),
        "panel": med(panel_times),
        "select_ms": med(select) * 1000,
        "select_max_ms": max(select) * 1000,
        "events": events,
    }


# -- stop ------------------------------------------------------------------------------------


def bench_stop(session: workbench.Session, runs: int) -> dict[str, float]:
    waits, kept = [], []
    for _ in range(runs):
        panel = WorkflowsPanel(session, limit=10_000_000, page_size=100)
        panel.run("")
        while len(panel.table.model.frame) == 0:
            time.sleep(0.01)
        time.sleep(0.3)
        t0 = time.perf_counter()
        panel.stop_button.click()
        panel.wait(30)
        waits.append(time.perf_counter() - t0)
        kept.append(len(panel.frame))
        panel.close()
    return {"stop_s": med(waits), "stop_max_s": max(waits), "kept": med(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")
    lines = [
        SECTION,
        "",
        "Command: `.venv/bin/python benchmarks/bench_panels.py "
        f"--runs {args.runs}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "medians. The widgets run in the benchmark process without a browser; bytes are "
        "the JSON of the widget messages the kernel would send.",
        "",
    ]

    server = _seed.open_server(20_000)
    try:
        with workbench.connect(address=server.address, namespace="default", env={}) as s:
            s.codec = codecs.Chain(codecs.AesGcm({_seed.KEY_ID: _seed.KEY}))
            lst = bench_listing(s, args.runs)
            base = s.workflows("", progress=False)
            stop = bench_stop(s, max(3, args.runs))
    finally:
        server.stop()
    tab = bench_table(base)

    hserver, run_id = bench_history.open_server(3400)
    try:
        with workbench.connect(address=hserver.address, namespace="default", env={}) as s:
            hist = bench_history_panel(s, run_id, args.runs)
    finally:
        hserver.stop()

    lines += [
        "| measure | panel | library alone | ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| 20k listing: Run → last row in the table | {lst['panel_last']:.2f} s | "
        f"{lst['plain_all']:.2f} s (`s.workflows()`) | "
        f"{lst['panel_last'] / lst['plain_all']:.2f}x | ≤ 1.15x |",
        f"| 20k listing: Run → first rows shown | {lst['panel_first']:.3f} s | "
        f"{lst['plain_first']:.3f} s (`s.workflows(limit=1000)`) | "
        f"{lst['panel_first'] / lst['plain_first']:.2f}x | ≤ 1.5x |",
        f"| {hist['events']:,}-event history: open | {hist['panel']:.2f} s | "
        f"{hist['plain']:.2f} s (`s.history()`) | {hist['panel'] / hist['plain']:.2f}x | ≤ 1.2x |",
        f"| select an event → payloads shown (kernel CPU) | {hist['select_ms']:.1f} ms "
        f"(max {hist['select_max_ms']:.1f}) | | | ≤ 50 ms |",
        f"| Stop during a long listing → answer | {stop['stop_s']:.2f} s "
        f"(max {stop['stop_max_s']:.2f}), {stop['kept']:,.0f} rows kept | | | ≤ 1 s |",
        "",
        "Table over the listing (25 rows a page; bytes per action, kernel CPU per action):",
        "",
        "| action | bytes at 20k rows | bytes at 100k rows | CPU at 20k | CPU at 100k |",
        "|---|---:|---:|---:|---:|",
        f"| the table widget itself (itables' code, once) | {tab['code']:,} | | | |",
        f"| show the listing (first page) | {tab[20_000]['open']:,} | "
        f"{tab[100_000]['open']:,} | | |",
    ]
    for name in tab[20_000]["actions"]:
        b20, c20 = tab[20_000]["actions"][name]
        b100, c100 = tab[100_000]["actions"][name]
        lines.append(
            f"| {name} | {b20:,} | {b100:,} | {c20 * 1000:.0f} ms | {c100 * 1000:.0f} ms |"
        )
    lines += [
        "",
        f"Kernel memory the table adds (its text cache for filtering, positions): "
        f"{tab[20_000]['memory'] / 1e6:.1f} MB at 20k rows, "
        f"{tab[100_000]['memory'] / 1e6:.1f} MB at 100k rows (tracemalloc; the DataFrame "
        "itself is the listing's and not counted). Targets: bytes per action ≤ 200 KB and "
        "flat from 20k to 100k; sort/filter ≤ 150 ms kernel time at 100k.",
        "",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(body, RESULTS)


if __name__ == "__main__":
    main()

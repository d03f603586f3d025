"""The table widget: one page of a :class:`~workbench.ui.table.TableModel`, shown by itables.

Why this design (README, "Panels"): the whole DataFrame stays in the kernel, where pandas sorts
and filters it; the browser receives one page (25 rows by default) through itables' widget,
which also gives row selection. itables' own sorting and search are turned off because they
would act on the page only. Measured in ``benchmarks/bench_panels.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from .._html import duration_text
from .table import DEFAULT_PAGE_SIZE, TableModel

__all__ = ["TableView", "display_frame"]

MAX_CELL_CHARS = 120

_LAYOUT_OFF = {"topStart": None, "topEnd": None, "bottomStart": None, "bottomEnd": None}


def _itable(**kwargs: Any) -> Any:
    import warnings

    from itables.widget import ITable

    with warnings.catch_warnings():
        # itables warns about options its typing does not list; ours are DataTables' own.
        warnings.simplefilter("ignore", SyntaxWarning)
        return ITable(**kwargs)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str, ensure_ascii=False)
    elif isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.isoformat(sep=" ", timespec="milliseconds")
    elif isinstance(value, (pd.Timedelta, dt.timedelta)):
        return duration_text(pd.Timedelta(value))
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def display_frame(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Page rows as text a table can show: times in UTC, durations short, values as JSON."""
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    out = {}
    for name in cols:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            out[str(name)] = [
                "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S") for v in col.tolist()
            ]
        elif pd.api.types.is_timedelta64_dtype(col.dtype):
            out[str(name)] = [duration_text(v) for v in col.tolist()]
        elif pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
            out[str(name)] = ["" if pd.isna(v) else f"{v:,}" for v in col.tolist()]
        else:
            out[str(name)] = [_cell(v) for v in col.tolist()]
    shown: pd.DataFrame = pd.DataFrame(out, index=range(len(frame)), columns=[str(c) for c in cols])
    return shown


class TableView(w.VBox):
    """A filter box, a sort choice, page buttons and the page itself.

    Args:
        model: The table to show (its frame stays in the kernel).
        columns: Columns to show (all if ``None``); the model keeps every column.
        on_select: Called with the full row (a Series) a person clicks (clicking the selected
            row again calls it again).
        placeholder: Filter box hint.
        prepare: Turns a page of rows into what is shown (before :func:`display_frame`).
    """

    def __init__(
        self,
        model: TableModel | None = None,
        *,
        columns: list[str] | None = None,
        on_select: Callable[[pd.Series], None] | None = None,
        placeholder: str = "filter: text in any column shown",
        prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> None:
        self.model = model or TableModel(page_size=DEFAULT_PAGE_SIZE)
        self.columns = columns
        if self.model.search_columns is None:
            self.model.search_columns = columns  # filter what the person can see
        self.on_select = on_select
        self.prepare = prepare
        self._selecting = False
        self.filter = w.Text(
            placeholder=placeholder,
            continuous_update=False,
            layout=w.Layout(width="260px"),
        )
        self.filter.add_class("wb-table-filter")
        self.sort = w.Dropdown(description="sort by", layout=w.Layout(width="240px"))
        self.sort.add_class("wb-table-sort")
        self.descending = w.ToggleButton(
            value=False, icon="arrow-down", tooltip="descending", layout=w.Layout(width="36px")
        )
        self.descending.add_class("wb-table-desc")
        self.prev = w.Button(icon="chevron-left", tooltip="previous page")
        self.prev.add_class("wb-table-prev")
        self.next = w.Button(icon="chevron-right", tooltip="next page")
        self.next.add_class("wb-table-next")
        for b in (self.prev, self.next):
            b.layout = w.Layout(width="36px")
        self.info = w.HTML()
        self.info.add_class("wb-table-info")
        self.table = _itable(
            df=pd.DataFrame(),
            select={"style": "single"},
            paging=False,
            ordering=False,
            searching=False,
            info=False,
            layout=_LAYOUT_OFF,
            showIndex=False,
            classes="display compact nowrap cell-border",
            style="table-layout:auto;width:100%;margin:0;",
        )
        self.table.add_class("wb-table")
        self._syncing = False
        self.filter.observe(self._on_filter, "value")
        self.sort.observe(self._on_sort, "value")
        self.descending.observe(self._on_sort, "value")
        self.prev.on_click(lambda _b: self._move(-1))
        self.next.on_click(lambda _b: self._move(+1))
        self.table.observe(self._on_selected, "selected_rows")
        controls = w.HBox(
            [self.filter, self.sort, self.descending, self.prev, self.next, self.info],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        super().__init__(
            [controls, w.Box([self.table], layout=w.Layout(overflow="auto", width="100%"))]
        )
        self.refresh_columns()
        self.render()

    # -- binding --------------------------------------------------------------------------------

    def set_frame(
        self,
        frame: pd.DataFrame,
        *,
        keep_view: bool = False,
        column_filters: dict[str, Callable[[pd.DataFrame], pd.Series]] | None = None,
    ) -> None:
        """Show another frame (e.g. a new listing), with named filters applied at once."""
        self.model.set_frame(frame, keep_view=keep_view)
        for name, keep in (column_filters or {}).items():
            self.model.set_column_filter(name, keep)
        if not keep_view:
            self._syncing = True
            try:
                self.filter.value = ""
                self.descending.value = False
            finally:
                self._syncing = False
        self.refresh_columns()
        self.render()

    def refresh_columns(self) -> None:
        """Offer the frame's columns in the sort choice."""
        names = [c for c in (self.columns or self.model.columns) if c in self.model.columns]
        options: list[tuple[str, str]] = [("(as listed)", "")]
        options += [(c, c) for c in names]
        self._syncing = True
        try:
            current = self.sort.value
            self.sort.options = options
            self.sort.value = current if current in names else ""
        finally:
            self._syncing = False

    def render(self) -> None:
        """Send the current page to the browser."""
        page = self.model.page()
        rows = page.frame if self.prepare is None else self.prepare(page.frame)
        shown = display_frame(rows, self.columns)
        self._selecting = True  # a new page has no selection: not a click
        try:
            self.table.update(shown, selected_rows=[])
        finally:
            self._selecting = False
        self.info.value = (
            f"<span class='wb-muted'>{page.describe(self.model.page_size)} · page "
            f"{page.number + 1:,} of {page.pages:,}</span>"
        )
        self.prev.disabled = page.number == 0
        self.next.disabled = page.number >= page.pages - 1

    # -- callbacks ------------------------------------------------------------------------------

    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self.model.set_filter(change["new"] or "")
        self.render()

    def _on_sort(self, _change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self.model.sort_by(self.sort.value or None, ascending=not self.descending.value)
        self.render()

    def _move(self, step: int) -> None:
        self.model.go_to(self.model.page_number + step)
        self.render()

    def _on_selected(self, change: dict[str, Any]) -> None:
        if self._selecting or self.on_select is None:
            return
        rows = change["new"] or []
        if not rows:
            # DataTables unselects a selected row that is clicked again: for a person that is
            # the same row asked for again, so it is selected (and acted on) again.
            rows = change["old"] or []
            if not rows:
                return
            self._selecting = True
            try:
                self.table.selected_rows = list(rows)
            finally:
                self._selecting = False
        try:
            row = self.model.row(int(rows[0]))
        except IndexError:
            return
        self.on_select(row)

    def select(self, page_row: int) -> None:
        """Select row ``page_row`` of the page, as a click would."""
        self.table.selected_rows = [page_row]

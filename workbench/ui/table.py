"""A window onto a whole DataFrame that stays in the kernel: sort, filter and page in pandas.

The browser is sent one page of rows at a time (see :mod:`workbench.ui.table_view`), so what
crosses the wire does not grow with the frame: a 100k-row listing costs the same bytes per
action as a 1k-row one. Everything here is plain pandas and is tested without Jupyter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Page", "TableModel"]

DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    """One page of a :class:`TableModel`: the rows to show and where they sit."""

    frame: pd.DataFrame
    """The rows of this page, display-ready (columns as in the model's frame)."""
    number: int
    """0-based page number."""
    pages: int
    """How many pages the filtered rows make (at least 1)."""
    matching: int
    """Rows that pass the filter."""
    total: int
    """Rows in the whole frame."""

    @property
    def first_row(self) -> int:
        """1-based position of the page's first row among the matching rows (0 if none)."""
        return self.number * len(self.frame) + 1 if len(self.frame) else 0

    def describe(self, page_size: int) -> str:
        """A short "rows 26-50 of 1,234 (filtered from 20,000)" line."""
        if not self.matching:
            base = "no rows"
        else:
            first = self.number * page_size + 1
            last = first + len(self.frame) - 1
            base = f"rows {first:,}-{last:,} of {self.matching:,}"
        if self.matching != self.total:
            base += f" (filtered from {self.total:,})"
        return base


class TableModel:
    """Sort, filter and page a DataFrame in the kernel.

    >>> t = TableModel(df, page_size=25)
    >>> t.sort_by("duration", ascending=False)
    >>> t.set_filter("payment")              # text in any column, case-insensitive
    >>> t.page().frame                        # the 25 rows to show

    The underlying frame is never copied whole: sorting and filtering compute an integer order
    (``positions``) into it, and a page takes ``len(page)`` rows of it.
    """

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        search_columns: list[str] | None = None,
    ):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.search_columns = search_columns
        """Columns the filter text is looked for in (``None``: every column)."""
        self.sort_column: str | None = None
        self.ascending = True
        self.filter_text = ""
        self.column_filters: dict[str, Callable[[pd.DataFrame], pd.Series]] = {}
        self.page_number = 0
        self._frame = pd.DataFrame() if frame is None else frame
        self._text_cache: dict[str, pd.Series] = {}
        self._positions: Any = None  # numpy int array of visible rows, in display order

    # -- the frame ------------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """The whole frame (not a copy)."""
        return self._frame

    def set_frame(self, frame: pd.DataFrame, *, keep_view: bool = False) -> None:
        """Show another frame; the sort, filter and page are reset unless ``keep_view``."""
        self._frame = frame
        self._text_cache.clear()
        if not keep_view:
            self.sort_column = None
            self.ascending = True
            self.filter_text = ""
            self.column_filters = {}
            self.page_number = 0
        elif self.sort_column is not None and self.sort_column not in frame.columns:
            self.sort_column = None
        self._positions = None

    @property
    def columns(self) -> list[str]:
        """The frame's column names."""
        return [str(c) for c in self._frame.columns]

    # -- actions --------------------------------------------------------------------------------

    def sort_by(self, column: str | None, *, ascending: bool = True) -> None:
        """Sort all rows by ``column`` (``None``: the frame's own order); back to page 1."""
        if column is not None and column not in self._frame.columns:
            raise KeyError(f"no column {column!r} to sort by; columns: {', '.join(self.columns)}")
        self.sort_column = column
        self.ascending = ascending
        self.page_number = 0
        self._positions = None

    def set_filter(self, text: str) -> None:
        """Keep the rows where ``text`` is in any text column (case-insensitive).

        Text columns are strings, categories (status) and values (dicts and lists, as JSON);
        numbers and times are left out: matching digits inside them would find noise.
        """
        self.filter_text = text.strip()
        self.page_number = 0
        self._positions = None

    def set_column_filter(
        self, name: str, keep: Callable[[pd.DataFrame], pd.Series] | None
    ) -> None:
        """Add (or with ``None`` remove) a named filter: ``keep(frame_column_or_frame)`` → mask.

        ``keep`` receives the whole frame and returns a boolean Series aligned with it.
        """
        if keep is None:
            self.column_filters.pop(name, None)
        else:
            self.column_filters[name] = keep
        self.page_number = 0
        self._positions = None

    def go_to(self, number: int) -> None:
        """Show page ``number`` (0-based), clamped to the pages there are."""
        self.page_number = max(0, min(number, self.page_count() - 1))

    def next(self) -> None:
        """Go one page forward (stays on the last page)."""
        self.go_to(self.page_number + 1)

    def previous(self) -> None:
        """Go one page back (stays on the first page)."""
        self.go_to(self.page_number - 1)

    # -- reading --------------------------------------------------------------------------------

    def positions(self) -> Any:
        """Integer positions (into :attr:`frame`) of the matching rows, in display order."""
        if self._positions is None:
            self._positions = self._compute_positions()
        return self._positions

    def matching(self) -> int:
        """How many rows pass the filters."""
        return len(self.positions())

    def page_count(self) -> int:
        """Pages the matching rows make (at least 1, so page 1 of an empty table exists)."""
        return max(1, math.ceil(self.matching() / self.page_size))

    def page(self) -> Page:
        """The current page."""
        positions = self.positions()
        self.page_number = max(0, min(self.page_number, self.page_count() - 1))
        start = self.page_number * self.page_size
        rows = self._frame.iloc[positions[start : start + self.page_size]]
        return Page(
            frame=rows,
            number=self.page_number,
            pages=self.page_count(),
            matching=len(positions),
            total=len(self._frame),
        )

    def row(self, page_row: int) -> pd.Series:
        """The full row shown at position ``page_row`` of the current page."""
        positions = self.positions()
        at = self.page_number * self.page_size + page_row
        if not 0 <= page_row < self.page_size or at >= len(positions):
            raise IndexError(f"no row {page_row} on this page")
        return self._frame.iloc[int(positions[at])]

    def filtered(self) -> pd.DataFrame:
        """All matching rows, in display order (a new frame)."""
        rows: pd.DataFrame = self._frame.iloc[self.positions()]
        return rows

    # -- internals ------------------------------------------------------------------------------

    def _compute_positions(self) -> Any:
        import numpy as np

        frame = self._frame
        mask = np.ones(len(frame), dtype=bool)
        for keep in self.column_filters.values():
            mask &= np.asarray(keep(frame), dtype=np.bool_)
        if self.filter_text:
            mask &= self._text_mask(self.filter_text)
        positions = np.flatnonzero(mask)
        if self.sort_column is not None and len(positions):
            column = frame[self.sort_column].iloc[positions]
            keys = _sort_keys(column)
            # Stable, NaN/None last whichever the direction: what a person expects of a table.
            order = keys.sort_values(
                ascending=self.ascending, na_position="last", kind="stable"
            ).index
            positions = positions[np.asarray(order)]
        return positions

    def _text_mask(self, text: str) -> Any:
        import numpy as np

        frame = self._frame
        mask = np.zeros(len(frame), dtype=bool)
        names = self.search_columns if self.search_columns is not None else frame.columns
        for name in names:
            if name not in frame.columns:
                continue
            col = frame[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                # Match the few categories once, then look each row's code up.
                hits = np.append(
                    np.asarray(
                        col.cat.categories.astype(str).str.contains(text, case=False, regex=False)
                    ),
                    False,  # code -1: missing
                )
                mask |= hits[np.asarray(col.cat.codes)]
                continue
            texts = self._text_of(str(name))
            if texts is None:
                continue
            # A plain substring test: on Arrow strings it runs in pyarrow's C++ kernels.
            mask |= np.asarray(texts.str.contains(text, case=False, regex=False, na=False))
        return mask

    def _text_of(self, name: str) -> pd.Series | None:
        """The column as searchable text, computed once per frame."""
        if name in self._text_cache:
            return self._text_cache[name]
        col = self._frame[name]
        text: pd.Series | None
        if (
            pd.api.types.is_bool_dtype(col.dtype)
            or pd.api.types.is_numeric_dtype(col.dtype)
            or pd.api.types.is_datetime64_any_dtype(col.dtype)
            or pd.api.types.is_timedelta64_dtype(col.dtype)
        ):
            text = None
        elif pd.api.types.is_string_dtype(col.dtype) and not pd.api.types.is_object_dtype(
            col.dtype
        ):
            text = col
        else:
            text = col.map(_cell_text, na_action="ignore").astype("string")
        self._text_cache[name] = text  # type: ignore[assignment]
        return text


def _cell_text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        import json

        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _sort_keys(column: pd.Series) -> pd.Series:
    """Sort keys with a total order: unorderable objects (dicts, mixed types) sort as text."""
    dtype = column.dtype
    if (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or (pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype))
    ):
        return column.reset_index(drop=True)
    if isinstance(dtype, pd.CategoricalDtype):
        return column.astype("string").reset_index(drop=True)
    return column.map(_cell_text, na_action="ignore").astype("string").reset_index(drop=True)

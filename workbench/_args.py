"""Checks of the arguments users pass to the session's calls, before anything reaches the server.

A malformed argument raises :class:`~workbench.errors.ArgumentError` naming it, rather than a
``TypeError`` from deep inside protobuf or a server rejection that does not say which argument
was at fault.
"""

from __future__ import annotations

import operator
import re
from typing import Any

from .errors import ArgumentError

__all__ = [
    "check_history_page_size",
    "check_paging",
    "check_query",
    "check_run",
    "outside_quotes",
]

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def _count(name: str, value: Any, least: int) -> int:
    """``value`` as an int: any integer (numpy's too, as pandas hands them out), not a bool."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ArgumentError(
            f"{name} must be an int, got {type(value).__name__} {value!r}", argument=name
        ) from None
    if number < least:
        raise ArgumentError(f"{name} must be at least {least}, got {number}", argument=name)
    return number


def check_paging(page_size: Any, limit: Any) -> tuple[int, int | None]:
    """``(page_size, limit)`` as ints: ``page_size`` ≥ 1; ``limit`` ``None`` or ≥ 0."""
    return _count("page_size", page_size, 1), None if limit is None else _count("limit", limit, 0)


def check_history_page_size(page_size: Any) -> int:
    """Events per history page as an int ≥ 0 (0: the server's default)."""
    return _count("page_size", page_size, 0)


def check_query(query: Any) -> None:
    """A visibility query is a ``str`` (``""`` for everything)."""
    if not isinstance(query, str):
        raise ArgumentError(
            f"query must be a str such as \"ExecutionStatus='Failed'\" ('' lists everything), "
            f"got {type(query).__name__}",
            argument="query",
        )


def check_run(workflow_id: Any, run_id: Any) -> None:
    """A workflow id is a non-empty ``str``; a run id ``None`` or a ``str``."""
    if not isinstance(workflow_id, str) or not workflow_id:
        got = repr(workflow_id) if isinstance(workflow_id, str) else type(workflow_id).__name__
        raise ArgumentError(
            f"workflow_id must be a non-empty str (the workflow_id column of s.workflows()), "
            f"got {got}",
            argument="workflow_id",
        )
    if run_id is not None and not isinstance(run_id, str):
        raise ArgumentError(
            f"run_id must be a str or None (the latest run), got {type(run_id).__name__}",
            argument="run_id",
        )


def outside_quotes(query: str) -> str:
    """``query`` with its quoted values blanked, to look for keywords in the query itself."""
    return _QUOTED.sub("''", query)

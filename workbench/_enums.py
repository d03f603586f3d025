"""Readable names for Temporal's protobuf enums: ``..._STATUS_FAILED`` → ``Failed``."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["enum_labels"]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@cache
def enum_labels(enum_type: Any, prefix: str) -> dict[int, str]:
    """Map each value of a protobuf enum to its CamelCase label without ``prefix``.

    ``CONTINUED_AS_NEW`` becomes ``ContinuedAsNew`` and ``TIMED_OUT`` ``TimedOut``, the names the
    Web UI, the CLI and visibility queries use.
    """
    labels: dict[int, str] = {}
    for name, number in enum_type.items():
        short = name[len(prefix) :] if name.startswith(prefix) else name
        labels[number] = _camel(short)
    return labels

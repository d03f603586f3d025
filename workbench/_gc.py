"""Pausing Python's cyclic garbage collector around bulk decoding."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch or a page is decoded.

    Decoding allocates tens of thousands of containers (values' dicts and lists, Decoded
    records, row tuples) that all survive and form no cycles. Left on, the collector scans them
    again and again and, every few pages, traverses the whole process in a full collection: up to
    a third of the decode time for nothing. Reference counting still frees everything; the
    collector resumes (and catches up) as soon as the block ends. A collector the caller had
    already disabled stays disabled; callers that wait on I/O pass ``pause=False``.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

"""Reading one repeated ``bytes``/``string`` field of a serialized message with numpy.

The merged wire views of :mod:`workbench.frames` hand back a page's search-attribute keys and
values as protobuf repeated fields: reading them as Python lists costs one ``bytes`` object per
entry (eight per row), and grouping the keys one hash each. Serialized again, such a field is
just its records back to back — ``tag, varint length, content`` — and numpy finds them all at
once: where the contents start, how long they are, which contents are equal, and the contents
joined as one JSON array.

Everything here is checked, never assumed: :func:`record_spans` returns ``None`` unless the
records it found follow one another and fill the buffer exactly, which is what a protobuf
parser would have read; callers then read the field through protobuf instead.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "Records",
    "encode_record",
    "equal_contents",
    "json_array",
    "message_record",
    "record_spans",
    "record_strings",
    "varint_sizes",
]

_MAX_WORDS = 8  # contents compared by equal_contents: at most 64 bytes
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
"""``_LOW_BYTES[k]`` keeps the ``k`` low bytes of a 64-bit word."""


class Records(NamedTuple):
    """``count`` records of one field found in a buffer."""

    heads: np.ndarray[Any, Any]
    """Offset of each record's tag."""
    starts: np.ndarray[Any, Any]
    """Offset of each record's content (after its varint length)."""
    lengths: np.ndarray[Any, Any]
    """Length of each record's content."""
    end: int
    """Offset just past the last record."""


def record_spans(
    buf: bytes | memoryview, tag: int, count: int, *, prefix: bool = False
) -> Records | None:
    """Find ``count`` length-delimited records with the one-byte ``tag`` at the start of ``buf``.

    They must fill ``buf`` (or, with ``prefix``, its start) exactly. Content lengths may take one
    or two varint bytes (up to 16 KiB). Returns ``None`` when ``buf`` is not laid out so.

    A byte equal to ``tag`` is taken for a record's tag unless it follows a byte equal to ``tag``
    or a varint continuation byte (then it is a length byte). Contents that hold ``tag`` bytes
    may make that guess wrong; the check that every record ends where the next one starts, and
    the last where ``buf`` ends, then fails, so a wrong guess can only give ``None``.
    """
    if count <= 0:
        return None
    b = np.frombuffer(buf, dtype=np.uint8)
    size = len(b)
    candidates = np.flatnonzero(b == tag)
    if len(candidates) < count or candidates[0] != 0:
        return None
    before = b[candidates - 1]  # for the candidate at 0: the last byte, overridden below
    kept = (before != tag) & (before < 0x80)
    kept[0] = True
    heads = candidates[kept]
    if len(heads) < count or (not prefix and len(heads) != count):
        return None
    heads = heads[:count]
    if heads[-1] + 1 >= size:
        return None
    lengths = b[heads + 1].astype(np.int64)
    wide = lengths >= 0x80
    if wide.any():
        second = heads[wide] + 2
        if second[-1] >= size:
            return None
        high = b[second].astype(np.int64)
        if (high >= 0x80).any():
            return None
        lengths[wide] = (lengths[wide] & 0x7F) | (high << 7)
    starts = heads + 2 + wide
    ends = starts + lengths
    end = int(ends[-1])
    if end > size or (not prefix and end != size):
        return None
    if not np.array_equal(ends[:-1], heads[1:]):
        return None
    return Records(heads, starts, lengths, end)


def record_strings(
    buf: bytes | memoryview, records: Records, *, empty_as_null: bool = False
) -> pa.LargeStringArray:
    """The contents of ``records`` (found in ``buf``) as an Arrow string array, built from one
    copy of ``buf`` without its record headers: no Python object per string. Empty contents are
    ``""``, or null with ``empty_as_null``.

    The contents are not checked for UTF-8 here: give records of a protobuf ``string`` field,
    which the protobuf parser has already validated.
    """
    n = len(records.lengths)
    keep = np.ones(records.end, dtype=bool)
    keep[records.heads] = False
    keep[records.heads + 1] = False
    keep[records.heads[records.starts - records.heads == 3] + 2] = False
    data = np.frombuffer(buf, dtype=np.uint8, count=records.end)[keep]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(records.lengths, out=offsets[1:])
    validity = None
    empty = records.lengths == 0
    if empty_as_null and empty.any():
        validity = pa.py_buffer(np.packbits(~empty, bitorder="little"))
    array: pa.LargeStringArray = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), validity
    )
    return array


def encode_record(tag: int, content: bytes) -> bytes:
    """One length-delimited record: the one-byte ``tag``, the varint length, ``content``."""
    head = bytearray([tag])
    length = len(content)
    while length >= 0x80:
        head.append(length & 0x7F | 0x80)
        length >>= 7
    head.append(length)
    return bytes(head) + content


def varint_sizes(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """How many bytes the varint encoding of each of ``values`` (non-negative) takes."""
    size = np.ones(len(values), dtype=np.int64)
    for bits in (7, 14, 21, 28, 35, 42, 49, 56, 63):
        size += values >= (1 << bits)
    return size


def message_record(buf: bytes, pos: int, tag: int) -> int | None:
    """Where the content of the record at ``pos`` starts, if that record has the one-byte
    ``tag`` and is the last thing in ``buf``; else ``None``."""
    if pos >= len(buf) or buf[pos] != tag:
        return None
    length, shift, at = 0, 0, pos + 1
    while at < len(buf) and shift < 35:
        byte = buf[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return at if at + length == len(buf) else None
        shift += 7
    return None


def json_array(buf: bytes | memoryview, records: Records) -> memoryview:
    """The contents of ``records`` (found in ``buf`` from its start) as one JSON array text
    (UTF-8, in a buffer of its own).

    Each record's header becomes ``", "`` (the first ``"[ "``), padded with spaces to its size,
    so the text is the contents joined by commas, in place, with no per-record work.
    """
    out = np.empty(records.end + 1, dtype=np.uint8)
    out[:-1] = np.frombuffer(buf, dtype=np.uint8, count=records.end)
    out[records.heads] = ord(",")
    out[records.heads + 1] = ord(" ")
    out[records.heads[records.starts - records.heads == 3] + 2] = ord(" ")
    out[0] = ord("[")
    out[-1] = ord("]")
    return out.data


def equal_contents(buf: bytes, records: Records) -> tuple[list[bytes], np.ndarray[Any, Any]] | None:
    """Number the distinct contents of ``records``: ``(contents, codes)`` with ``contents`` in
    order of first occurrence and ``codes[i]`` the index of record ``i``'s content there.

    Contents are compared whole, eight bytes at a time (up to 64 bytes; ``None`` for longer
    ones).
    """
    lengths = records.lengths
    words = -(-int(lengths.max()) // 8)
    if words > _MAX_WORDS:
        return None
    if not words:  # every content empty
        return [b""], np.zeros(len(lengths), dtype=np.int64)
    # Words are read up to 8 * words - 1 bytes past a content's start: pad only if that passes
    # the end of buf (the keys of a page are followed by their values: it does not).
    fits = int(records.starts[-1]) + 8 * words <= len(buf)  # starts increase
    padded = np.frombuffer(buf if fits else buf + bytes(8 * words), dtype=np.uint8)
    # The eight bytes starting at each offset, as one little-endian unsigned integer.
    at = np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    columns = []
    for j in range(words):
        column = at[records.starts + 8 * j] & _LOW_BYTES[np.clip(lengths - 8 * j, 0, 8)]
        columns.append(column)
    fingerprint = lengths.astype(np.uint64)
    for column in columns:
        fingerprint = fingerprint * np.uint64(0x100000001B3) ^ column
    codes, uniques = pd.factorize(fingerprint)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    # Equal fingerprints must mean equal contents: compare each record with the first of its code.
    representative = first[codes]
    if not np.array_equal(lengths, lengths[representative]):
        return None
    for column in columns:
        if not np.array_equal(column, column[representative]):
            return None
    starts = records.starts
    contents = [buf[starts[i] : starts[i] + lengths[i]] for i in first.tolist()]
    return contents, codes.astype(np.int64, copy=False)

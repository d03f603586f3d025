"""Histories read offline from export files: Temporal Cloud's Workflow History Export and
self-hosted archival's filestore.

>>> hs = workbench.read_export("exports/", codec=codecs.AesGcm({"key-2026": key}))
>>> hs.runs, hs.events, hs.payloads, hs.search("4111-1111")     # as Session.histories gives

Formats:

- **Cloud export**: each object under ``…/export/<namespace>/<Y>/<M>/<D>/<h>/<m>/`` is a binary
  ``temporal.api.export.v1.WorkflowExecutions`` (``items[].history`` is a ``History``, payloads
  still encoded; the workflow id is in the first event). A gzip-compressed object is read too.
- **Archival filestore** (``<hash>_<version>.history``): the JSON array of ``History`` batches
  the server's filestore archiver writes (``[{"events": [...]}, ...]``), one run per file. A
  ``{"events": [...]}`` file (the CLI's and the Web UI's JSON) is read as one run as well.

A file that is truncated or not an export is named with the byte offset where reading stopped;
the runs read before that point and the other files still load (:attr:`Histories.problems`
lists the files at fault, and a :class:`ExportProblem` warning says so). Only when no file at
all could be read is it an error.
"""

from __future__ import annotations

import gzip
import json
import os
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from temporalio.api.export.v1 import WorkflowExecution as ExportedExecution
from temporalio.api.history.v1 import History as HistoryProto
from temporalio.client import WorkflowHistory

from .codecs import CodecLike, as_chain
from .errors import HistoryFormatError
from .many import decode_histories, warn_undecoded_runs

__all__ = ["ExportFormatError", "ExportProblem", "read_export"]


class ExportFormatError(HistoryFormatError):
    """An export file cannot be read (truncated, or not an export).

    Attributes:
        source: The file.
        offset: The byte offset in the file where reading stopped.
    """

    def __init__(self, message: str, *, source: str, offset: int) -> None:
        super().__init__(message, source=source)
        self.offset = offset


class ExportProblem(UserWarning):
    """Some export files (or their ends) could not be read; the rest was loaded."""


PROBLEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file", "str"),
    ("offset", "int64"),
    ("runs_read", "int64"),
    ("error", "str"),
)


def read_export(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    codec: CodecLike | None = None,
    converter: Any = None,
    namespace: str | None = None,
) -> Any:
    """Read export files into a :class:`~workbench.Histories`, decoding every payload.

    Args:
        source: One file, a folder (read recursively, files in name order; names starting
            with ``.`` are skipped), or a list of files.
        codec: How payloads are decoded (e.g. ``s.codec``, or ``codecs.AesGcm(...)``).
        converter: A ``temporalio.converter.PayloadConverter`` for values.
        namespace: Namespace given to codecs that need one (a codec server's
            ``{namespace}``); default: none.

    Returns:
        A :class:`~workbench.Histories` with one row per run in ``runs`` (status read from
        the history's last event) and ``problems`` listing the files that could not be
        read in full.

    Raises:
        ExportFormatError: No run could be read: the (only) file is truncated or foreign; the
            message names the file and the byte offset.
        HistoryFormatError: No file at the given path(s).
    """
    chain = as_chain(codec)
    if namespace:
        chain = chain.with_namespace(namespace)
    files = _files(source)
    protos: list[HistoryProto] = []
    problems: list[dict[str, Any]] = []
    for path in files:
        read = 0
        try:
            for history in _read_file(path):
                protos.append(history)
                read += 1
        except ExportFormatError as err:
            problems.append(
                {"file": str(path), "offset": err.offset, "runs_read": read, "error": err.message}
            )
    if problems and not protos:
        first = problems[0]
        more = f" ({len(problems) - 1} other files failed too)" if len(problems) > 1 else ""
        raise ExportFormatError(
            f"{first['error']}{more}", source=first["file"], offset=first["offset"]
        )
    hs = decode_histories(protos, chain, converter)
    hs.problems = pd.DataFrame(problems, columns=[c for c, _ in PROBLEM_COLUMNS]).astype(
        dict(PROBLEM_COLUMNS)  # type: ignore[arg-type]
    )
    if problems:
        listed = "; ".join(p["error"] for p in problems[:3])
        warnings.warn(
            f"{len(problems)} of {len(files)} export files could not be read in full (the runs "
            f"before the fault are loaded; Histories.problems lists them): {listed}",
            ExportProblem,
            stacklevel=2,
        )
    warn_undecoded_runs(hs, stacklevel=2)
    return hs


def _files(source: Any) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        paths = [Path(source).expanduser()]
    elif isinstance(source, Iterable):
        paths = [Path(p).expanduser() for p in source]
    else:
        raise HistoryFormatError(
            f"read_export takes a file, a folder or a list of files, got {type(source).__name__}",
            source=type(source).__name__,
        )
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
                )
            )
        elif path.is_file():
            out.append(path)
        else:
            raise HistoryFormatError(
                f"no export file or folder at {str(path)!r}; give the folder the export was "
                "downloaded to (…/export/<namespace>/…), one file, or a list of files",
                source=str(path),
            )
    if not out:
        raise HistoryFormatError(
            f"no files under {', '.join(repr(str(p)) for p in paths)}", source=str(paths[0])
        )
    return out


def _read_file(path: Path) -> Iterator[HistoryProto]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ExportFormatError(f"cannot read {name!r}: {err}", source=name, offset=0) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ExportFormatError(
                f"{name!r} is gzip data that does not decompress ({err}); the file is "
                "truncated or damaged",
                source=name,
                offset=0,
            ) from None
    head = data[:64].lstrip()
    if head[:1] in (b"[", b"{"):
        yield _read_json(name, data)
        return
    yield from _read_proto(name, data)


# -- Cloud export: temporal.api.export.v1.WorkflowExecutions ---------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, next position) of the varint at ``pos``; ``None`` when the data ends first or
    the varint is longer than 10 bytes."""
    value = 0
    shift = 0
    end = len(data)
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def _read_proto(name: str, data: bytes) -> Iterator[HistoryProto]:
    """Walk the top level of ``WorkflowExecutions`` by hand (field 1, length-delimited, per
    item), so that a fault is reported at its byte offset and the items before it are kept."""
    pos = 0
    index = 0
    end = len(data)
    hint = (
        "expected a Temporal Cloud history export object (binary "
        "temporal.api.export.v1.WorkflowExecutions)"
    )
    while pos < end:
        start = pos
        tag = _varint(data, pos)
        if tag is None:
            raise ExportFormatError(
                f"{name!r} is truncated at byte offset {start} (of {end}): a field tag is cut "
                f"short after {index} workflow executions",
                source=name,
                offset=start,
            )
        key, pos = tag
        field, wire = key >> 3, key & 7
        if field != 1 or wire != 2:
            raise ExportFormatError(
                f"{name!r} is not an export file: at byte offset {start} it has protobuf field "
                f"{field} of wire type {wire} where a workflow execution (field 1, "
                f"length-delimited) belongs; {hint}",
                source=name,
                offset=start,
            )
        length = _varint(data, pos)
        if length is None:
            raise ExportFormatError(
                f"{name!r} is truncated at byte offset {pos} (of {end}): the length of workflow "
                f"execution {index} is cut short",
                source=name,
                offset=pos,
            )
        size, pos = length
        if pos + size > end:
            raise ExportFormatError(
                f"{name!r} is truncated at byte offset {end}: workflow execution {index} "
                f"starts at byte {start} and needs {size} bytes, but only {end - pos} remain "
                f"({index} executions before it were read)",
                source=name,
                offset=end,
            )
        try:
            item = ExportedExecution.FromString(data[pos : pos + size])
        except Exception as err:  # protobuf's DecodeError, and what a foreign blob may cause
            raise ExportFormatError(
                f"{name!r}: workflow execution {index} at byte offset {start} is not a "
                f"history ({err}); {hint}",
                source=name,
                offset=start,
            ) from None
        pos += size
        index += 1
        yield item.history


# -- archival filestore / history JSON -------------------------------------------------------


def _read_json(name: str, data: bytes) -> HistoryProto:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ExportFormatError(
            f"{name!r} is not UTF-8 JSON: byte offset {err.start} cannot be decoded",
            source=name,
            offset=err.start,
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        offset = len(text[: err.pos].encode("utf-8"))
        raise ExportFormatError(
            f"{name!r} is not complete JSON: {err.msg} at byte offset {offset} (of "
            f"{len(data)}); the file is truncated or damaged",
            source=name,
            offset=offset,
        ) from None
    batches = doc if isinstance(doc, list) else [doc]
    events: list[Any] = []
    for k, batch in enumerate(batches):
        if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
            raise ExportFormatError(
                f"{name!r} is not an archived history: item {k} is not a history batch "
                '({"events": [...]}); expected the JSON the filestore archiver writes',
                source=name,
                offset=0,
            )
        events.extend(batch["events"])
    try:
        parsed = WorkflowHistory.from_json("", {"events": events})
    except Exception as err:  # protobuf's json_format errors, and malformed values
        raise ExportFormatError(
            f"{name!r} holds JSON that is not a workflow history: {err}",
            source=name,
            offset=0,
        ) from None
    return HistoryProto(events=parsed.events)

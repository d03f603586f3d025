"""Histories and listings as dask DataFrames, computed on a ``dask.distributed`` cluster.

Needs the ``dask`` extra: ``pip install 'temporal-workbench[dask]'``.

>>> from dask.distributed import Client
>>> client = Client("tcp://scheduler:8786")            # or LocalCluster()
>>> payloads = workbench.dask.histories(settings, "ExecutionStatus='Failed'", codec=codec)
>>> payloads[payloads.error.isna()].value.map(...).compute()
>>> runs = workbench.dask.workflows(settings, "WorkflowType='OrderWorkflow'", partitions=16)

:func:`histories` lists the matching runs once, on the caller's machine, splits the run list into
partitions, and each partition is fetched and decoded on a worker by the library's own
:meth:`~workbench.Session.histories_for` (its threads, retries and codec batching included):
each worker task opens its own connection from ``settings`` and decodes with ``codec``.
:func:`workflows` splits the listing into ``StartTime`` windows, one listing per window.

What travels to the workers: ``settings`` (a :class:`~workbench.ConnectionSettings`, with its API
key or TLS material) and ``codec`` (with its keys) are pickled into the task graph and sent to
the scheduler and workers. Their reprs never show secrets, so the dashboard and the logs (which
show task names and, on a failure, the arguments' reprs) do not either; but anyone who can read
the cluster's traffic or its pickled tasks can. To keep them out of the graph altogether pass
``settings=None`` (each worker then loads the settings from its own environment or
``temporal.toml`` profile, as :func:`workbench.connect` does) and ``codec`` as a function of no
argument that builds the codec on the worker (e.g. reading the key from the worker's
environment or secret store); and use TLS between the cluster's processes
(``distributed.security.Security``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from .codecs import Chain, CodecLike
from .codecs.base import Codec
from .frames import WORKFLOW_COLUMNS, default_decode_memo
from .many import MANY_EVENT_COLUMNS, MANY_PAYLOAD_COLUMNS, RUN_COLUMNS, _empty
from .session import Session
from .settings import ConnectionSettings

try:
    import dask
    import dask.dataframe as dd
    from dask.delayed import delayed
except ImportError as err:  # pragma: no cover - the extra is missing
    raise ImportError(
        "workbench.dask needs dask and distributed: pip install 'temporal-workbench[dask]'"
    ) from err

__all__ = ["histories", "workflows"]

CodecSource = CodecLike | Callable[[], CodecLike] | None
"""A codec, or a function of no argument that builds one on the worker (keeps keys out of the
task graph)."""

_FRAMES = {
    "events": MANY_EVENT_COLUMNS,
    "payloads": MANY_PAYLOAD_COLUMNS,
    "runs": RUN_COLUMNS,
}


def _session(settings: ConnectionSettings | None, codec: CodecSource) -> Session:
    """A session on the worker: its own connection, its own codec."""
    if settings is None:
        settings = ConnectionSettings.load()
    if callable(codec) and not isinstance(codec, (Codec, Chain)) and not _is_sdk_codec(codec):
        codec = codec()
    return Session(settings, check=False, codec=codec)  # type: ignore[arg-type]


def _is_sdk_codec(codec: Any) -> bool:
    try:
        from temporalio.converter import PayloadCodec
    except ImportError:  # pragma: no cover
        return False
    return isinstance(codec, PayloadCodec)


def _histories_part(
    settings: ConnectionSettings | None,
    runs: pd.DataFrame,
    codec: CodecSource,
    frame: str,
    concurrency: int,
    converter: Any,
) -> pd.DataFrame:
    with _session(settings, codec) as s:
        hs = s.histories_for(runs, concurrency=concurrency, progress=False, converter=converter)
        out: pd.DataFrame = getattr(hs, frame)
    return out


def histories(
    settings: ConnectionSettings | None,
    query: str = "",
    *,
    codec: CodecSource = None,
    frame: str = "payloads",
    limit: int | None = None,
    partitions: int | None = None,
    concurrency: int = 4,
    converter: Any = None,
) -> Any:
    """The decoded histories of every run matching ``query``, as a dask DataFrame.

    Args:
        settings: Where to connect (each worker task opens its own connection). ``None``:
            every worker loads its settings from its own environment / profile.
        query: A visibility list filter.
        codec: How payloads are decoded on the workers: a codec (pickled to them), or a
            function of no argument that builds one on the worker.
        frame: Which frame of :class:`~workbench.Histories`: ``"payloads"`` (default),
            ``"events"`` or ``"runs"``.
        limit: At most this many runs.
        partitions: How many partitions the run list is split into (default: one per 250
            runs).
        concurrency: Runs fetched at once within each partition.
        converter: A ``temporalio.converter.PayloadConverter`` for values.

    Returns:
        A ``dask.dataframe.DataFrame`` with the columns of ``Histories.<frame>``, one
        partition per slice of the run list (in listing order).

    Raises:
        ArgumentError: ``frame`` is not one of the three.
        QueryError: The server rejected the query (the listing runs here, at once).
    """
    from .errors import ArgumentError

    if frame not in _FRAMES:
        raise ArgumentError(
            f"frame must be 'payloads', 'events' or 'runs', got {frame!r}", argument="frame"
        )
    local = settings if settings is not None else ConnectionSettings.load()
    with Session(local, check=False) as s:
        listing = s.workflows(query, limit=limit, progress=False)
    runs = listing[["workflow_id", "run_id", "workflow_type", "status"]]
    count = len(runs)
    parts = partitions or max(1, math.ceil(count / 250))
    parts = max(1, min(parts, count)) if count else 1
    bounds = [round(k * count / parts) for k in range(parts + 1)]
    meta = _empty(_FRAMES[frame])
    with dask.config.set({"dataframe.convert-string": False}):  # keep pandas' own dtypes
        pieces = [
            delayed(_histories_part, pure=True)(
                settings, runs.iloc[lo:hi], codec, frame, concurrency, converter
            )
            for lo, hi in itertools.pairwise(bounds)
        ]
        return dd.from_delayed(pieces, meta=meta, verify_meta=False)


def _workflows_part(
    settings: ConnectionSettings | None,
    query: str,
    columns: Sequence[str],
) -> pd.DataFrame:
    with _session(settings, None) as s:
        from .workflows import list_workflows

        frame = list_workflows(s.connection, query, progress=False, decode_memo=default_decode_memo)
    out: pd.DataFrame = frame.reindex(columns=list(columns))
    return out


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def workflows(
    settings: ConnectionSettings | None,
    query: str = "",
    *,
    partitions: int = 8,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Any:
    """A listing as a dask DataFrame, one partition per ``StartTime`` window.

    The windows split ``[start, end)`` evenly; the first is open below and the last open
    above, so every run is in exactly one window whatever its start time. By default ``end``
    is just after the newest matching run's start time and ``start`` is the namespace's
    retention period before it. Each window is listed on a worker with its own connection.
    Partitions hold the listing's fixed columns (:data:`workbench.frames.WORKFLOW_COLUMNS`);
    memo is read with the default converter (no codec travels).

    Args:
        settings: As for :func:`histories`.
        query: A visibility list filter (windows are ANDed to it).
        partitions: How many windows.
        start: Lower bound of the evenly split range.
        end: Upper bound of the evenly split range.

    Raises:
        QueryError: The server rejected the query.
    """
    local = settings if settings is not None else ConnectionSettings.load()
    with Session(local) as s:
        if end is None or start is None:
            newest = s.workflows(query, limit=1, progress=False)
            top = (
                newest["start_time"].iloc[0].to_pydatetime()
                if len(newest)
                else datetime.now(timezone.utc)
            )
            retention = s.server_info.namespace.retention
            span = retention if isinstance(retention, timedelta) and retention else timedelta(1)
            end = end or top + timedelta(microseconds=1)
            start = start or end - span
    parts = max(1, int(partitions))
    step = (end - start) / parts
    edges = [start + step * k for k in range(1, parts)]
    base = f"({query}) AND " if query.strip() else ""
    windows: list[str] = []
    lows: list[str | None] = [None, *(_iso(e) for e in edges)]
    highs: list[str | None] = [*(_iso(e) for e in edges), None]
    for low, high in zip(lows, highs, strict=True):
        clauses = []
        if low is not None:
            clauses.append(f"StartTime >= '{low}'")
        if high is not None:
            clauses.append(f"StartTime < '{high}'")
        windows.append(base + " AND ".join(clauses) if clauses else query)
    windows.reverse()  # newest first, as a listing is ordered
    meta = _empty_listing()
    with dask.config.set({"dataframe.convert-string": False}):
        pieces = [
            delayed(_workflows_part, pure=True)(settings, w, list(WORKFLOW_COLUMNS))
            for w in windows
        ]
        return dd.from_delayed(pieces, meta=meta, verify_meta=False)


def _empty_listing() -> pd.DataFrame:
    from .frames import empty_workflows_frame

    frame: pd.DataFrame = empty_workflows_frame().reindex(columns=list(WORKFLOW_COLUMNS))
    return frame

"""A workflow run's history, decoded: fetched from a server or loaded from JSON.

>>> h = session.history("order-123")            # latest run; run_id= for another
>>> h.events                                    # one row per event, decoded values inline
>>> h.payloads                                  # one row per payload: path, encodings, value, error
>>> h.to_json("order-123.json")                 # encoded, as the CLI writes it (replayable)
>>> History.from_json("order-123.json", codec=codecs.AesGcm({"key-2026": key}))   # offline

Fetching pages through ``GetWorkflowExecutionHistory`` decodes page *k* and builds its rows while
page *k+1* is on the wire. The events are kept once, encoded: as the pages' bytes, parsed into
:attr:`History.raw` on first access (parsed messages take several times the memory of their
bytes); decoded payloads are turned into values and dropped, so a big history is never held
twice. Payloads are found from the protobuf descriptors (:mod:`workbench.payloads`), so new event
types need no code here.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
from google.protobuf import json_format
from google.protobuf.json_format import MessageToDict, MessageToJson
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import History as HistoryProto
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
)
from temporalio.client import WorkflowHistory

from ._args import check_history_page_size, check_run
from .codecs import Chain, CodecLike, as_chain
from .errors import HistoryFormatError, NotFound
from .history_frames import (
    EVENT_COLUMNS,
    PAYLOAD_COLUMNS,
    FrameBuilder,
    PagedFrames,
    json_default,
)
from .history_json import parse_history_json
from .payloads import iter_payload_paths
from .values import as_converter

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "History",
    "HistoryInterrupted",
    "OnPage",
    "fetch_history",
    "fetch_history_quiet",
    "fetch_raw_history",
    "run_id_of",
    "warn_undecoded",
]


class History:
    """One workflow run's history with every payload decoded.

    Build one with :meth:`workbench.Session.history`, :meth:`from_json` or :meth:`from_proto`.

    Attributes:
        workflow_id: The workflow id (``""`` when a loaded file does not say).
        run_id: The run id: the run fetched, or the one given to :meth:`from_json` /
            :meth:`from_proto`; otherwise what the history says (see :func:`run_id_of`), ``""``
            when it does not say.
        events: One row per event; schema in :mod:`workbench.history_frames`.
        payloads: One row per payload: ``event_id``, ``event_type``, ``path``, ``encodings``,
            ``key_id``, ``value``, ``error``, ``size_bytes``, ``raw``.
        raw: The history as stored (encoded), a ``temporalio.api.history.v1.History``.
        codec: The chain the payloads were decoded with.
        complete: ``False`` when a fetch was interrupted (``stop``, Ctrl-C) and only the
            events of the pages received are here (:class:`HistoryInterrupted` was warned).
    """

    EVENT_COLUMNS = EVENT_COLUMNS
    """Columns of :attr:`events` and their dtypes."""
    PAYLOAD_COLUMNS = PAYLOAD_COLUMNS
    """Columns of :attr:`payloads` and their dtypes."""

    def __init__(
        self,
        raw: HistoryProto,
        events: pd.DataFrame,
        payloads: pd.DataFrame,
        *,
        workflow_id: str,
        run_id: str,
        codec: Chain,
        namespace: str | None = None,
        complete: bool = True,
    ) -> None:
        self._raw: HistoryProto | None = raw
        self._raw_pages: list[bytes] | None = None
        self.events = events
        self.payloads = payloads
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.codec = codec
        self.namespace = namespace
        self.complete = complete
        self.pages = 0  # pages fetched (0 for a history loaded offline)

    def __repr__(self) -> str:
        bad = int(self.payloads["error"].notna().sum()) if len(self.payloads) else 0
        undecodable = f", {bad} undecodable" if bad else ""
        partial = "" if self.complete else " (incomplete)"
        return (
            f"<History {self.workflow_id or '?'} run {self.run_id or '?'}: "
            f"{len(self.events)} events, {len(self.payloads)} payloads{undecodable}{partial}>"
        )

    def __len__(self) -> int:
        return len(self.events)

    def _repr_html_(self) -> str:
        from ._html import history_html

        return history_html(self)

    @property
    def raw(self) -> HistoryProto:
        """The history as stored (encoded), a ``temporalio.api.history.v1.History``.

        A fetched history keeps its pages serialized and parses them on first access: parsed
        protobuf messages take several times their wire size, and most uses need only the
        frames."""
        if self._raw is None:
            self._raw = parse_pages(self._raw_pages or [])
            self._raw_pages = None
        return self._raw

    @raw.setter
    def raw(self, value: HistoryProto) -> None:
        self._raw = value
        self._raw_pages = None

    @property
    def errors(self) -> pd.DataFrame:
        """The rows of :attr:`payloads` that could not be decoded."""
        rows: pd.DataFrame = self.payloads[self.payloads["error"].notna()]
        return rows

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_proto(
        cls,
        history: HistoryProto | WorkflowHistory,
        *,
        codec: CodecLike | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        converter: Any = None,
    ) -> History:
        """Decode a history already in memory (e.g. from ``temporalio``'s ``fetch_history``).

        Args:
            history: A ``temporalio.api.history.v1.History`` or a
                ``temporalio.client.WorkflowHistory``. It is kept (not copied) as :attr:`raw`.
            codec: How to decode payloads; see :func:`as_chain`.
            workflow_id: The workflow id (read from the history when it says).
            run_id: The run id (default: what the history says, see :func:`run_id_of`).
            converter: A ``temporalio.converter.PayloadConverter`` for values (the SDK's
                default if ``None``).
        """
        history_ = cls._from_proto(
            history, codec=codec, workflow_id=workflow_id, run_id=run_id, converter=converter
        )
        warn_undecoded(history_, stacklevel=2)
        return history_

    @classmethod
    def _from_proto(
        cls,
        history: HistoryProto | WorkflowHistory,
        *,
        codec: CodecLike | None,
        workflow_id: str | None,
        run_id: str | None = None,
        converter: Any,
    ) -> History:
        if isinstance(history, WorkflowHistory):
            workflow_id = workflow_id or history.workflow_id
            proto = HistoryProto(events=history.events)
        else:
            proto = history
        chain = as_chain(codec)
        builder = FrameBuilder(chain, as_converter(converter))
        builder.add(proto.events)
        wid, rid = _ids_from_events(proto)
        return cls._build(
            proto, builder, workflow_id=workflow_id or wid, run_id=run_id or rid, codec=chain
        )

    @classmethod
    def _build(
        cls,
        raw: HistoryProto,
        builder: FrameBuilder | PagedFrames,
        *,
        workflow_id: str,
        run_id: str,
        codec: Chain,
        namespace: str | None = None,
        complete: bool = True,
    ) -> History:
        return cls(
            raw,
            builder.events_frame(),
            builder.payloads_frame(),
            workflow_id=workflow_id,
            run_id=run_id,
            codec=codec,
            namespace=namespace,
            complete=complete,
        )

    @classmethod
    def from_json(
        cls,
        source: str | bytes | os.PathLike[str] | Mapping[str, Any],
        *,
        codec: CodecLike | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        converter: Any = None,
    ) -> History:
        """Load a history from JSON and decode it; no server is needed.

        Reads what ``temporal workflow show -o json`` prints, what the Web UI downloads
        (``{"events": [...]}``, enums spelled ``EVENT_TYPE_ACTIVITY_TASK_SCHEDULED`` or the
        legacy ``ActivityTaskScheduled``) and what :meth:`to_json` writes.

        Args:
            source: A file path, JSON text, JSON bytes, or the parsed dict.
            codec: How to decode payloads; see :func:`as_chain`.
            workflow_id: The workflow id, when the file does not say.
            run_id: The run id. The JSON does not hold it; without this it is read from the
                events as far as they tell (see :func:`run_id_of`).
            converter: A ``temporalio.converter.PayloadConverter`` for values.

        Raises:
            HistoryFormatError: The file is missing, unreadable, not JSON, or not a history.
        """
        name, data = _read_source(source)
        if _DECODED_EXPORT.search(data if isinstance(data, str) else json.dumps(data, default=str)):
            raise HistoryFormatError(
                f"{name} is the readable export (History.to_decoded_json), whose payloads hold "
                "decoded values instead of their bytes: it cannot be decoded again. Load the "
                "encoded export instead (History.to_json, 'temporal workflow show -o json', or "
                "the Web UI's download).",
                source=name,
            )
        try:
            parsed = parse_history_json(data)
        except (
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            RecursionError,  # JSON nested deeper than the parser goes
            json_format.Error,
        ) as err:
            raise HistoryFormatError(
                f"{name} is not a workflow history: {err}. Expected the JSON that "
                "'temporal workflow show -o json' prints or the Web UI downloads "
                '({"events": [...]}).',
                source=name,
            ) from None
        del data
        unknown = sum(1 for e in parsed.events if e.event_type == EventType.EVENT_TYPE_UNSPECIFIED)
        if unknown:
            warnings.warn(
                f"{unknown} of the {len(parsed.events)} events of {name} have an event type "
                "this version of temporalio does not know (a newer server, or a typo); their "
                "rows have no event_type, and their payloads may be missed. Upgrade temporalio "
                "if the history comes from a newer server.",
                UserWarning,
                stacklevel=2,
            )
        history = cls._from_proto(
            parsed,
            codec=codec,
            workflow_id=workflow_id or None,
            run_id=run_id or None,
            converter=converter,
        )
        warn_undecoded(history, stacklevel=2)
        return history

    # -- export ------------------------------------------------------------------------------

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int | None = 2) -> str:
        """The history in its encoded form, as proto3 JSON (``{"events": [...]}``).

        This is what ``temporal workflow show -o json`` writes: it loads back with
        :meth:`from_json`, ``temporalio.client.WorkflowHistory.from_json`` and the SDK's
        ``Replayer``. Payloads stay encoded (encrypted payloads stay encrypted).

        Args:
            path: Also write the JSON to this file.
            indent: Indentation (``None`` for one line).
        """
        text = MessageToJson(self.raw, indent=indent)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_decoded_json(
        self, path: str | os.PathLike[str] | None = None, *, indent: int | None = 2
    ) -> str:
        """A readable form: the history's JSON with every payload replaced by what it holds.

        Each payload object becomes ``{"value": <decoded value>, "encodings": [...],
        "keyId": ...}``, or, when it could not be decoded, ``{"error": ..., "encodings": [...],
        "keyId": ..., "payload": <the encoded payload as stored>}``. For reading and diffing;
        it is not a history the SDK can replay (use :meth:`to_json` for that). Key material is
        never written.

        Args:
            path: Also write the JSON to this file.
            indent: Indentation (``None`` for one line).
        """
        text = json.dumps(
            {"events": list(self._decoded_events())},
            indent=indent,
            default=json_default,
            ensure_ascii=False,
        )
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _decoded_events(self) -> Iterator[dict[str, Any]]:
        p = self.payloads
        # Rows are matched to payloads by (event id, path), not by position, so that the export
        # stays right whatever order the frame is in; a payload without a row stays encoded.
        rows = {
            key: row
            for row, key in enumerate(zip(p["event_id"].tolist(), p["path"].tolist(), strict=True))
        }
        values = p["value"].tolist()
        errors = p["error"].tolist()
        encodings = p["encodings"].tolist()
        key_ids = p["key_id"].tolist()
        for event in self.raw.events:
            doc = MessageToDict(event)
            event_id = event.event_id
            for path, keys, payload in iter_payload_paths(event):
                row = rows.get((event_id, path))
                if row is None:
                    entry: dict[str, Any] = {
                        "error": f"no row for {path} of event {event_id} in History.payloads",
                        "payload": MessageToDict(payload),
                    }
                    _put(doc, keys, entry)
                    continue
                entry = {"encodings": _split(encodings[row])}
                key_id = key_ids[row]
                if isinstance(key_id, str):
                    entry["keyId"] = key_id
                error = errors[row]
                if isinstance(error, str):
                    entry = {"error": error, **entry, "payload": MessageToDict(payload)}
                else:
                    entry = {"value": values[row], **entry}
                _put(doc, keys, entry)
            yield doc

    def to_workflow_history(self) -> WorkflowHistory:
        """The history as a ``temporalio.client.WorkflowHistory`` (for ``Replayer``)."""
        return WorkflowHistory(self.workflow_id, list(self.raw.events))


def warn_undecoded(history: History, *, stacklevel: int = 2) -> None:
    """Warn (``UserWarning``) when some payloads could not be decoded, so that a wrong or
    missing key is never silent; the rows themselves say why, one by one."""
    errors = history.payloads["error"]
    bad = errors.notna()
    count = int(bad.sum())
    if not count:
        return
    reasons = errors[bad].value_counts()
    first = str(reasons.index[0])
    others = len(reasons) - 1
    more = f" (and {others} other reason{'s' if others > 1 else ''})" if others else ""
    top = int(reasons.iloc[0])
    warnings.warn(
        f"{count} of {len(errors)} payloads of workflow {history.workflow_id or '?'!r} could not "
        f"be decoded; their rows have value None and the reason in 'error' (History.errors "
        f"lists them). Most common reason ({top} payload{'s' if top > 1 else ''}): {first}{more}",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def _split(encodings: Any) -> list[str]:
    return encodings.split(" → ") if isinstance(encodings, str) and encodings else []


def _put(doc: Any, keys: tuple[str | int, ...], entry: dict[str, Any]) -> None:
    for key in keys[:-1]:
        doc = doc[key]
    doc[keys[-1]] = entry


def _ids_from_events(history: HistoryProto) -> tuple[str, str]:
    """(workflow id, run id) as far as the events say."""
    if not history.events:
        return "", ""
    first = history.events[0]
    if not first.HasField("workflow_execution_started_event_attributes"):
        return "", ""
    return first.workflow_execution_started_event_attributes.workflow_id, run_id_of(history)


_RESET = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW


def run_id_of(history: HistoryProto | WorkflowHistory) -> str:
    """The run id a history belongs to, as far as its events tell (a history downloaded as
    JSON does not hold it); ``""`` when they do not.

    The ``WorkflowExecutionStarted`` event's ``original_execution_run_id`` is the run id when
    that event was written. A reset copies the event into the new run unchanged, so for a
    reset run it names the run that was reset; the reset itself is recorded as a
    ``WorkflowTaskFailed`` event (cause ``RESET_WORKFLOW``) whose ``new_run_id`` is the new run.
    So: the ``new_run_id`` of the last such event, else ``original_execution_run_id``. (Not
    ``first_execution_run_id``: that is the first run of the whole chain of continue-as-new,
    retries, cron and resets.)
    """
    events = history.events
    if not events or not events[0].HasField("workflow_execution_started_event_attributes"):
        return ""
    failed_type = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    for event in reversed(events):  # the last reset made this run
        if event.event_type == failed_type:
            failed = event.workflow_task_failed_event_attributes
            if failed.cause == _RESET and failed.new_run_id:
                return failed.new_run_id
    return events[0].workflow_execution_started_event_attributes.original_execution_run_id


_DECODED_EXPORT = re.compile(r'"encodings"\s*:\s*\[')
"""What only :meth:`History.to_decoded_json` writes: a list under ``"encodings"``. Proto JSON
has no such list (a memo field, header, search attribute or metadata key of that name holds an
object or a string), and a quote inside a JSON string is escaped."""


def _read_source(source: Any) -> tuple[str, str | dict[str, Any]]:
    """(name for messages, JSON text or dict) of what :meth:`History.from_json` was given."""
    if isinstance(source, Mapping):
        return "<dict>", dict(source)
    if isinstance(source, (bytes, bytearray)):
        try:
            return "<bytes>", bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise HistoryFormatError(
                f"history bytes are not UTF-8 JSON ({err})", source="<bytes>"
            ) from None
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return "<text>", source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        try:
            return str(path), path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise HistoryFormatError(
                f"no history file at {str(path)!r}; pass the path of a file written by "
                "'temporal workflow show -o json', the Web UI's download, or History.to_json(), "
                "or the JSON text itself (a str that does not start with '{' is taken for a "
                "path)",
                source=str(path),
            ) from None
        except (OSError, UnicodeDecodeError) as err:
            raise HistoryFormatError(
                f"cannot read history file {str(path)!r}: {err}", source=str(path)
            ) from None
    raise HistoryFormatError(
        f"from_json takes a path, JSON text, bytes or a dict; got {type(source).__name__}",
        source=type(source).__name__,
    )


# -- fetching --------------------------------------------------------------------------------


def _not_found(workflow_id: str, run_id: str | None, conn: Connection) -> NotFound:
    s = conn.settings
    what = f"run {run_id!r} of workflow {workflow_id!r}" if run_id else f"workflow {workflow_id!r}"
    return NotFound(
        f"{what} not found in namespace {s.namespace!r} on {s.address}. Check the id "
        "(s.workflows() lists them) and the namespace; closed workflows disappear after the "
        "namespace's retention period.",
        workflow_id=workflow_id,
        run_id=run_id,
    )


def _bad_run_id(workflow_id: str, run_id: str | None, conn: Connection, details: str) -> Any:
    if run_id and "run" in details.lower():
        return NotFound(
            f"run id {run_id!r} of workflow {workflow_id!r} is not a valid run id (the server "
            f"says: {details}); run ids are UUIDs such as the run_id column of s.workflows().",
            workflow_id=workflow_id,
            run_id=run_id,
        )
    from .errors import RPCError

    return RPCError(
        f"the server rejected the history request for workflow {workflow_id!r}: {details}",
        method="GetWorkflowExecutionHistory",
        grpc_code="INVALID_ARGUMENT",
        details=details,
    )


class _Unparsed:
    """A ``response_type`` for :meth:`Connection.call_future` that leaves the response as its
    wire bytes (the caller parses them where they belong)."""

    @staticmethod
    def FromString(data: bytes) -> bytes:
        return data


OnPage = Callable[[int, int], None]
"""``on_page(pages, events)``: called after each history page is received and built."""


class HistoryInterrupted(UserWarning):
    """A history fetch was interrupted (KeyboardInterrupt or ``stop``): the :class:`History`
    holds the events of the pages received and has ``complete = False``."""


def fetch_history(
    conn: Connection,
    workflow_id: str,
    run_id: str | None = None,
    *,
    codec: Chain,
    page_size: int = 0,
    converter: Any = None,
    on_page: OnPage | None = None,
    stop: threading.Event | None = None,
    progress: bool = False,
) -> History:
    """Fetch and decode one run's history (the latest run when ``run_id`` is ``None``).

    Page *k+1* is requested before page *k* is decoded, so decoding overlaps the transfer.

    Interruption: ``stop.set()`` from another thread (checked between pages, and while waiting
    for one) or a KeyboardInterrupt (Ctrl-C, Jupyter's Stop) ends the fetch early; the pages
    already received are decoded and returned as a :class:`History` whose ``complete`` is
    ``False``, with a :class:`HistoryInterrupted` warning. The page on the wire is dropped.

    Args:
        conn: The connection.
        workflow_id: The workflow id.
        run_id: The run (the latest if ``None``).
        codec: The codec chain payloads are decoded with.
        page_size: Events per page (0: the server decides).
        converter: A ``temporalio.converter.PayloadConverter`` for values.
        on_page: ``on_page(pages, events)`` after each page is received and built.
        stop: An event another thread may set to stop after the current page.
        progress: Show a ``tqdm.auto`` bar of events (its total is the run's history length
            when ``DescribeWorkflowExecution`` was called to resolve the latest run).

    Raises:
        ArgumentError: ``workflow_id`` is empty or not a ``str`` (or ``run_id`` not a ``str``),
            or ``page_size`` is not an int ≥ 0.
        NotFound: No such workflow or run.
    """
    history = fetch_history_quiet(
        conn,
        workflow_id,
        run_id,
        codec=codec,
        page_size=page_size,
        converter=converter,
        on_page=on_page,
        stop=stop,
        progress=progress,
    )
    if not history.complete:
        warnings.warn(
            f"history of workflow {workflow_id!r} run {history.run_id!r} stopped early: it "
            f"holds the {len(history.events)} events of the {history.pages} pages received "
            "(History.complete is False); fetch it again for the rest.",
            HistoryInterrupted,
            stacklevel=3,
        )
    return history


def fetch_history_quiet(
    conn: Connection,
    workflow_id: str,
    run_id: str | None = None,
    *,
    codec: Chain,
    page_size: int = 0,
    converter: Any = None,
    on_page: OnPage | None = None,
    stop: threading.Event | None = None,
    progress: bool = False,
) -> History:
    """:func:`fetch_history` without the :class:`HistoryInterrupted` warning (for callers
    fetching many runs, which report interruption once, for all of them)."""
    converter = as_converter(converter)
    builder: FrameBuilder | PagedFrames = PagedFrames(codec, converter)
    bar: Any = None

    def on_events(events: Any, pages: int, received: int, total: int | None) -> None:
        nonlocal bar
        builder.add(events)
        if progress:
            if bar is None:
                bar = _events_bar(workflow_id, total)
            bar.update(received - bar.n)
        if on_page is not None:
            on_page(pages, received)

    try:
        fetched = fetch_raw_history(
            conn,
            workflow_id,
            run_id,
            page_size=page_size,
            stop=stop,
            on_events=on_events,
            keep_serialized=True,
        )
    finally:
        if bar is not None:
            bar.close()
    raw: HistoryProto | None = None
    if fetched.interrupted:
        # The interrupt may have cut a page's rows short: build the rows of every event
        # received again, from the start, so that each is there exactly once.
        raw = parse_pages(fetched.serialized)
        builder = FrameBuilder(codec, converter)
        builder.add(raw.events)
    history = History._build(
        HistoryProto(),
        builder,
        workflow_id=workflow_id,
        run_id=fetched.run_id,
        codec=codec,
        namespace=conn.settings.namespace,
        complete=fetched.complete,
    )
    # The events stay serialized until History.raw is read (parsed, they take several times
    # the memory of their bytes).
    history._raw, history._raw_pages = raw, None if raw is not None else fetched.serialized
    history.pages = fetched.pages
    return history


class RawHistory(NamedTuple):
    """What :func:`fetch_raw_history` got: the run id (resolved when none was given), the
    events as received (or, with ``keep_serialized``, the pages' bytes), whether the server said
    there were no more, the pages, and whether a KeyboardInterrupt ended the fetch."""

    run_id: str
    history: HistoryProto
    complete: bool
    pages: int
    interrupted: bool
    serialized: list[bytes]


OnEvents = Callable[[Any, int, int, "int | None"], None]
"""``on_events(events, pages, received, total)``: a page's new events, the pages and events
received so far, and the run's history length when it was looked up (else ``None``)."""


def fetch_raw_history(
    conn: Connection,
    workflow_id: str,
    run_id: str | None = None,
    *,
    page_size: int = 0,
    stop: threading.Event | None = None,
    on_events: OnEvents | None = None,
    keep_serialized: bool = False,
) -> RawHistory:
    """Page through one run's history, encoded, requesting page *k+1* before ``on_events`` is
    given page *k* (so that its work overlaps the transfer).

    ``stop`` is checked between pages and while waiting for one; a KeyboardInterrupt ends the
    fetch too (``interrupted``). Either way the events received so far are returned with
    ``complete`` False. With ``keep_serialized`` each page is parsed on its own for
    ``on_events`` and kept as its bytes (``serialized``; ``history`` stays empty), which holds a
    fraction of the memory of parsed messages.

    Raises:
        ArgumentError: ``workflow_id``, ``run_id`` or ``page_size`` is malformed.
        NotFound: No such workflow or run.
    """
    check_run(workflow_id, run_id)
    page_size = check_history_page_size(page_size)
    namespace = conn.settings.namespace
    total: int | None = None
    if not run_id:
        # Resolve "latest" once: the run id then names exactly the run whose events we read,
        # even if it continues-as-new while we page.
        describe = conn.call(
            "DescribeWorkflowExecution",
            DescribeWorkflowExecutionRequest(
                namespace=namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            ),
            errors={
                "NOT_FOUND": lambda _d: _not_found(workflow_id, None, conn),
                "INVALID_ARGUMENT": lambda d: _bad_run_id(workflow_id, None, conn, d),
            },
        )
        run_id = describe.workflow_execution_info.execution.run_id
        total = int(describe.workflow_execution_info.history_length) or None
    resolved: str = run_id
    errors = {
        "NOT_FOUND": lambda _d: _not_found(workflow_id, resolved, conn),
        "INVALID_ARGUMENT": lambda d: _bad_run_id(workflow_id, resolved, conn, d),
    }
    execution = WorkflowExecution(workflow_id=workflow_id, run_id=run_id)

    def request(token: bytes) -> Future[Any]:
        return conn.call_future(
            "GetWorkflowExecutionHistory",
            GetWorkflowExecutionHistoryRequest(
                namespace=namespace,
                execution=execution,
                maximum_page_size=page_size,
                next_page_token=token,
            ),
            errors=errors,
            response_type=_Unparsed,
        )

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    # Every page's bytes are parsed straight into one response message: protobuf appends
    # repeated fields on merge, so ``pages.history`` grows into the whole history with no copy
    # of any page (a page parsed on its own, then merged, would be copied once more).
    pages = GetWorkflowExecutionHistoryResponse()
    serialized: list[bytes] = []
    received = 0
    page_count = 0
    complete = False
    interrupted = False
    try:
        future: Future[Any] | None = request(b"")
        while future is not None and not stopped():
            data = _wait(future, stop)
            if data is None:  # stopped while the page was on the wire
                break
            if keep_serialized:
                page = GetWorkflowExecutionHistoryResponse.FromString(data)
                serialized.append(data)
            else:
                pages.ClearField("next_page_token")  # the last page has none: drop the old one
                pages.MergeFromString(data)
                page = pages
            del data
            page_count += 1
            token = page.next_page_token
            complete = not token
            future = request(token) if token and not stopped() else None
            if keep_serialized:
                new_events: Any = page.history.events
                received += len(new_events)
            else:
                start, received = received, len(pages.history.events)
                new_events = pages.history.events[start:]
            if on_events is not None:
                on_events(new_events, page_count, received, total)
            del page, new_events
    except KeyboardInterrupt:
        complete = False
        interrupted = True
    return RawHistory(resolved, pages.history, complete, page_count, interrupted, serialized)


def parse_pages(pages: list[bytes]) -> HistoryProto:
    """The history that serialized ``GetWorkflowExecutionHistoryResponse`` pages hold, in order
    (merging appends repeated fields, so the events come out page after page)."""
    merged = GetWorkflowExecutionHistoryResponse()
    for data in pages:
        merged.MergeFromString(data)
    return merged.history


def _wait(future: Future[Any], stop: threading.Event | None) -> Any:
    """The future's result; ``None`` if ``stop`` is set first (the call completes unseen)."""
    if stop is None:
        return future.result()
    while True:
        try:
            return future.result(timeout=0.05)
        except FutureTimeout:
            if stop.is_set():
                return None


def _events_bar(workflow_id: str, total: int | None) -> Any:
    from tqdm.auto import tqdm  # imported lazily: tqdm.auto probes for Jupyter

    return tqdm(total=total, unit=" events", desc=workflow_id[:40], delay=0.5, leave=False)

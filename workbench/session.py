"""Session: the plain-Python facade that notebooks, panels and the codec server share.

A session is one connection to one namespace. Every method returns plain Python or pandas
objects; nothing here imports ipywidgets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from temporalio.api.common.v1 import Payload

from .cluster import ServerInfo, namespaces_frame
from .codecs import Chain, CodecLike, Remote, as_chain
from .connection import Connection
from .frames import default_decode_memo
from .history import History, fetch_history, warn_undecoded
from .many import (
    DEFAULT_CONCURRENCY,
    Histories,
    OnRun,
    fetch_histories,
    refs_from,
    warn_undecoded_runs,
)
from .settings import ConnectionSettings, TLSSettings

if TYPE_CHECKING:
    from .server import CodecServer

from .workflows import (
    DEFAULT_PAGE_SIZE,
    RETRY_DEADLINE,
    OnPage,
    WorkflowDescription,
    count_by_status,
    iter_workflows,
    list_workflows,
)
from .workflows import count as count_workflows
from .workflows import describe as describe_workflow

__all__ = ["Session", "connect"]


class Session:
    """A connection to one namespace of a Temporal cluster, checked when it is made.

    Build one with :func:`workbench.connect`. Use it as a context manager, or call
    :meth:`close`, to release the channel.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        check: bool = True,
        codec: CodecLike | None = None,
    ) -> None:
        """Open a channel for ``settings`` and, unless ``check=False``, verify it.

        The check calls ``GetSystemInfo`` and then ``DescribeNamespace`` on the chosen
        namespace; it does not need ``ListNamespaces``, which namespace-scoped credentials
        cannot call.

        Args:
            settings: Where and how to connect.
            check: Verify the connection now.
            codec: How payloads are decoded by default: a :class:`~workbench.codecs.Chain`,
                one codec, or a ``temporalio.converter.PayloadCodec``. If ``None``: a
                :class:`~workbench.codecs.Remote` for ``settings.codec_endpoint`` when the
                profile or environment names a codec server, else
                :data:`workbench.codecs.DEFAULT`.

        Raises:
            SettingsError: Bad settings or TLS material (nothing was dialled).
            CodecError: ``codec`` is not a codec.
            ConnectError: The server could not be reached (TLSError, AuthError, ConnectTimeout).
            NamespaceNotFound: The namespace does not exist.
        """
        self.settings = settings
        if codec is None and settings.codec_endpoint:
            # The profile's [codec] section (or TEMPORAL_CODEC_ENDPOINT), as the CLI uses it.
            codec = Remote(settings.codec_endpoint, auth=settings.codec_auth)
        self.codec: Chain = as_chain(codec).with_namespace(settings.namespace)
        """The codec chain payloads are decoded with unless a call passes ``codec=``."""
        self.connection = Connection(settings)
        self._server_info: ServerInfo | None = None
        if check:
            try:
                self._server_info = self._fetch_server_info()
            except BaseException:
                self.connection.close()
                raise

    def __repr__(self) -> str:
        return f"Session({self.settings.address!r}, namespace={self.settings.namespace!r})"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch_server_info(self) -> ServerInfo:
        system = self.connection.system_info()
        namespace = self.connection.describe_namespace()
        return ServerInfo.from_proto(self.settings.address, system, namespace)

    @property
    def namespace(self) -> str:
        """The namespace this session works in."""
        return self.settings.namespace

    @property
    def server_info(self) -> ServerInfo:
        """Server version, capabilities and the namespace's description (fetched once)."""
        if self._server_info is None:
            self._server_info = self._fetch_server_info()
        return self._server_info

    def namespaces(self) -> pd.DataFrame:
        """All namespaces, one row each, where the credentials allow listing them.

        Raises:
            AuthError: The credentials may not list namespaces.
        """
        return namespaces_frame(self.connection)

    @property
    def _decode_memo(self) -> _ChainMemo:
        """Memo values through the session's codec chain: memo is where users keep secrets."""
        return _ChainMemo(self.codec)

    def workflows(
        self,
        query: str = "",
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool = True,
        on_page: OnPage | None = None,
        stop: threading.Event | None = None,
    ) -> pd.DataFrame:
        """Workflow executions matching a visibility query, one row each.

        >>> df = s.workflows("WorkflowType='OrderWorkflow' AND ExecutionStatus='Failed'")
        >>> df.groupby("status", observed=False).size()

        The columns are the fixed schema of :mod:`workbench.frames` (ids, type, ``status`` as a
        Categorical, UTC times, ``duration``, task queue, history size, parent/root, ``memo``
        decoded, ``memo_error``) followed by one typed column per search attribute. An empty
        result has the same fixed columns and zero rows.

        The next page is fetched while the current one is converted. Rate limiting
        (``RESOURCE_EXHAUSTED``) and a restarting server (``UNAVAILABLE``) are retried from the
        last page token with a capped backoff, so rows are neither lost nor duplicated.

        With ``progress=True`` a ``tqdm.auto`` bar shows the rows received (it appears after
        half a second); its total comes from one ``CountWorkflowExecutions`` call made alongside
        the first page. ``progress=False`` makes no extra call.

        Interrupting (Ctrl-C, Jupyter's Stop, or ``stop.set()`` from another thread) returns the
        rows of the pages already received, with a :class:`~workbench.ListingInterrupted`
        warning; ``frame.attrs["complete"]`` is then ``False`` and
        ``frame.attrs["next_page_token"]`` says where the listing stopped.

        Args:
            query: A list filter, e.g. ``"ExecutionStatus='Running'"`` (``""``: everything).
            limit: At most this many rows.
            page_size: Rows per server call.
            progress: Show a progress bar (and count the total with one extra call).
            on_page: ``on_page(pages, rows)`` after each page received (panels, tests).
            stop: An event another thread may set to stop after the current page.

        Raises:
            ArgumentError: ``query``, ``page_size`` or ``limit`` is malformed.
            QueryError: The server rejected the query (syntax, unknown search attribute).
            WorkbenchError: Another failure, or the server stayed unavailable for
                :data:`~workbench.workflows.RETRY_DEADLINE` seconds.
        """
        return list_workflows(
            self.connection,
            query,
            limit=limit,
            page_size=page_size,
            progress=progress,
            decode_memo=self._decode_memo,
            on_page=on_page,
            stop=stop,
            pause_gc=self.codec.pauses_gc,
        )

    def iter_workflows(
        self,
        query: str = "",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        retry_deadline: float = RETRY_DEADLINE,
    ) -> Iterator[pd.DataFrame]:
        """Stream a listing as one DataFrame per page, for listings that do not fit in memory.

        >>> for i, page in enumerate(s.iter_workflows("ExecutionStatus='Failed'", page_size=1000)):
        ...     page.to_parquet(f"failed-{i:05d}.parquet")

        Each page has the fixed columns of :meth:`workflows` plus the search attributes present
        in that page; its index goes on from the previous page's, so ``pd.concat(pages)`` holds
        the rows of :meth:`workflows` with the same index (a search attribute some pages lack
        is filled there by pandas' rules, and columns come in the order first seen). Empty
        pages are skipped; an empty listing yields one empty frame. The next page is fetched
        while the loop body runs.

        A page failing with ``RESOURCE_EXHAUSTED`` or ``UNAVAILABLE`` (rate limiting, a server
        restarting) is requested again with the same page token until ``retry_deadline``
        seconds of consecutive failures; then the error is raised and the pages already
        yielded stay the caller's.

        Raises:
            ArgumentError: ``query``, ``page_size`` or ``limit`` is malformed.
            QueryError: The server rejected the query.
        """
        return iter_workflows(
            self.connection,
            query,
            page_size=page_size,
            limit=limit,
            decode_memo=self._decode_memo,
            retry_deadline=retry_deadline,
        )

    def count(self, query: str = "") -> int:
        """Number of workflow executions matching ``query``.

        Raises:
            QueryError: The server rejected the query.
        """
        return count_workflows(self.connection, query)

    def count_by_status(self, query: str = "") -> pd.Series:
        """Executions matching ``query`` per status: an int64 Series indexed by status name.

        Every status appears (Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew,
        TimedOut, Paused), zeros included. Pass the filter only: the call adds its own
        ``GROUP BY ExecutionStatus``.

        Raises:
            ArgumentError: The query has its own ``GROUP BY`` or ``ORDER BY``.
            QueryError: The server rejected the query.
        """
        return count_by_status(self.connection, query)

    def describe(self, workflow_id: str, run_id: str | None = None) -> WorkflowDescription:
        """Describe one run: its info row, pending activities and children, memo, search attributes.

        Args:
            workflow_id: The workflow id.
            run_id: The run; the latest run of ``workflow_id`` if omitted.

        Raises:
            ArgumentError: ``workflow_id`` is empty or not a ``str``.
            NotFound: No such workflow or run in this namespace.
        """
        return describe_workflow(
            self.connection,
            workflow_id,
            run_id,
            decode_memo=self._decode_memo,
        )

    def history(
        self,
        workflow_id: str,
        run_id: str | None = None,
        *,
        codec: CodecLike | None = None,
        page_size: int = 0,
        converter: Any = None,
        on_page: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        progress: bool = False,
    ) -> History:
        """Fetch one run's history with every payload decoded.

        >>> h = s.history("order-123")
        >>> h.events[["event_type", "activity_type", "input", "result", "failure_message"]]
        >>> h.payloads[h.payloads.error.notna()]      # what could not be decoded, and why

        A payload that cannot be decoded (unknown key id, wrong key, corrupt data, unknown
        encoding) keeps its row with ``value`` empty and ``error`` saying why; the rest of the
        history decodes.

        Args:
            workflow_id: The workflow id.
            run_id: The run; the latest run of ``workflow_id`` if omitted.
            codec: Decode with this instead of :attr:`codec` (a chain, a codec, or a
                ``temporalio.converter.PayloadCodec``).
            page_size: Events per page (0: the server decides; about 1,000).
            converter: A ``temporalio.converter.PayloadConverter`` for values (the SDK's
                default if ``None``).
            on_page: ``on_page(pages, events)`` after each page is received and built
                (panels, tests).
            stop: An event another thread may set to stop after the current page.
            progress: Show a ``tqdm.auto`` bar of the events received (its total is the
                run's history length when the latest run was looked up, i.e. no ``run_id``).

        Interrupting (Ctrl-C, Jupyter's Stop, or ``stop.set()`` from another thread) returns
        the events of the pages already received, decoded, with a
        :class:`~workbench.HistoryInterrupted` warning; ``history.complete`` is then ``False``.

        Raises:
            ArgumentError: ``workflow_id`` is empty or not a ``str``.
            NotFound: No such workflow or run in this namespace.
            CodecError: ``codec`` is not a codec.
        """
        chain = self.codec if codec is None else as_chain(codec).with_namespace(self.namespace)
        history = fetch_history(
            self.connection,
            workflow_id,
            run_id,
            codec=chain,
            page_size=page_size,
            converter=converter,
            on_page=on_page,
            stop=stop,
            progress=progress,
        )
        warn_undecoded(history, stacklevel=2)
        return history

    def histories(
        self,
        query: str = "",
        *,
        limit: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        codec: CodecLike | None = None,
        to: str | os.PathLike[str] | None = None,
        progress: bool = True,
        stop: threading.Event | None = None,
        on_run: OnRun | None = None,
        converter: Any = None,
    ) -> Histories:
        """The decoded histories of every run matching a visibility query.

        >>> hs = s.histories("WorkflowType='OrderWorkflow' AND ExecutionStatus='Failed'")
        >>> hs.runs                      # one row per run: status, events, payloads, error
        >>> hs.events, hs.payloads       # workflow_id, run_id, then the History columns
        >>> hs.search(lambda v: v.get("customer") == "Ada")   # or hs.search("4111-1111")

        The runs are listed first (:meth:`workflows`), then fetched ``concurrency`` at a time,
        each decoded as :meth:`history` does. A run the server rate-limits
        (``RESOURCE_EXHAUSTED``) or cannot serve for a while (``UNAVAILABLE``, a restart) is
        fetched again after a backoff the whole pool observes; a run that fails otherwise (it
        was deleted, its id is wrong) is a row of ``hs.runs`` with its ``error``, never an
        exception. A codec server (:class:`~workbench.codecs.Remote`) receives the payloads of
        several runs per request.

        Interrupting (Ctrl-C, Jupyter's Stop, or ``stop.set()``) keeps the runs already
        fetched, with a :class:`~workbench.HistoryInterrupted` warning; the others have
        ``fetched=False`` in ``hs.runs`` and ``hs.complete`` is ``False``.

        Args:
            query: A visibility list filter (``""``: every run).
            limit: At most this many runs.
            concurrency: Runs fetched at once.
            codec: Decode with this instead of :attr:`codec`.
            to: Write the rows to this Parquet dataset folder instead of keeping them
                (``events/`` and ``payloads/`` part files, ``runs.parquet``); memory stays
                bounded. Decoded values are stored as JSON text, ``raw`` as the serialized
                ``Payload``; ``hs.events`` reads them back and ``hs.search`` scans them.
            progress: Show a ``tqdm.auto`` bar of runs.
            stop: An event another thread may set to stop (runs in flight are dropped).
            on_run: ``on_run(done, total)`` after each run is fetched or failed.
            converter: A ``temporalio.converter.PayloadConverter`` for values.

        Raises:
            ArgumentError: ``query``, ``limit``, ``concurrency`` or ``to`` is malformed.
            QueryError: The server rejected the query.
        """
        listing = list_workflows(
            self.connection,
            query,
            limit=limit,
            progress=False,
            decode_memo=default_decode_memo,  # only the ids are needed
            stop=stop,
        )
        if not listing.attrs.get("complete", True):
            # The listing itself was interrupted (Ctrl-C or stop): fetch nothing more; the runs
            # listed are rows with fetched=False, and the result says it is incomplete.
            stop = threading.Event()
            stop.set()
        hs = self._fetch_many(
            listing, query, concurrency, codec, to, progress, stop, on_run, converter
        )
        warn_undecoded_runs(hs, stacklevel=2)
        return hs

    def histories_for(
        self,
        runs: Any,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        codec: CodecLike | None = None,
        to: str | os.PathLike[str] | None = None,
        progress: bool = True,
        stop: threading.Event | None = None,
        on_run: OnRun | None = None,
        converter: Any = None,
    ) -> Histories:
        """The decoded histories of given runs, as :meth:`histories` fetches them.

        >>> df = s.workflows("ExecutionStatus='Failed'")
        >>> hs = s.histories_for(df[df.workflow_type == "OrderWorkflow"])   # selected rows
        >>> hs = s.histories_for(["order-1", ("order-2", "<run id>")])

        Args:
            runs: A frame of :meth:`workflows` (its ``workflow_id``, ``run_id``,
                ``workflow_type`` and ``status`` columns are used), a list of workflow ids
                (latest run), or of ``(workflow_id, run_id)`` pairs.
            concurrency, codec, to, progress, stop, on_run, converter: As for
                :meth:`histories`.

        Raises:
            ArgumentError: ``runs`` is none of these, or another argument is malformed.
        """
        hs = self._fetch_many(runs, None, concurrency, codec, to, progress, stop, on_run, converter)
        warn_undecoded_runs(hs, stacklevel=2)
        return hs

    def _fetch_many(
        self,
        runs: Any,
        query: str | None,
        concurrency: int,
        codec: CodecLike | None,
        to: str | os.PathLike[str] | None,
        progress: bool,
        stop: threading.Event | None,
        on_run: OnRun | None,
        converter: Any,
    ) -> Histories:
        chain = self.codec if codec is None else as_chain(codec).with_namespace(self.namespace)
        return fetch_histories(
            self.connection,
            refs_from(runs),
            codec=chain,
            concurrency=concurrency,
            converter=converter,
            to=None if to is None else os.fspath(to),
            progress=progress,
            stop=stop,
            on_run=on_run,
            query=query,
        )

    def close(self) -> None:
        """Close the connection. The session cannot be used afterwards."""
        self.connection.close()

    def serve_codec(
        self,
        port: int = 0,
        *,
        origins: Iterable[str] | str | None = ("http://localhost:8233", "http://127.0.0.1:8233"),
        **options: Any,
    ) -> CodecServer:
        """Serve this session's codec (:attr:`codec`) to the Temporal Web UI and CLI, in the
        background of this process (a notebook's kernel keeps running cells).

        >>> srv = s.serve_codec(port=8081, origins=["http://localhost:8233"])
        >>> print(srv.ui_instructions())

        Args:
            port: TCP port (0: a free one; see ``srv.url``).
            origins: Browser origins allowed to call it (the Web UI's address).
            **options: The other options of :func:`workbench.serve_codec` (``auth``,
                ``host``, ``namespaces``, ``decode_only``, ``tls_cert``, ...).

        Returns:
            The running :class:`~workbench.server.CodecServer`; ``.stop()`` it, or use it as a
            context manager (it also stops when the kernel exits).

        Raises:
            SettingsError: An unsafe or invalid setting, or the port is taken.
        """
        from .server import serve_codec

        return serve_codec(self.codec, port=port, origins=origins, **options)


def connect(
    address: str | None = None,
    namespace: str | None = None,
    *,
    tls: TLSSettings | bool | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    grpc_meta: Mapping[str, str] | None = None,
    connect_timeout: float | None = None,
    rpc_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    codec: CodecLike | None = None,
    **kwargs: Any,
) -> Session:
    """Connect to a Temporal cluster and return a checked :class:`Session`.

    Settings not given here come from the environment (``TEMPORAL_ADDRESS``, ...), then from
    the config profile (``TEMPORAL_PROFILE``/``profile=`` in ``temporal.toml``), then default to
    ``localhost:7233`` and namespace ``default`` — as the ``temporal`` CLI does.

    Args:
        address: ``host:port`` of the frontend.
        namespace: Namespace to work in.
        tls: ``True``/``False``, or :class:`TLSSettings` (CA, client cert and key,
            server-name override).
        api_key: Temporal Cloud API key (sent as a bearer token; turns TLS on).
        profile: Profile of the config file to load.
        config_file: Config file to read instead of the default one.
        grpc_meta: Extra gRPC metadata for every call.
        connect_timeout: Seconds to wait for the server when connecting (default 10).
        rpc_timeout: Seconds each call may take (default 60).
        env: Environment to read instead of ``os.environ`` (``{}`` ignores it).
        codec: How payloads are decoded (:attr:`Session.codec`): a
            :class:`~workbench.codecs.Chain`, one codec, or a
            ``temporalio.converter.PayloadCodec``.
        **kwargs: Other :class:`ConnectionSettings` fields (``codec_endpoint``, ``codec_auth``).

    Raises:
        SettingsError: A setting is malformed, a profile is missing, TLS material is bad.
        ConnectError: The server could not be reached; subclasses say why (``TLSError``,
            ``AuthError``, ``ConnectTimeout``).
        NamespaceNotFound: The namespace does not exist on the server.
    """
    settings = ConnectionSettings.load(
        profile=profile,
        config_file=config_file,
        env=env,
        address=address,
        namespace=namespace,
        tls=tls,
        api_key=api_key,
        grpc_meta=grpc_meta,
        connect_timeout=connect_timeout,
        rpc_timeout=rpc_timeout,
        **kwargs,
    )
    return Session(settings, codec=codec)


class _ChainMemo:
    """A :data:`workbench.frames.DecodeMemo` (with its ``plan``) over a codec chain."""

    __slots__ = ("chain",)

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def __call__(self, payloads: Sequence[Payload]) -> list[tuple[Any, str | None]]:
        return [(value, decoded.error) for decoded, value in self.chain.decode_values(payloads)]

    def plan(self, encoding: bytes, key_id: bytes | None) -> tuple[str, Any] | None:
        return self.chain.memo_plan(encoding, key_id)

"""The Workbench: the four panels in one display, sharing one Session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import pandas as pd

from ..codecs import Chain, as_chain
from ..history import History
from ..session import Session
from ._style import esc, style_widget
from .codec_panel import CodecPanel, chain_text
from .connection_panel import ConnectionPanel
from .history_panel import HistoryPanel
from .workflows_panel import WorkflowsPanel

__all__ = ["Workbench"]

TABS = ("Connection", "Converter", "Workflows", "History")


class Workbench(w.VBox):
    """Connect, choose a converter, list workflows and read decoded histories.

    >>> from workbench.ui import Workbench
    >>> wb = Workbench()            # prefilled from the environment / temporal.toml
    >>> wb                          # show it
    >>> wb.session, wb.workflows_df, wb.history      # for the next cell

    Args:
        session: An open session to start with (else connect in the Connection tab).
        codec: The converter chain to start with (a chain, a codec or a PayloadCodec).
        env: Environment to prefill the connection from (default ``os.environ``).
        connect: Connect at once with the prefilled settings.
        user_ns: Where the converter panel looks up "my codec" names.
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        codec: Any = None,
        env: Mapping[str, str] | None = None,
        connect: bool = False,
        user_ns: Mapping[str, Any] | None = None,
    ) -> None:
        self._codec: Chain | None = as_chain(codec) if codec is not None else None
        if session is not None and self._codec is not None:
            session.codec = self._codec.with_namespace(session.namespace)
        self.connection = ConnectionPanel(env=env, codec=self._codec)
        self.converter = CodecPanel(
            session, user_ns=user_ns, on_apply=self._applied, chain=self._codec
        )
        self.workflows = WorkflowsPanel(session, on_open=self.open_history)
        self.history_panel = HistoryPanel(session)
        self.banner = w.HTML()
        self.banner.add_class("wb-banner")
        self.tabs = w.Tab(
            children=[self.connection, self.converter, self.workflows, self.history_panel]
        )
        for i, title in enumerate(TABS):
            self.tabs.set_title(i, title)
        self.tabs.add_class("wb-tabs")
        self.connection.on_connect(self._connected)
        super().__init__([style_widget(), self.banner, self.tabs])
        self.add_class("wb-workbench")
        if session is not None:
            self.connection.session = session
            self.connection.status.show(f"Using the session given: {session!r}.", "ok")
            self._connected(session)
        else:
            self._show_banner()
            if connect:
                self.connection.connect()

    # -- what the next cell uses ----------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The session the panels use (``None`` until connected)."""
        return self.connection.session

    @property
    def workflows_df(self) -> pd.DataFrame:
        """The whole listing of the Workflows tab, as a DataFrame."""
        return self.workflows.frame

    @property
    def history(self) -> History | None:
        """The History open in the History tab."""
        return self.history_panel.history

    # -- wiring ---------------------------------------------------------------------------------

    def _connected(self, session: Session) -> None:
        self.converter.set_session(session)
        self.workflows.set_session(session)
        self.history_panel.set_session(session)
        self._show_banner()
        if self.tabs.selected_index == 0:
            self.tabs.selected_index = 2

    def _applied(self, chain: Chain) -> None:
        # Before connecting, the chain waits for the session; after, later sessions keep it.
        self.connection.codec = chain
        self._show_banner()

    def _show_banner(self) -> None:
        s = self.session
        if s is None:
            self.banner.value = (
                "<span class='wb-muted'>Not connected: open the Connection tab.</span>"
            )
            return
        self.banner.value = (
            f"<b>{esc(s.settings.address)}</b> · namespace <b>{esc(s.namespace)}</b> · "
            f"converter: {esc(chain_text(s.codec))}"
        )

    def open_history(self, workflow_id: str, run_id: str | None = None) -> None:
        """Open a run in the History tab (what selecting a workflow row does)."""
        self.tabs.selected_index = 3
        self.history_panel.load(workflow_id, run_id)

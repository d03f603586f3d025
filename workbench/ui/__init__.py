"""The workbench in a notebook: ipywidgets panels over a :class:`~workbench.Session`.

>>> from workbench.ui import Workbench
>>> wb = Workbench()             # four tabs: Connection, Converter, Workflows, History
>>> wb

Each panel also works alone: :class:`ConnectionPanel`, :class:`CodecPanel`,
:class:`WorkflowsPanel`, :class:`HistoryPanel`. The panels are thin views: what they do lives
in plain-Python objects (:mod:`~workbench.ui.connect_form`, :mod:`~workbench.ui.codec_form`,
:mod:`~workbench.ui.listing`, :mod:`~workbench.ui.history_view`, :mod:`~workbench.ui.table`)
that are tested without Jupyter. ``import workbench`` does not import this package.
"""

from __future__ import annotations

from .app import Workbench
from .codec_panel import CodecPanel
from .connection_panel import ConnectionPanel
from .history_panel import HistoryPanel
from .workflows_panel import WorkflowsPanel

__all__ = ["CodecPanel", "ConnectionPanel", "HistoryPanel", "Workbench", "WorkflowsPanel"]

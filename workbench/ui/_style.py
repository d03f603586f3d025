"""Small shared pieces of the panels' look: CSS, status lines, HTML escaping."""

from __future__ import annotations

import html
from typing import Any, Literal

import ipywidgets as w

__all__ = ["CSS", "Status", "close_tree", "esc", "on_enter", "style_widget"]

CSS = """
<style>
.wb-panel { font-size: 13px; }
.wb-muted { color: #666; }
.wb-ok { color: #1a7f37; }
.wb-error { color: #b42318; white-space: pre-wrap; }
.wb-warn { color: #9a6700; }
.wb-busy { color: #0b5cad; }
.wb-status { padding: 4px 8px; border-radius: 4px; background: #f6f8fa; margin: 4px 0;
             min-height: 1.6em; }
.wb-status.wb-state-error { background: #fff1f0; border-left: 3px solid #b42318; }
.wb-status.wb-state-ok { background: #f0fff4; border-left: 3px solid #1a7f37; }
.wb-status.wb-state-busy { border-left: 3px solid #0b5cad; }
.wb-fieldmsg { font-size: 12px; margin-left: 8px; }
.wb-h { font-weight: 600; font-size: 14px; margin: 4px 0; }
.wb-kv td { padding: 1px 10px 1px 0; vertical-align: top; }
.wb-kv td:first-child { color: #666; }
.wb-payload { border: 1px solid #ddd; border-radius: 4px; margin: 6px 0; padding: 4px 8px; }
.wb-payload.wb-bad { border-color: #b42318; background: #fff1f0; }
.wb-payload pre { margin: 4px 0; max-height: 360px; overflow: auto; font-size: 12px; }
.wb-stack { font-family: monospace; font-size: 12px; color: #444; }
.wb-bars td { padding: 1px 6px; font-size: 12px; }
</style>
"""

State = Literal["idle", "busy", "ok", "error"]


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def style_widget() -> w.HTML:
    """The CSS the panels share (one small HTML widget per panel; identical text)."""
    return w.HTML(CSS, layout=w.Layout(display="none"))


class Status(w.HTML):
    """A one-line status: idle, busy, ok or error, in plain words (never a traceback)."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.add_class("wb-status")
        self.state: State = "idle"
        self.text = ""
        self.show(text)

    def show(self, text: str, state: State = "idle", *, html_text: bool = False) -> None:
        """Show ``text`` (escaped unless ``html_text``) in ``state``."""
        for s in ("idle", "busy", "ok", "error"):
            self.remove_class(f"wb-state-{s}")
        self.add_class(f"wb-state-{state}")
        self.state = state
        self.text = text
        body = text if html_text else esc(text)
        cls = {"error": "wb-error", "ok": "wb-ok", "busy": "wb-busy", "idle": "wb-muted"}[state]
        self.value = f"<span class='{cls}'>{body}</span>"

    def error(self, error: BaseException) -> None:
        """Show an exception as words: a WorkbenchError's message, else its type and text."""
        text = describe_error(error)
        first = text.split(" ", 1)[0]
        if first.isalpha() and first.islower():
            text = text[:1].upper() + text[1:]  # not a setting's name (tls.ca_cert_path)
        self.show(text, "error")


def on_enter(text: w.Text, action: Any) -> None:
    """Call ``action()`` when Enter is pressed in ``text``, as in any search box.

    ipywidgets 8 still sends Text's "submit" event (its ``on_submit``, deprecated in favour of
    ``continuous_update=False``, which also fires when the field merely loses focus: running a
    query because the person clicked elsewhere would surprise them).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        text.on_submit(lambda _widget: action())


def close_tree(widgets: object) -> None:
    """Close widgets a panel no longer shows, and their children, emptying secret fields first.

    A replaced widget that is not closed lives on in the kernel and the browser, and its value
    with it: JupyterLab would save a typed key in the notebook's widget state.
    """
    stack: list[Any] = list(widgets) if isinstance(widgets, (list, tuple)) else [widgets]
    while stack:
        widget = stack.pop()
        stack.extend(getattr(widget, "children", ()) or ())
        # Observers first: emptying a field must not empty what the panel's model holds.
        widget.unobserve_all()
        if isinstance(widget, w.Password):
            widget.value = ""
        widget.close()


def describe_error(error: BaseException) -> str:
    """The words a person should read for ``error`` (no traceback)."""
    from ..errors import WorkbenchError

    if isinstance(error, WorkbenchError):
        return str(error)
    if isinstance(error, KeyboardInterrupt):
        return "Interrupted."
    text = str(error).strip()
    return f"Unexpected {type(error).__name__}" + (f": {text}" if text else "")

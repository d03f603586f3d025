"""The converter panel: build the codec chain, test it on a recent history, apply it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
import pandas as pd

from ..codecs import Chain, as_chain
from ..session import Session
from ._jobs import Job
from ._style import Status, close_tree, esc, style_widget
from .codec_form import KINDS, CodecEntry, CodecForm, snappy_available, test_chain

__all__ = ["CodecPanel", "chain_text"]

_WIDE = w.Layout(width="420px")


def chain_text(chain: Chain) -> str:
    """``AES-GCM (key ids: a, b) → zlib`` or ``the default converter only``."""
    if chain.is_default:
        return "the default converter only (JSON, protobuf, raw bytes)"
    return " → ".join(CodecEntry.of(c).label for c in chain.codecs)


class CodecPanel(w.VBox):
    """Build the chain payloads are decoded with, test it, and apply it to the session.

    >>> CodecPanel(session)

    Args:
        session: The session whose codec is shown and set (``None``: connect first; the
            Workbench passes each new session with :meth:`set_session`).
        user_ns: Where "my codec" names are looked up (default: the notebook's namespace).
        on_apply: Called with the new chain after Apply.
        chain: The chain to start from when there is no session yet.
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        user_ns: Mapping[str, Any] | None = None,
        on_apply: Callable[[Chain], None] | None = None,
        chain: Chain | None = None,
    ) -> None:
        self.session = session
        self.user_ns = user_ns
        self.on_apply = on_apply
        start = chain if chain is not None else (session.codec if session is not None else None)
        self.chain: Chain | None = start
        """The chain last applied (or given); the session's codec once connected."""
        self.form = CodecForm(start)
        self.job: Job[Any] = Job(self._set_busy, name="workbench-codec")
        self.test_frame: pd.DataFrame | None = None

        self.active = w.HTML()
        self.active.add_class("wb-codec-active")
        self.entries_box = w.VBox()
        kinds = [(label, kind) for kind, label in KINDS.items()]
        if not snappy_available():
            kinds = [
                (f"{label} (pip install temporal-workbench[snappy])", kind)
                if kind == "snappy"
                else (label, kind)
                for label, kind in kinds
            ]
        self.kind = w.Dropdown(options=kinds, value="aes-gcm", layout=w.Layout(width="340px"))
        self.kind.add_class("wb-codec-kind")
        self.add_button = w.Button(description="Add", icon="plus")
        self.add_button.add_class("wb-codec-add")
        self.test_id = w.Text(
            placeholder="workflow id (empty: the most recent)", layout=w.Layout(width="300px")
        )
        self.test_id.add_class("wb-codec-test-id")
        self.test_button = w.Button(description="Test", icon="flask")
        self.test_button.add_class("wb-codec-test")
        self.apply_button = w.Button(description="Apply", button_style="primary", icon="check")
        self.apply_button.add_class("wb-codec-apply")
        self.status = Status("")
        self.status.add_class("wb-codec-status")
        self.result = w.HTML()
        self.result.add_class("wb-codec-result")
        self.server: Any = None
        """The codec server started by "Serve to the Web UI" (a ``CodecServer``), if any."""
        self.serve_port = w.BoundedIntText(
            value=8081,
            min=0,
            max=65535,
            description="port",
            layout=w.Layout(width="150px"),
            style={"description_width": "34px"},
        )
        self.serve_port.add_class("wb-codec-serve-port")
        self.serve_origins = w.Text(
            value="http://localhost:8233, http://127.0.0.1:8233",
            description="Web UI at",
            placeholder="the Web UI's origin(s), comma-separated",
            layout=w.Layout(width="420px"),
        )
        self.serve_origins.add_class("wb-codec-serve-origins")
        self.serve_button = w.Button(
            description="Serve to the Web UI", icon="globe", layout=w.Layout(width="190px")
        )
        self.serve_button.add_class("wb-codec-serve")
        self.unserve_button = w.Button(
            description="Stop serving", icon="stop", disabled=True, layout=w.Layout(width="130px")
        )
        self.unserve_button.add_class("wb-codec-unserve")
        self.serve_info = w.HTML()
        self.serve_info.add_class("wb-codec-serve-info")
        self.serve_button.on_click(lambda _b: self.serve())
        self.unserve_button.on_click(lambda _b: self.stop_serving())

        self.add_button.on_click(lambda _b: self.add(self.kind.value))
        self.test_button.on_click(lambda _b: self.test())
        self.apply_button.on_click(lambda _b: self.apply())
        super().__init__(
            [
                style_widget(),
                self.active,
                w.HTML("<div class='wb-h'>Chain (outermost encoding first)</div>"),
                self.entries_box,
                w.HBox([self.kind, self.add_button]),
                w.HBox([self.test_id, self.test_button, self.apply_button]),
                self.status,
                self.result,
                w.HTML(
                    "<div class='wb-h'>Let the Temporal Web UI and CLI decrypt</div>"
                    "<span class='wb-muted'>Serves the active converter as a codec server "
                    "on this machine (127.0.0.1).</span>"
                ),
                w.HBox(
                    [self.serve_port, self.serve_origins, self.serve_button, self.unserve_button],
                    layout=w.Layout(flex_flow="row wrap"),
                ),
                self.serve_info,
            ]
        )
        self.add_class("wb-panel")
        self.add_class("wb-codec-panel")
        self._render_entries()
        self._show_active()

    # -- session --------------------------------------------------------------------------------

    def set_session(self, session: Session) -> None:
        """Work with ``session`` (its codec becomes the chain shown)."""
        self.session = session
        if not self.form.entries:
            self.form = CodecForm(session.codec)
            self._render_entries()
        self._show_active()

    def _show_active(self) -> None:
        if self.session is None:
            self.active.value = (
                "<span class='wb-muted'>Not connected: the chain applies once a session "
                "exists.</span>"
            )
            return
        self.active.value = f"<b>Active converter:</b> {esc(chain_text(self.session.codec))}"

    # -- the chain ------------------------------------------------------------------------------

    def add(self, kind: str) -> CodecEntry:
        """Append a codec of ``kind`` (what the Add button does)."""
        entry = self.form.add(kind)
        self._render_entries()
        return entry

    def _render_entries(self) -> None:
        rows = []
        if not self.form.entries:
            rows.append(
                w.HTML(
                    "<span class='wb-muted'>No codec: payloads are read by the "
                    "default converter. Add one below.</span>"
                )
            )
        for i, entry in enumerate(self.form.entries):
            rows.append(self._entry_row(i, entry))
        old = self.entries_box.children
        self.entries_box.children = rows
        close_tree(old)

    def _entry_row(self, index: int, entry: CodecEntry) -> w.Widget:
        label = w.HTML(f"<b>{index + 1}.</b> {esc(entry.label)}")
        up = w.Button(icon="arrow-up", tooltip="move up", layout=w.Layout(width="34px"))
        down = w.Button(icon="arrow-down", tooltip="move down", layout=w.Layout(width="34px"))
        remove = w.Button(icon="trash", tooltip="remove", layout=w.Layout(width="34px"))
        remove.add_class("wb-codec-remove")
        up.on_click(lambda _b: self._move(index, -1))
        down.on_click(lambda _b: self._move(index, +1))
        remove.on_click(lambda _b: self._remove(index))
        header = w.HBox([label, up, down, remove], layout=w.Layout(align_items="center"))
        editor = self._editor(entry)
        box = w.VBox([header, editor] if editor is not None else [header])
        box.add_class("wb-codec-entry")
        box.add_class(f"wb-codec-entry-{entry.kind}")
        return box

    def _editor(self, entry: CodecEntry) -> w.Widget | None:
        if entry.kind == "aes-gcm":
            return self._aes_editor(entry)
        if entry.kind == "remote":
            return self._remote_editor(entry)
        if entry.kind == "user":
            target = w.Text(
                value=entry.target,
                placeholder="name of a PayloadCodec in the notebook, or module:attribute",
                layout=_WIDE,
            )
            target.add_class("wb-codec-user-target")
            target.observe(lambda c: setattr(entry, "target", c["new"]), "value")
            return target
        return None

    def _aes_editor(self, entry: CodecEntry) -> w.Widget:
        rows: list[w.Widget] = []
        if entry.codec is not None and entry.key_ids:
            rows.append(
                w.HTML(
                    f"<span class='wb-muted'>keys set for: {esc(', '.join(entry.key_ids))} "
                    "(type below to replace the ring)</span>"
                )
            )
        if not entry.keys:
            entry.keys = [("", "")]
        for i, (key_id, typed) in enumerate(entry.keys):
            kid = w.Text(value=key_id, placeholder="key id", layout=w.Layout(width="160px"))
            kid.add_class("wb-codec-key-id")
            key = w.Password(
                # A key typed but not applied yet is kept in the panel, not in the field.
                placeholder="key entered (hidden); type to replace it"
                if typed
                else "key: base64 or hex, or the path of a key file",
                layout=w.Layout(width="360px"),
            )
            key.add_class("wb-codec-key")

            def set_id(change: dict[str, Any], i: int = i) -> None:
                entry.keys[i] = (change["new"], entry.keys[i][1])

            def set_key(change: dict[str, Any], i: int = i) -> None:
                entry.keys[i] = (entry.keys[i][0], change["new"])

            kid.observe(set_id, "value")
            key.observe(set_key, "value")
            rows.append(w.HBox([kid, key]))
        more = w.Button(description="another key", icon="plus", layout=w.Layout(width="140px"))
        more.add_class("wb-codec-more-keys")

        def add_key(_b: Any) -> None:
            entry.keys.append(("", ""))
            self._render_entries()

        more.on_click(add_key)
        rows.append(more)
        return w.VBox(rows, layout=w.Layout(margin="0 0 0 24px"))

    def _remote_editor(self, entry: CodecEntry) -> w.Widget:
        endpoint = w.Text(
            value=entry.endpoint,
            placeholder="https://codec.example.com/{namespace}",
            description="endpoint",
            layout=_WIDE,
        )
        endpoint.add_class("wb-codec-endpoint")
        auth = w.Password(
            placeholder="Authorization value, e.g. Bearer …", description="auth", layout=_WIDE
        )
        auth.add_class("wb-codec-auth")
        headers = w.Textarea(
            placeholder="extra headers, one 'Name: value' per line",
            description="headers",
            layout=w.Layout(width="420px", height="54px"),
        )
        endpoint.observe(lambda c: setattr(entry, "endpoint", c["new"]), "value")
        auth.observe(lambda c: setattr(entry, "auth", c["new"]), "value")

        def set_headers(change: dict[str, Any]) -> None:
            parsed = {}
            for line in str(change["new"]).splitlines():
                name, sep, value = line.partition(":")
                if sep and name.strip():
                    parsed[name.strip()] = value.strip()
            entry.headers = parsed

        headers.observe(set_headers, "value")
        return w.VBox([endpoint, auth, headers], layout=w.Layout(margin="0 0 0 24px"))

    def _move(self, index: int, step: int) -> None:
        self.form.move(index, step)
        self._render_entries()

    def _remove(self, index: int) -> None:
        self.form.remove(index)
        self._render_entries()

    # -- actions --------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        for button in (self.test_button, self.apply_button, self.add_button):
            button.disabled = busy

    def build(self) -> Chain:
        """The chain the entries describe (keys forgotten by the widgets once built)."""
        namespace = self.session.namespace if self.session is not None else ""
        try:
            return self.form.build(self.user_ns, namespace=namespace)
        finally:
            self._render_entries()  # built entries drop their key text from the widgets

    def apply(self, *, wait: bool = False) -> bool:
        """Build the chain and make it the session's codec (what Apply does).

        A bad entry leaves the previous converter active; the status line says why.
        """

        def work(_stop: Any) -> Chain:
            chain = self.build()
            self.chain = chain
            if self.session is not None:
                self.session.codec = as_chain(chain).with_namespace(self.session.namespace)
            return chain

        def done(chain: Chain) -> None:
            self._show_active()
            if self.server is not None and self.server.running:
                self.serve(port=self.server.port)  # serve the new chain on the same port
            where = "" if self.session is not None else " (connect to use it)"
            self.status.show(f"Applied: {chain_text(chain)}{where}.", "ok")
            if self.on_apply is not None:
                self.on_apply(chain)

        def failed(error: BaseException) -> None:
            self._render_entries()
            active = chain_text(self.session.codec) if self.session is not None else "none"
            self.status.show(
                f"Not applied: {_words(error)} The previous converter still applies ({active}).",
                "error",
            )

        self.status.show("Applying …", "busy")
        started = self.job.start(work, done=done, failed=failed)
        if wait:
            self.job.wait()
        return started

    def serve(self, *, port: int | None = None) -> bool:
        """Serve the active converter to the Web UI and the CLI (what the Serve button does).

        Shows the URL and what to enter in the Web UI's codec settings; a server already
        started by this panel is replaced (same port unless ``port`` says otherwise).
        """
        chain = self.session.codec if self.session is not None else self.chain
        if chain is None or chain.is_default:
            self.serve_info.value = (
                "<span class='wb-error'>Apply a converter first: the default converter alone "
                "has nothing to decrypt for the Web UI.</span>"
            )
            return False
        from ..server import serve_codec

        self.stop_serving()
        chosen = self.serve_port.value if port is None else port
        try:
            server = serve_codec(chain, port=chosen, origins=_origins(self.serve_origins.value))
        except Exception as e:  # a taken port, a bad origin: said in the panel
            self.serve_info.value = f"<span class='wb-error'>Not serving: {esc(_words(e))}</span>"
            return False
        self.server = server
        self.serve_port.value = server.port
        self.unserve_button.disabled = False
        self.serve_info.value = (
            f"<span class='wb-ok'>Serving {esc(chain_text(chain))} at "
            f"<b>{esc(server.url)}</b></span>"
            "<div class='wb-muted'>In the Web UI, open the Codec Server settings (the icon in "
            "the top bar) and enter:</div>"
            f"<pre>{esc(server.ui_instructions())}</pre>"
        )
        return True

    def stop_serving(self) -> None:
        """Stop the codec server this panel started (if any)."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.unserve_button.disabled = True
        self.serve_info.value = ""

    def test(self, *, wait: bool = False) -> bool:
        """Decode a recent history with the chain as built now, without applying it."""
        if self.session is None:
            self.status.show("Connect first: the test reads a recent history.", "error")
            return False
        session = self.session
        workflow_id = self.test_id.value.strip() or None

        def work(_stop: Any) -> tuple[str, pd.DataFrame]:
            return test_chain(session, self.build(), workflow_id=workflow_id)

        def done(result: tuple[str, pd.DataFrame]) -> None:
            summary, frame = result
            self.test_frame = frame
            bad = int((~frame["ok"]).sum()) if len(frame) else 0
            self.status.show(summary, "error" if bad else "ok")
            self.result.value = _before_after_html(frame)

        def failed(error: BaseException) -> None:
            self.status.show(f"Test failed: {_words(error)}", "error")

        self.status.show("Testing on a recent history …", "busy")
        started = self.job.start(work, done=done, failed=failed)
        if wait:
            self.job.wait()
        return started


def _origins(text: str) -> list[str]:
    return [o.strip().rstrip("/") for o in text.replace(";", ",").split(",") if o.strip()]


def _words(error: BaseException) -> str:
    from ._style import describe_error

    text = describe_error(error)
    return text if text.endswith(".") else text + "."


def _before_after_html(frame: pd.DataFrame, limit: int = 60) -> str:
    if frame.empty:
        return "<span class='wb-muted'>That history has no payloads.</span>"
    rows = []
    for row in frame.head(limit).itertuples(index=False):
        cls = "" if row.ok else " class='wb-error'"
        after = row.after if len(row.after) <= 300 else row.after[:299] + "…"
        rows.append(
            f"<tr><td>{row.event_id}</td><td>{esc(row.path)}</td><td>{esc(row.before)}</td>"
            f"<td{cls}><code>{esc(after)}</code></td></tr>"
        )
    more = (
        f"<div class='wb-muted'>… and {len(frame) - limit} more</div>" if len(frame) > limit else ""
    )
    return (
        "<table class='wb-kv wb-before-after'><tr><th>event</th><th>path</th><th>before</th>"
        f"<th>after</th></tr>{''.join(rows)}</table>{more}"
    )

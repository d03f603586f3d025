"""The connection panel: address, namespace, TLS / mutual TLS, API key, profile → a Session."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from ..errors import SettingsError
from ..session import Session
from ._jobs import Job
from ._style import Status, esc, style_widget
from .connect_form import PATH_FIELDS, ConnectForm, PathCheck, profile_names

__all__ = ["ConnectionPanel"]

_LABELS = {
    "address": "Address",
    "namespace": "Namespace",
    "ca_cert_path": "CA certificate",
    "client_cert_path": "Client certificate",
    "client_key_path": "Client key",
    "server_name": "Server name",
}
_PLACEHOLDERS = {
    "address": "host:port, e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233",
    "namespace": "default",
    "ca_cert_path": "PEM file (empty: the system's trusted roots)",
    "client_cert_path": "PEM file, for mutual TLS",
    "client_key_path": "PEM file, the client certificate's key",
    "server_name": "override when the certificate names another host",
}


def _describe(session: Session) -> str:
    info = session.server_info
    ns = info.namespace
    retention = f"{ns.retention.days} days" if ns.retention else "unset"
    version = info.server_version or "(version not reported)"
    return (
        f"Connected to Temporal {esc(version)} at <b>{esc(info.address)}</b>, namespace "
        f"<b>{esc(ns.name)}</b> ({esc(ns.state.lower() or 'state unknown')}, retention "
        f"{esc(retention)})"
    )


class ConnectionPanel(w.VBox):
    """Collects connection settings and opens a :class:`~workbench.Session`.

    >>> panel = ConnectionPanel()      # prefilled from the environment and temporal.toml
    >>> panel                          # fill in, press Connect
    >>> panel.session                  # the Session, once connected

    Args:
        env: The environment to prefill from (default ``os.environ``).
        on_connect: Called with each new Session (the Workbench hands it to the other panels).
        codec: The codec new sessions get.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        on_connect: Callable[[Session], None] | None = None,
        codec: Any = None,
    ) -> None:
        self.form = ConnectForm.from_environment(env)
        self.session: Session | None = None
        self.codec = codec
        self._listeners: list[Callable[[Session], None]] = [on_connect] if on_connect else []
        self.job: Job[Session] = Job(self._set_busy, name="workbench-connect")
        self._clearing = False
        self._owned: list[Session] = []  # the sessions this panel opened (and may close)

        names = profile_names(self.form.env)
        self.profile = w.Dropdown(
            options=[("(environment)", "")] + [(n, n) for n in names],
            value=self.form.profile if self.form.profile in names else "",
            description="Profile",
            disabled=not names,
        )
        self.profile.add_class("wb-conn-profile")
        self.fields: dict[str, w.Text] = {}
        self.messages: dict[str, w.HTML] = {}
        rows: list[w.Widget] = [self.profile]
        for name in ("address", "namespace"):
            rows.append(self._text_row(name))
        self.tls = w.Checkbox(value=self.form.tls, description="TLS", indent=True)
        self.tls.add_class("wb-conn-tls")
        self._tls_touched = False
        rows.append(self.tls)
        for name in ("ca_cert_path", "client_cert_path", "client_key_path", "server_name"):
            rows.append(self._text_row(name))
        self.api_key = w.Password(
            description="API key",
            placeholder="Temporal Cloud API key (cleared after connecting)",
            layout=w.Layout(width="560px"),
            style={"description_width": "130px"},
        )
        self.api_key.add_class("wb-conn-api_key")
        rows.append(self.api_key)
        self.connect_button = w.Button(description="Connect", button_style="primary", icon="plug")
        self.connect_button.add_class("wb-conn-connect")
        self.status = Status("Not connected.")
        self.status.add_class("wb-conn-status")
        rows += [self.connect_button, self.status]

        self._show_form()
        self.profile.observe(self._on_profile, "value")
        self.tls.observe(self._on_tls, "value")
        self.api_key.observe(self._on_api_key, "value")
        self.connect_button.on_click(lambda _b: self.connect())
        super().__init__([style_widget(), *rows])
        self.add_class("wb-panel")
        self.add_class("wb-connection-panel")

    # -- building -------------------------------------------------------------------------------

    def _text_row(self, name: str) -> w.Widget:
        text = w.Text(
            description=_LABELS[name],
            placeholder=_PLACEHOLDERS[name],
            layout=w.Layout(width="560px"),
            style={"description_width": "130px"},
        )
        text.add_class(f"wb-conn-{name}")
        message = w.HTML()
        message.add_class("wb-fieldmsg")
        message.add_class(f"wb-conn-{name}-msg")
        self.fields[name] = text
        self.messages[name] = message
        text.observe(lambda change, n=name: self._on_field(n, change["new"]), "value")
        return w.HBox([text, message], layout=w.Layout(align_items="center"))

    def _show_form(self) -> None:
        form = self.form
        for name, text in self.fields.items():
            text.value = getattr(form, name)
        self.tls.value = form.tls
        self._tls_touched = False
        hint = form.sources.get("api_key")
        self.api_key.placeholder = (
            f"using the key from {hint} (type here to use another)"
            if form.inherited_api_key and hint
            else "Temporal Cloud API key (cleared after connecting)"
        )
        for name in self.fields:
            self._show_source(name)
        self._check_all_paths()

    def _show_source(self, name: str) -> None:
        source = self.form.sources.get(name)
        value = getattr(self.form, name)
        message = self.messages[name]
        if name in PATH_FIELDS and value:
            return  # the path check speaks for it
        if source and (value or source.startswith("inline")):
            message.value = f"<span class='wb-muted'>from {esc(source)}</span>"
        else:
            message.value = ""

    # -- callbacks ------------------------------------------------------------------------------

    def _on_field(self, name: str, value: str) -> None:
        setattr(self.form, name, value)
        if name in PATH_FIELDS:
            if value.strip() and not self.tls.value and not self._tls_touched:
                self.tls.value = True  # a certificate means TLS
            self._check_all_paths()
        else:
            self.messages[name].value = ""

    def _check_all_paths(self) -> None:
        for name in PATH_FIELDS:
            self._show_check(name, self.form.check_path(name))

    def _show_check(self, name: str, check: PathCheck) -> None:
        message = self.messages[name]
        if check.ok is None:
            self._show_source(name)
        elif check.ok:
            message.value = f"<span class='wb-ok'>✓ {esc(check.message)}</span>"
        else:
            message.value = f"<span class='wb-error'>✗ {esc(check.message)}</span>"

    def _on_tls(self, change: dict[str, Any]) -> None:
        self.form.tls = bool(change["new"])
        self._tls_touched = True

    def _on_api_key(self, change: dict[str, Any]) -> None:
        if self._clearing:
            return  # the field is emptied after use; the form keeps the key for reconnects
        self.form.api_key = change["new"] or ""
        if self.form.api_key and not self._tls_touched and not self.tls.value:
            self.tls.value = True  # an API key means TLS, as in the library
            self._tls_touched = False

    def _on_profile(self, change: dict[str, Any]) -> None:
        name = change["new"]
        try:
            if name:
                self.form.fill(profile=name, use_env=False)
            else:
                self.form.fill()
        except SettingsError as e:
            self.status.error(e)
            return
        self._show_form()
        self.status.show(
            f"Filled from profile {name}." if name else "Filled from the environment.", "idle"
        )

    def _set_busy(self, busy: bool) -> None:
        self.connect_button.disabled = busy
        self.connect_button.description = "Connecting…" if busy else "Connect"

    # -- actions --------------------------------------------------------------------------------

    def on_connect(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback(session)`` after each successful connection."""
        self._listeners.append(callback)

    def connect(self, *, wait: bool = False) -> bool:
        """Connect with the fields' values (what the Connect button does).

        Runs off the kernel's main thread with the connect timeout. Returns ``False`` if a
        connection attempt is already running. With ``wait=True``, returns when it is done.
        """
        try:
            settings = self.form.settings()
        except SettingsError as e:
            self.status.error(e)
            self._clear_api_key()
            return True
        self.status.show(
            f"Connecting to {settings.address} (namespace {settings.namespace}) …", "busy"
        )
        codec = (
            self.codec
            if self.codec is not None
            else (self.session.codec if self.session is not None else None)
        )
        started = self.job.start(
            lambda _stop: Session(settings, codec=codec),
            done=self._connected,
            failed=self._failed,
        )
        if started:
            self._clear_api_key()
        if wait:
            self.job.wait()
        return started

    def _clear_api_key(self) -> None:
        # The typed key lives on in the form (for the next Connect, e.g. to another namespace)
        # and in the session's settings: not in the widget, so not in a saved notebook.
        if not self.api_key.value:
            return
        self._clearing = True
        try:
            self.api_key.value = ""
        finally:
            self._clearing = False
        self.api_key.placeholder = "using the key typed before (type here to use another)"

    def _connected(self, session: Session) -> None:
        old, self.session = self.session, session
        self._owned.append(session)
        self.status.show(_describe(session), "ok", html_text=True)
        for listener in self._listeners:
            listener(session)  # the Workbench stops the other panels' work on the old session
        if old is not None and old is not session and any(s is old for s in self._owned):
            # Only a session this panel opened: one the notebook passed in is the notebook's.
            self._owned = [s for s in self._owned if s is not old]
            old.close()

    def _failed(self, error: BaseException) -> None:
        self.status.error(error)

    @property
    def environment(self) -> Mapping[str, str]:
        """The environment the form was filled from."""
        return self.form.env if self.form.env is not None else os.environ

"""What the connection panel holds and does, as plain Python (tested without Jupyter).

The form is prefilled the way :func:`workbench.connect` reads settings: the environment (both
the CLI's ``TEMPORAL_TLS_*`` names and the mTLS tutorial's) over the ``temporal.toml`` profile
over the defaults. Secrets found there (an API key, inline key data) are *not* copied into the
form: the form says where they come from and :meth:`ConnectForm.settings` picks them up again,
so they never sit in a widget's saved state.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SettingsError
from ..settings import ConnectionSettings, TLSSettings, _read_toml, default_config_file
from ..tls import load_tls_material

__all__ = ["ConnectForm", "PathCheck", "profile_names"]

PATH_FIELDS = ("ca_cert_path", "client_cert_path", "client_key_path")
_CONFIG_ENV = ("TEMPORAL_CONFIG_FILE", "XDG_CONFIG_HOME", "APPDATA")


@dataclass
class PathCheck:
    """The verdict on one path field: ``ok`` (None when empty) and a message to show."""

    ok: bool | None
    message: str = ""


def profile_names(env: Mapping[str, str] | None = None) -> list[str]:
    """Profiles of the config file the CLI would read (``[]`` if there is none or it is bad)."""
    environ = os.environ if env is None else env
    path = Path(environ.get("TEMPORAL_CONFIG_FILE") or default_config_file(environ)).expanduser()
    if not path.is_file():
        return []
    try:
        profiles = _read_toml(path).get("profile", {})
    except SettingsError:
        return []
    return sorted(profiles) if isinstance(profiles, dict) else []


@dataclass
class ConnectForm:
    """The fields of the connection panel and what they become.

    Attributes are the panel's fields, as text (empty = not set). ``api_key`` holds only what
    the person typed; a key from the environment or the profile stays there.
    """

    address: str = ""
    namespace: str = ""
    profile: str = ""
    tls: bool = False
    ca_cert_path: str = ""
    client_cert_path: str = ""
    client_key_path: str = ""
    server_name: str = ""
    api_key: str = field(default="", repr=False)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    sources: dict[str, str] = field(default_factory=dict)
    """Where each prefilled value came from (``"TEMPORAL_ADDRESS"``, ``"profile prod"``)."""
    base: ConnectionSettings | None = field(default=None, repr=False)
    """The settings the form was filled from (inline TLS data and secrets live here)."""

    # -- filling --------------------------------------------------------------------------------

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, *, profile: str | None = None
    ) -> ConnectForm:
        """A form prefilled from ``env`` and the (named or default) profile.

        A profile or config file that cannot be read leaves the defaults in place; the error
        shows when connecting.
        """
        environ = dict(os.environ if env is None else env)
        form = cls(env=environ)
        form.fill(profile=profile)
        return form

    def fill(self, *, profile: str | None = None, use_env: bool = True) -> None:
        """Fill the fields from a profile (and the environment unless ``use_env=False``).

        Choosing a profile in the panel calls this with ``use_env=False``: the person asked for
        that profile's values.

        Raises:
            SettingsError: The profile cannot be read (the fields are left as they were).
        """
        env = self.env if use_env else {k: v for k, v in self.env.items() if k in _CONFIG_ENV}
        if profile is None and not use_env:
            profile = "default"
        try:
            loaded = ConnectionSettings.load(profile=profile or None, env=env)
        except SettingsError:
            if profile:
                raise
            loaded = ConnectionSettings()
        self.base = loaded
        self.profile = loaded.profile or (profile or "")
        self.address = loaded.address
        self.namespace = loaded.namespace
        tls = loaded.tls
        self.tls = loaded.use_tls
        self.ca_cert_path = (tls.ca_cert_path or "") if tls else ""
        self.client_cert_path = (tls.client_cert_path or "") if tls else ""
        self.client_key_path = (tls.client_key_path or "") if tls else ""
        self.server_name = (tls.server_name or "") if tls else ""
        self.api_key = ""
        self.sources = self._sources(loaded, env)

    def _sources(self, loaded: ConnectionSettings, env: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        where = f"profile {loaded.profile}" if loaded.profile else ""
        names = {
            "address": ("TEMPORAL_ADDRESS",),
            "namespace": ("TEMPORAL_NAMESPACE",),
            "api_key": ("TEMPORAL_API_KEY",),
            "ca_cert_path": (
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
                "TEMPORAL_SERVER_ROOT_CA_CERT_PATH",
            ),
            "client_cert_path": ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_CLIENT_CERT_PATH"),
            "client_key_path": ("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_CLIENT_KEY_PATH"),
            "server_name": ("TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_SERVER_NAME_OVERRIDE"),
        }
        for name, variables in names.items():
            found = next((v for v in variables if env.get(v)), None)
            if found:
                out[name] = found
            elif where:
                out[name] = where
        tls = loaded.tls
        if tls is not None:
            for name in ("ca_cert", "client_cert", "client_key"):
                if getattr(tls, f"{name}_data"):
                    out[f"{name}_path"] = f"inline data ({where or 'environment'})"
        if loaded.api_key and "api_key" not in out:
            out["api_key"] = where or "environment"
        if not loaded.api_key:
            out.pop("api_key", None)
        return out

    @property
    def inherited_api_key(self) -> bool:
        """Whether an API key from the environment or profile applies (none typed)."""
        return bool(not self.api_key and self.base is not None and self.base.api_key)

    # -- checking -------------------------------------------------------------------------------

    def check_path(self, name: str) -> PathCheck:
        """Check one path field with the library's own checks (exists, is PEM).

        The client certificate and key are also checked as a pair once both are given (the
        key belongs to the certificate, the certificate is valid now): the verdict on the pair
        is reported on the key field.
        """
        value = getattr(self, name).strip()
        if not value:
            if name in ("client_cert_path", "client_key_path"):
                other = "client_key_path" if name == "client_cert_path" else "client_cert_path"
                if getattr(self, other).strip():
                    what = "key" if name == "client_key_path" else "certificate"
                    return PathCheck(False, f"mutual TLS needs the client {what} too")
            return PathCheck(None)
        try:
            if name == "ca_cert_path":
                load_tls_material(TLSSettings(ca_cert_path=value))
                return PathCheck(True, "PEM certificate")
            if name == "client_cert_path":
                return _check_cert_file(value)
            cert = self.client_cert_path.strip()
            if not cert:
                return _check_key_file(value)
            # Both given: the library's own pair check (the key belongs to the certificate,
            # the certificate is valid now).
            load_tls_material(TLSSettings(client_cert_path=cert, client_key_path=value))
            return PathCheck(True, "PEM private key, matches the certificate")
        except SettingsError as e:  # TLSMaterialError included
            return PathCheck(False, str(e))

    def check_paths(self) -> dict[str, PathCheck]:
        """:meth:`check_path` of every path field."""
        return {name: self.check_path(name) for name in PATH_FIELDS}

    # -- result ---------------------------------------------------------------------------------

    def settings(self) -> ConnectionSettings:
        """The settings the form describes (secrets from the environment/profile included).

        Raises:
            SettingsError: A field is malformed (the message names it).
        """
        base_tls = self.base.tls if self.base is not None else None
        tls: TLSSettings
        if not self.tls:
            tls = TLSSettings(enabled=False)
        else:
            kept: dict[str, object] = {}
            if base_tls is not None:
                kept["disable_host_verification"] = base_tls.disable_host_verification
                for name in ("ca_cert", "client_cert", "client_key"):
                    data = getattr(base_tls, f"{name}_data")
                    if data and not getattr(self, f"{name}_path").strip():
                        kept[f"{name}_data"] = data
            tls = TLSSettings(
                enabled=True,
                ca_cert_path=self.ca_cert_path.strip() or None,
                client_cert_path=self.client_cert_path.strip() or None,
                client_key_path=self.client_key_path.strip() or None,
                server_name=self.server_name.strip() or None,
                **kept,  # type: ignore[arg-type]
            )
        if self.base is not None and self.profile == (self.base.profile or ""):
            # Start from what the form was filled from, so grpc_meta, codec settings and
            # secrets the form does not show still apply.
            start = self.base
        else:
            env = self.env
            start = ConnectionSettings.load(profile=self.profile or None, env=env)
        return dataclasses.replace(
            start,
            address=self.address.strip() or start.address,
            namespace=self.namespace.strip() or start.namespace,
            tls=tls,
            api_key=self.api_key.strip() or start.api_key,
        )

    def connect(self, *, codec: object = None) -> object:
        """Open and check a :class:`~workbench.Session` with these settings.

        Raises:
            WorkbenchError: Why it could not connect, in the library's words.
        """
        from ..session import Session

        settings = self.settings()
        return Session(settings, codec=codec)  # type: ignore[arg-type]


def _check_cert_file(path: str) -> PathCheck:
    import datetime as dt

    from ..tls import _certificates, _read

    pem, where = _read("client_cert", path, None)
    assert pem is not None
    certs = _certificates("client_cert", where, pem)
    leaf = certs[0]
    subject = leaf.subject.rfc4514_string() or "(no subject)"
    if leaf.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        return PathCheck(
            False,
            f"client certificate {subject!r} expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} "
            "UTC; the server will refuse it. Get a renewed certificate.",
        )
    return PathCheck(
        True, f"certificate {subject}, valid until {leaf.not_valid_after_utc:%Y-%m-%d}"
    )


def _check_key_file(path: str) -> PathCheck:
    from ..tls import _private_key, _read

    pem, where = _read("client_key", path, None)
    assert pem is not None
    _private_key(where, pem)
    return PathCheck(True, "PEM private key")

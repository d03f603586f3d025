"""Connection settings: frozen dataclasses, loaded the way the ``temporal`` CLI loads them.

Precedence, highest first (as in the CLI and ``temporalio.envconfig``):

1. explicit arguments (``workbench.connect(address=..., ...)``);
2. environment variables (``TEMPORAL_ADDRESS``, ``TEMPORAL_TLS_*``, ... and the names of
   Temporal's mTLS tutorial, ``TEMPORAL_CLIENT_CERT_PATH`` etc.);
3. the selected profile of the TOML config file (``TEMPORAL_CONFIG_FILE`` or
   ``~/.config/temporalio/temporal.toml``);
4. defaults: ``localhost:7233``, namespace ``default``, no TLS.

The standard part of a profile is read by ``temporalio.envconfig`` (the SDK's own loader); the
parts it drops (``[profile.X.codec]`` and ``tls.disable_host_verification``) are read here.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._redact import REDACTED, is_secret_metadata, redact_metadata
from .errors import ProfileNotFound, SettingsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_NAMESPACE", "ConnectionSettings", "TLSSettings"]

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"

_TRUE = {"1", "t", "true", "yes", "on"}  # "t"/"f": Go's strconv.ParseBool, which the CLI uses
_FALSE = {"0", "f", "false", "no", "off", ""}

# Names from Temporal's mTLS tutorial, mapped to the TLS field they set. The standard
# TEMPORAL_TLS_* name wins when both are set.
_TUTORIAL_ENV = {
    "TEMPORAL_SERVER_ROOT_CA_CERT_PATH": ("ca_cert_path", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
    "TEMPORAL_SERVER_NAME_OVERRIDE": ("server_name", "TEMPORAL_TLS_SERVER_NAME"),
    "TEMPORAL_CLIENT_CERT_PATH": ("client_cert_path", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    "TEMPORAL_CLIENT_KEY_PATH": ("client_key_path", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
}


_ENV_DATA = {
    "ca_cert": "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "client_cert": "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "client_key": "TEMPORAL_TLS_CLIENT_KEY_DATA",
}
_HEADER_NAME = re.compile(r"[0-9a-z_.-]+")


def _check_header_value(label: str, setting: str, value: Any) -> None:
    """gRPC sends text metadata as printable ASCII: say which setting holds anything else
    (without showing the value, which may be a credential)."""
    if not isinstance(value, str):
        raise SettingsError(f"{label} must be a str, not {type(value).__name__}.", setting=setting)
    at = next((i for i, c in enumerate(value) if not " " <= c <= "~"), None)
    if at is not None:
        raise SettingsError(
            f"{label} holds a character gRPC metadata cannot carry (a line break, a control or a "
            f"non-ASCII character) at position {at} of {len(value)}; check the value for stray "
            "characters (a key file's trailing newline is stripped, an inner one is not).",
            setting=setting,
        )


def _checked_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``grpc_meta`` with lowercase keys, each a valid gRPC metadata key, and each value text
    gRPC can send (bytes for ``-bin`` keys)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        name = key.lower() if isinstance(key, str) else key
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            # Shown up to the first character that cannot be in a key: a key pasted with its
            # value ("Authorization: Bearer ...") must not print the value.
            shown = repr(re.split(r"[^0-9A-Za-z_.-]", key)[0]) if isinstance(key, str) else ""
            raise SettingsError(
                f"grpc_meta key {shown or type(key).__name__} ... is not a gRPC metadata key: "
                "use lowercase letters, digits, '-', '_' and '.' only (e.g. 'x-tenant'), and "
                "give the value as the dict's value.",
                setting="grpc_meta",
            )
        label = f"grpc_meta[{name!r}] (TEMPORAL_GRPC_META_{name.upper().replace('-', '_')})"
        if name.endswith("-bin"):
            if not isinstance(value, (bytes, str)):
                raise SettingsError(
                    f"{label} must be bytes (a '-bin' key carries binary values), not "
                    f"{type(value).__name__}.",
                    setting="grpc_meta",
                )
            out[name] = value.encode("utf-8") if isinstance(value, str) else value
            continue
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("latin-1")  # byte for character: checked as text
        _check_header_value(label, "grpc_meta", value)
        out[name] = value
    return out


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "replace")


def _data_repr(value: bytes | str | None, *, secret: bool) -> str:
    if value is None:
        return "None"
    return REDACTED if secret else f"<{len(value)} bytes>"


@dataclass(frozen=True, repr=False)
class TLSSettings:
    """How to speak TLS to the server.

    Each certificate or key is given either as a path or as PEM data, not both.
    """

    enabled: bool = True
    """Whether to use TLS at all. ``TLSSettings(enabled=False)`` forces plaintext even with an
    API key."""
    ca_cert_path: str | None = None
    """PEM file of the CA(s) that signed the server's certificate. Default: the system roots."""
    ca_cert_data: bytes | None = None
    """PEM data of the server CA(s), instead of ``ca_cert_path``."""
    client_cert_path: str | None = None
    """PEM file of the client certificate (chain), for mutual TLS."""
    client_cert_data: bytes | None = None
    """PEM data of the client certificate, instead of ``client_cert_path``."""
    client_key_path: str | None = None
    """PEM file of the client certificate's private key."""
    client_key_data: bytes | None = field(default=None)
    """PEM data of the client private key, instead of ``client_key_path``. Never shown."""
    server_name: str | None = None
    """Server-name override: the name the server's certificate must carry, when it differs from
    the host in the address (SNI and verification both use it)."""
    disable_host_verification: bool = False
    """Do not check that the server certificate names the host dialled. The certificate chain is
    still verified against the CA; only the name check is skipped (the workbench reads the name
    the server's certificate carries and verifies against that)."""

    def __post_init__(self) -> None:
        for name in ("ca_cert", "client_cert", "client_key"):
            path = getattr(self, f"{name}_path")
            if isinstance(path, (str, bytes)) and b"-----BEGIN" in _as_bytes(path):
                # Never echo it: it may be a private key.
                raise SettingsError(
                    f"tls.{name}_path holds PEM text, not the path of a file: pass the text as "
                    f"tls.{name}_data ({_ENV_DATA[name]}) instead, or write it to a file and give "
                    "that file's path.",
                    setting=f"tls.{name}_path",
                )
            if path and getattr(self, f"{name}_data"):
                raise SettingsError(
                    f"tls.{name}_path and tls.{name}_data are both set; give one of them.",
                    setting=f"tls.{name}",
                )
        for name in ("ca_cert_data", "client_cert_data", "client_key_data"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.encode("utf-8"))

    def __repr__(self) -> str:
        parts = [f"enabled={self.enabled!r}"]
        for f in dataclasses.fields(self):
            if f.name == "enabled":
                continue
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            if f.name.endswith("_data"):
                parts.append(f"{f.name}={_data_repr(value, secret=f.name == 'client_key_data')}")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"TLSSettings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def has_client_cert(self) -> bool:
        """Whether a client certificate is configured (mutual TLS)."""
        return bool(self.client_cert_path or self.client_cert_data)

    @property
    def has_client_key(self) -> bool:
        """Whether a client private key is configured."""
        return bool(self.client_key_path or self.client_key_data)


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """Everything needed to open a connection to one namespace of a Temporal cluster.

    Build it with :meth:`load` (arguments, environment, config profile) or directly.
    """

    address: str = DEFAULT_ADDRESS
    """``host:port`` of the Temporal frontend."""
    namespace: str = DEFAULT_NAMESPACE
    """The namespace every call is made in."""
    tls: TLSSettings | None = None
    """TLS settings. ``None`` means: TLS if an API key is set, plaintext otherwise."""
    api_key: str | None = None
    """API key, sent as ``authorization: Bearer <key>``. Never shown."""
    grpc_meta: Mapping[str, str] = field(default_factory=dict)
    """Extra gRPC metadata sent on every call (values of credential headers are never shown)."""
    codec_endpoint: str | None = None
    """Codec server endpoint from the profile (``[profile.X.codec] endpoint``)."""
    codec_auth: str | None = None
    """``Authorization`` value for the codec server. Never shown."""
    connect_timeout: float = 10.0
    """Seconds to wait for the server to answer when connecting."""
    rpc_timeout: float = 60.0
    """Seconds each call may take before it fails with a timeout."""
    profile: str | None = None
    """The config profile these settings were loaded from, if any (informational)."""
    config_file: str | None = None
    """The config file these settings were loaded from, if any (informational)."""

    def __post_init__(self) -> None:
        _check_address(self.address)
        if not self.namespace or not self.namespace.strip():
            raise SettingsError(
                "namespace is empty; set namespace= (or TEMPORAL_NAMESPACE) to the namespace to "
                "explore, e.g. 'default'.",
                setting="namespace",
            )
        for name in ("connect_timeout", "rpc_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise SettingsError(
                    f"{name} must be a positive number of seconds, not {value!r}.", setting=name
                )
        if isinstance(self.api_key, str):
            # A key read from a file or `$(cat key)` often ends in a line break.
            object.__setattr__(self, "api_key", self.api_key.strip() or None)
        if self.api_key is not None:
            _check_header_value("api_key (TEMPORAL_API_KEY)", "api_key", self.api_key)
        object.__setattr__(self, "grpc_meta", _checked_metadata(self.grpc_meta))

    def __repr__(self) -> str:
        parts = [f"address={self.address!r}", f"namespace={self.namespace!r}"]
        if self.tls is not None:
            parts.append(f"tls={self.tls!r}")
        if self.api_key is not None:
            parts.append(f"api_key={REDACTED!r}")
        if self.grpc_meta:
            parts.append(f"grpc_meta={redact_metadata(dict(self.grpc_meta))!r}")
        if self.codec_endpoint:
            parts.append(f"codec_endpoint={self.codec_endpoint!r}")
        if self.codec_auth is not None:
            parts.append(f"codec_auth={REDACTED!r}")
        if self.profile:
            parts.append(f"profile={self.profile!r}")
        return f"ConnectionSettings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def use_tls(self) -> bool:
        """Whether the connection speaks TLS: as set, or on when an API key is given."""
        if self.tls is not None:
            return self.tls.enabled
        return self.api_key is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value these settings hold, for redaction of messages."""
        values = [self.api_key, self.codec_auth]
        values += [v for k, v in self.grpc_meta.items() if is_secret_metadata(k)]
        return tuple(v for v in values if v)

    def replace(self, **changes: Any) -> ConnectionSettings:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(
        cls,
        *,
        profile: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        address: str | None = None,
        namespace: str | None = None,
        tls: TLSSettings | bool | None = None,
        api_key: str | None = None,
        grpc_meta: Mapping[str, str] | None = None,
        codec_endpoint: str | None = None,
        codec_auth: str | None = None,
        connect_timeout: float | None = None,
        rpc_timeout: float | None = None,
    ) -> ConnectionSettings:
        """Load settings from arguments, the environment and a config profile.

        Args:
            profile: Profile name in the config file. Default ``TEMPORAL_PROFILE``, else
                ``"default"``. A profile asked for by name (here or by ``TEMPORAL_PROFILE``)
                must exist.
            config_file: TOML config file. Default ``TEMPORAL_CONFIG_FILE``, else
                ``~/.config/temporalio/temporal.toml``. A file named here must exist.
            env: The environment to read (default ``os.environ``); pass ``{}`` to ignore it.
            address: ``host:port`` of the frontend.
            namespace: Namespace to use.
            tls: ``True``/``False`` to force TLS on or off, or a :class:`TLSSettings`, which
                replaces any TLS settings from the environment or the profile.
            api_key: API key (turns TLS on unless ``tls`` says otherwise).
            grpc_meta: Extra metadata, merged over the profile's and the environment's.
            codec_endpoint: Codec server endpoint.
            codec_auth: ``Authorization`` header value for the codec server.
            connect_timeout: Seconds to wait when connecting.
            rpc_timeout: Seconds each call may take.

        Raises:
            ProfileNotFound: The profile asked for is not in the config file.
            SettingsError: A setting is malformed, or a config file cannot be read.
        """
        environ: Mapping[str, str] = os.environ if env is None else env
        loaded = _load_profile_and_env(profile, config_file, environ)

        tls_settings = loaded.tls
        if isinstance(tls, TLSSettings):
            tls_settings = tls
        elif tls is not None and not isinstance(tls, bool):
            raise SettingsError(
                f"tls must be True, False or a workbench.TLSSettings(...), not "
                f"{type(tls).__name__}; e.g. tls=TLSSettings(ca_cert_path='ca.pem').",
                setting="tls",
            )
        elif tls is not None:
            tls_settings = dataclasses.replace(tls_settings or TLSSettings(), enabled=bool(tls))

        meta = dict(loaded.grpc_meta)
        meta.update({k.lower(): v for k, v in (grpc_meta or {}).items()})

        def pick(explicit: Any, current: Any) -> Any:
            return current if explicit is None else explicit

        return dataclasses.replace(
            loaded,
            address=pick(address, loaded.address),
            namespace=pick(namespace, loaded.namespace),
            tls=tls_settings,
            api_key=pick(api_key, loaded.api_key),
            grpc_meta=meta,
            codec_endpoint=pick(codec_endpoint, loaded.codec_endpoint),
            codec_auth=pick(codec_auth, loaded.codec_auth),
            connect_timeout=pick(connect_timeout, loaded.connect_timeout),
            rpc_timeout=pick(rpc_timeout, loaded.rpc_timeout),
        )


def _check_address(address: str) -> None:
    if not isinstance(address, str):
        raise SettingsError(
            f"address must be a str 'host:port' (e.g. 'localhost:7233'), not "
            f"{type(address).__name__} {address!r}.",
            setting="address",
        )
    if not address.strip():
        raise SettingsError(
            "address is empty; set address= (or TEMPORAL_ADDRESS) to host:port, "
            "e.g. 'localhost:7233'.",
            setting="address",
        )
    if "://" in address:
        raise SettingsError(
            f"address {address!r} has a scheme; give host:port only (e.g. "
            f"'{address.split('://', 1)[1].strip('/')}'), and set tls= for TLS.",
            setting="address",
        )
    host, sep, port = address.rpartition(":")
    if not sep or not host or (host.endswith(":") and not host.startswith("[")):
        raise SettingsError(
            f"address {address!r} has no port; use host:port, e.g. '{address}:7233'.",
            setting="address",
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            f"address {address!r} has an invalid port {port!r}; use host:port with a port "
            "from 1 to 65535.",
            setting="address",
        )


def default_config_file(env: Mapping[str, str]) -> Path:
    """Where the CLI looks for temporal.toml when ``TEMPORAL_CONFIG_FILE`` is unset."""
    if sys.platform == "win32":  # pragma: no cover
        base = Path(env.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":  # pragma: no cover
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "temporalio" / "temporal.toml"


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(
        f"environment variable {name}={raw!r} is not a boolean; use true or false.", setting=name
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            document: dict[str, Any] = tomllib.load(f)
            return document
    except OSError as e:
        raise SettingsError(
            f"config file {str(path)!r} cannot be read ({e.strerror}); check the path "
            "(config_file= or TEMPORAL_CONFIG_FILE).",
            setting="config_file",
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(
            f"config file {str(path)!r} is not valid TOML: {e}. Fix the file or point "
            "TEMPORAL_CONFIG_FILE elsewhere.",
            setting="config_file",
        ) from None


def _source_fields(prefix: str, source: object) -> dict[str, Any]:
    """envconfig gives a Path for ``*_path`` and str/bytes for ``*_data``."""
    if source is None:
        return {}
    if isinstance(source, Path):
        return {f"{prefix}_path": str(source)}
    if isinstance(source, str):
        return {f"{prefix}_data": source.encode("utf-8")}
    if isinstance(source, bytes):
        return {f"{prefix}_data": source}
    return {}


def _load_profile_and_env(
    profile: str | None, config_file: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> ConnectionSettings:
    from temporalio.envconfig import ClientConfigProfile

    profile_named = profile is not None or bool(env.get("TEMPORAL_PROFILE"))
    profile_name = profile or env.get("TEMPORAL_PROFILE") or "default"

    file_named = config_file is not None or bool(env.get("TEMPORAL_CONFIG_FILE"))
    path = Path(config_file or env.get("TEMPORAL_CONFIG_FILE") or default_config_file(env))
    path = path.expanduser()
    if file_named and not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise SettingsError(
            f"config file {str(path)!r} {what}; check config_file= or TEMPORAL_CONFIG_FILE "
            "(the file is usually ~/.config/temporalio/temporal.toml).",
            setting="config_file",
        )
    document = _read_toml(path) if path.is_file() else {}
    profiles = document.get("profile", {})
    if not isinstance(profiles, dict):
        raise SettingsError(
            f"config file {str(path)!r}: 'profile' must be a table of [profile.NAME] sections.",
            setting="config_file",
        )
    raw_profile = profiles.get(profile_name)
    if raw_profile is None and profile_named:
        known = ", ".join(sorted(profiles)) or "none"
        where = str(path) if path.is_file() else f"{path} (no such file)"
        raise ProfileNotFound(
            f"profile {profile_name!r} not found in config file {where}; profiles there: "
            f"{known}. Check profile= / TEMPORAL_PROFILE, or create it with "
            f"'temporal config set --profile {profile_name} --prop address --value HOST:PORT'.",
            profile=profile_name,
            config_file=str(path),
        )
    raw_profile = raw_profile if isinstance(raw_profile, dict) else {}

    # The standard fields, file and environment merged by the SDK's own loader.
    env_for_sdk = {k: v for k, v in env.items() if k not in ("TEMPORAL_PROFILE",)}
    env_for_sdk.pop("TEMPORAL_CONFIG_FILE", None)
    # envconfig takes any TEMPORAL_TLS it cannot read ('', 'maybe') for "TLS on": an empty
    # one is unset, as for every other variable; anything else not a boolean is named.
    if not env.get("TEMPORAL_TLS", "x").strip():
        env_for_sdk.pop("TEMPORAL_TLS", None)
    else:
        tls_flag = _flag(env, "TEMPORAL_TLS")
        if tls_flag is not None:
            env_for_sdk["TEMPORAL_TLS"] = "true" if tls_flag else "false"
    try:
        sdk = ClientConfigProfile.load(
            profile_name if raw_profile else None,
            config_source=path if raw_profile else None,
            disable_file=not raw_profile,
            override_env_vars=env_for_sdk,
        )
    except Exception as e:  # the bridge raises its own ConfigError type
        raise SettingsError(
            f"cannot load profile {profile_name!r} from {str(path)!r}: {e}", setting="profile"
        ) from None

    tls_fields: dict[str, Any] = {}
    tls_configured = False
    if sdk.tls is not None:
        tls_configured = True
        if sdk.tls.disabled is not None:
            tls_fields["enabled"] = not sdk.tls.disabled
        if sdk.tls.server_name:
            tls_fields["server_name"] = sdk.tls.server_name
        tls_fields.update(_source_fields("ca_cert", sdk.tls.server_root_ca_cert))
        tls_fields.update(_source_fields("client_cert", sdk.tls.client_cert))
        tls_fields.update(_source_fields("client_key", sdk.tls.client_private_key))

    # What envconfig drops: tls.disable_host_verification and the [codec] section.
    raw_tls = raw_profile.get("tls")
    if isinstance(raw_tls, dict) and raw_tls.get("disable_host_verification"):
        tls_fields["disable_host_verification"] = True
        tls_configured = True
    env_dhv = _flag(env, "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION")
    if env_dhv is not None:
        tls_fields["disable_host_verification"] = env_dhv
        tls_configured = True
    for name, (tls_field, standard) in _TUTORIAL_ENV.items():
        if env.get(name) and not env.get(standard):
            tls_fields.pop(tls_field.replace("_path", "_data"), None)
            tls_fields[tls_field] = env[name]
            tls_configured = True

    raw_codec = raw_profile.get("codec")
    codec = raw_codec if isinstance(raw_codec, dict) else {}

    return ConnectionSettings(
        address=sdk.address or DEFAULT_ADDRESS,
        namespace=sdk.namespace or DEFAULT_NAMESPACE,
        tls=TLSSettings(**tls_fields) if tls_configured else None,
        api_key=sdk.api_key or None,
        grpc_meta=dict(sdk.grpc_meta),
        codec_endpoint=env.get("TEMPORAL_CODEC_ENDPOINT") or codec.get("endpoint"),
        codec_auth=env.get("TEMPORAL_CODEC_AUTH") or codec.get("auth"),
        profile=profile_name if raw_profile else None,
        config_file=str(path) if raw_profile else None,
    )

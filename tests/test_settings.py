"""Loading settings from arguments, the environment and temporal.toml profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench
from workbench import ConnectionSettings, ProfileNotFound, SettingsError, TLSSettings
from workbench._redact import REDACTED

PROFILE_FILE = """
[profile.default]
address = "file-default:7233"
namespace = "file-ns"

[profile.prod]
address = "prod.example.com:7233"
namespace = "prod-ns"
api_key = "prod-secret-key-1234"

[profile.prod.tls]
server_name = "tls-sample"
disable_host_verification = true
client_cert_path = "/certs/client.pem"
client_key_path = "/certs/client.key"
server_ca_cert_path = "/certs/ca.pem"

[profile.prod.codec]
endpoint = "https://codec.example.com/{namespace}"
auth = "Bearer codec-secret-5678"

[profile.prod.grpc_meta]
x-team = "payments"

[profile.inline.tls]
client_cert_data = "-----BEGIN CERTIFICATE-----\\nAAA\\n-----END CERTIFICATE-----\\n"
client_key_data = "-----BEGIN PRIVATE KEY-----\\nSECRETKEYDATA\\n-----END PRIVATE KEY-----\\n"

[profile.plain]
address = "plain:7233"
api_key = "plain-secret-key-999"
[profile.plain.tls]
disabled = true
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILE_FILE)
    return path


def test_defaults_without_env_or_file(tmp_path: Path) -> None:
    s = ConnectionSettings.load(env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert s.address == "localhost:7233"
    assert s.namespace == "default"
    assert s.use_tls is False
    assert s.api_key is None


def test_default_profile_from_default_file_location(tmp_path: Path) -> None:
    (tmp_path / "temporalio").mkdir()
    (tmp_path / "temporalio" / "temporal.toml").write_text(PROFILE_FILE)
    s = ConnectionSettings.load(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert (s.address, s.namespace) == ("file-default:7233", "file-ns")
    assert s.profile == "default"


def test_named_profile_reads_every_section(config_file: Path) -> None:
    s = ConnectionSettings.load(profile="prod", config_file=config_file, env={})
    assert s.address == "prod.example.com:7233"
    assert s.namespace == "prod-ns"
    assert s.api_key == "prod-secret-key-1234"
    assert s.tls == TLSSettings(
        ca_cert_path="/certs/ca.pem",
        client_cert_path="/certs/client.pem",
        client_key_path="/certs/client.key",
        server_name="tls-sample",
        disable_host_verification=True,
    )
    assert s.use_tls
    # What temporalio.envconfig drops, read by us:
    assert s.codec_endpoint == "https://codec.example.com/{namespace}"
    assert s.codec_auth == "Bearer codec-secret-5678"
    assert s.grpc_meta == {"x-team": "payments"}


def test_profile_chosen_by_env(config_file: Path) -> None:
    s = ConnectionSettings.load(
        env={"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "prod"}
    )
    assert s.address == "prod.example.com:7233"


def test_inline_pem_data_in_profile(config_file: Path) -> None:
    s = ConnectionSettings.load(profile="inline", config_file=config_file, env={})
    assert s.tls is not None
    assert s.tls.client_cert_data is not None
    assert s.tls.client_cert_data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert s.tls.client_key_data is not None
    assert b"SECRETKEYDATA" in s.tls.client_key_data
    assert "SECRETKEYDATA" not in repr(s)
    assert "<redacted>" in repr(s.tls)


def test_tls_disabled_in_profile_beats_api_key(config_file: Path) -> None:
    s = ConnectionSettings.load(profile="plain", config_file=config_file, env={})
    assert s.api_key == "plain-secret-key-999"
    assert s.use_tls is False


def test_missing_named_profile_is_an_error(config_file: Path) -> None:
    with pytest.raises(ProfileNotFound) as e:
        ConnectionSettings.load(profile="staging", config_file=config_file, env={})
    msg = str(e.value)
    assert "'staging'" in msg and str(config_file) in msg
    assert "default, inline, plain, prod" in msg  # lists what exists
    assert e.value.profile == "staging"


def test_missing_profile_named_by_env_is_an_error(config_file: Path) -> None:
    with pytest.raises(ProfileNotFound, match="'qa'"):
        ConnectionSettings.load(
            env={"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "qa"}
        )


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match="does not exist") as e:
        ConnectionSettings.load(config_file=missing, env={})
    assert str(missing) in str(e.value)
    assert e.value.setting == "config_file"


def test_config_file_that_is_a_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="is a directory"):
        ConnectionSettings.load(config_file=str(tmp_path), env={})


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile.x\naddress = 1\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        ConnectionSettings.load(config_file=bad, env={})


def test_every_environment_name(tmp_path: Path) -> None:
    env = {
        "TEMPORAL_ADDRESS": "env-host:7233",
        "TEMPORAL_NAMESPACE": "env-ns",
        "TEMPORAL_API_KEY": "env-secret-key-42",
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": "/env/client.pem",
        "TEMPORAL_TLS_CLIENT_KEY_PATH": "/env/client.key",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/env/ca.pem",
        "TEMPORAL_TLS_SERVER_NAME": "env-name",
        "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true",
        "TEMPORAL_GRPC_META_X_TEAM": "billing",
        "TEMPORAL_CODEC_ENDPOINT": "http://localhost:8081",
        "TEMPORAL_CODEC_AUTH": "Bearer env-codec-secret",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    s = ConnectionSettings.load(env=env)
    assert (s.address, s.namespace, s.api_key) == ("env-host:7233", "env-ns", "env-secret-key-42")
    assert s.tls == TLSSettings(
        enabled=True,
        ca_cert_path="/env/ca.pem",
        client_cert_path="/env/client.pem",
        client_key_path="/env/client.key",
        server_name="env-name",
        disable_host_verification=True,
    )
    assert s.grpc_meta == {"x-team": "billing"}
    assert s.codec_endpoint == "http://localhost:8081"
    assert s.codec_auth == "Bearer env-codec-secret"


def test_mtls_tutorial_environment_names(tmp_path: Path) -> None:
    env = {
        "TEMPORAL_SERVER_ROOT_CA_CERT_PATH": "/tut/ca.pem",
        "TEMPORAL_SERVER_NAME_OVERRIDE": "tls-sample",
        "TEMPORAL_CLIENT_CERT_PATH": "/tut/client.pem",
        "TEMPORAL_CLIENT_KEY_PATH": "/tut/client.key",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    s = ConnectionSettings.load(env=env)
    assert s.use_tls
    assert s.tls == TLSSettings(
        ca_cert_path="/tut/ca.pem",
        client_cert_path="/tut/client.pem",
        client_key_path="/tut/client.key",
        server_name="tls-sample",
    )


def test_standard_env_name_wins_over_tutorial_name(tmp_path: Path) -> None:
    env = {
        "TEMPORAL_CLIENT_CERT_PATH": "/tut/client.pem",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": "/std/client.pem",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    s = ConnectionSettings.load(env=env)
    assert s.tls is not None and s.tls.client_cert_path == "/std/client.pem"


def test_precedence_explicit_over_env_over_file(config_file: Path) -> None:
    env = {
        "TEMPORAL_CONFIG_FILE": str(config_file),
        "TEMPORAL_PROFILE": "prod",
        "TEMPORAL_NAMESPACE": "env-ns",
        "TEMPORAL_TLS_SERVER_NAME": "env-name",
        "TEMPORAL_SERVER_ROOT_CA_CERT_PATH": "/tut/ca.pem",
    }
    s = ConnectionSettings.load(env=env, address="explicit:7233")
    assert s.address == "explicit:7233"  # explicit beats file
    assert s.namespace == "env-ns"  # env beats file
    assert s.api_key == "prod-secret-key-1234"  # file fills the rest
    assert s.tls is not None
    assert s.tls.server_name == "env-name"
    assert s.tls.ca_cert_path == "/tut/ca.pem"  # tutorial env name beats the file
    assert s.tls.client_cert_path == "/certs/client.pem"

    s2 = ConnectionSettings.load(env=env, namespace="explicit-ns", tls=False)
    assert s2.namespace == "explicit-ns"
    assert s2.use_tls is False


def test_api_key_turns_tls_on_unless_tls_is_set(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert ConnectionSettings.load(env=env, api_key="k-123456").use_tls is True
    assert ConnectionSettings.load(env=env, api_key="k-123456", tls=False).use_tls is False
    env_off = {**env, "TEMPORAL_API_KEY": "k-123456", "TEMPORAL_TLS": "false"}
    assert ConnectionSettings.load(env=env_off).use_tls is False


def test_explicit_tls_settings_replace_loaded_ones(config_file: Path) -> None:
    tls = TLSSettings(ca_cert_path="/mine/ca.pem")
    s = ConnectionSettings.load(profile="prod", config_file=config_file, env={}, tls=tls)
    assert s.tls == tls


def test_bad_boolean_env_names_the_variable(tmp_path: Path) -> None:
    env = {"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "maybe", "XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"):
        ConnectionSettings.load(env=env)
    # The SDK's loader takes any TEMPORAL_TLS it cannot read for "TLS on".
    home = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(SettingsError, match="TEMPORAL_TLS='maybe'"):
        ConnectionSettings.load(env={**home, "TEMPORAL_TLS": "maybe"})
    assert not ConnectionSettings.load(env={**home, "TEMPORAL_TLS": ""}).use_tls
    keyed = {**home, "TEMPORAL_API_KEY": "k-1234", "TEMPORAL_TLS": " "}  # empty: as if unset
    assert ConnectionSettings.load(env=keyed).use_tls
    assert not ConnectionSettings.load(env={**keyed, "TEMPORAL_TLS": "off"}).use_tls
    assert ConnectionSettings.load(env={**home, "TEMPORAL_TLS": "yes"}).use_tls
    assert ConnectionSettings.load(env={**home, "TEMPORAL_TLS": "T"}).use_tls  # Go's ParseBool
    assert not ConnectionSettings.load(env={**home, "TEMPORAL_TLS": "f"}).use_tls


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("", "address is empty"),
        ("localhost", "has no port"),
        ("localhost:http", "invalid port"),
        ("localhost:99999", "invalid port"),
        ("https://my-ns.tmprl.cloud:7233", "has a scheme"),
    ],
)
def test_malformed_address(address: str, words: str) -> None:
    with pytest.raises(SettingsError, match=words) as e:
        ConnectionSettings(address=address)
    assert e.value.setting == "address"


def test_arguments_of_the_wrong_type_are_named() -> None:
    for kwargs, setting in [
        ({"tls": "false"}, "tls"),
        ({"tls": {"ca_cert_path": "ca.pem"}}, "tls"),
        ({"address": 7233}, "address"),
    ]:
        with pytest.raises(SettingsError) as e:
            ConnectionSettings.load(env={}, **kwargs)  # type: ignore[arg-type]
        assert e.value.setting == setting and setting in str(e.value)


def test_ipv6_address_is_accepted() -> None:
    assert ConnectionSettings(address="[::1]:7233").address == "[::1]:7233"


def test_empty_namespace_and_bad_timeout() -> None:
    with pytest.raises(SettingsError, match="namespace is empty"):
        ConnectionSettings(namespace=" ")
    with pytest.raises(SettingsError, match="connect_timeout must be a positive number"):
        ConnectionSettings(connect_timeout=0)


def test_path_and_data_both_set_is_an_error() -> None:
    with pytest.raises(SettingsError, match=r"tls.client_key_path and tls.client_key_data"):
        TLSSettings(client_key_path="/k.pem", client_key_data=b"x")


def test_secrets_never_in_repr_or_str(config_file: Path) -> None:
    s = ConnectionSettings.load(
        profile="prod",
        config_file=config_file,
        env={},
        grpc_meta={"Authorization": "Bearer meta-secret-token"},
        tls=TLSSettings(client_key_data=b"-----BEGIN PRIVATE KEY-----\nKEYBYTES\n"),
    )
    for text in (repr(s), str(s), repr(s.tls), f"{s}"):
        for secret in ("prod-secret-key-1234", "codec-secret-5678", "meta-secret", "KEYBYTES"):
            assert secret not in text
    assert "api_key='<redacted>'" in repr(s)
    assert "prod.example.com:7233" in repr(s)  # the non-secret parts are still shown


@pytest.mark.parametrize("field", ["ca_cert", "client_cert", "client_key"])
def test_pem_text_given_as_a_path_is_named_and_never_shown(field: str) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
    with pytest.raises(SettingsError) as e:
        TLSSettings(**{f"{field}_path": pem})  # type: ignore[arg-type]
    assert e.value.setting == f"tls.{field}_path"
    assert f"tls.{field}_data" in str(e.value)
    env_name = f"TEMPORAL_TLS_{'SERVER_CA_CERT' if field == 'ca_cert' else field.upper()}"
    assert f"{env_name}_DATA" in str(e.value)
    assert "TOPSECRET" not in str(e.value) and "TOPSECRET" not in repr(e.value)
    env = {f"{env_name}_PATH": pem}
    with pytest.raises(SettingsError) as e:
        ConnectionSettings.load(address="127.0.0.1:7233", env=env)
    assert "TOPSECRET" not in str(e.value)


def test_api_key_and_metadata_gRPC_cannot_send_are_named() -> None:
    secret = "wb-key\nwith-a-break"
    for kwargs, setting in [
        ({"api_key": secret}, "api_key"),
        ({"api_key": "clé-secrète"}, "api_key"),
        ({"grpc_meta": {"Bad Key": "x"}}, "grpc_meta"),
        ({"grpc_meta": {"x-n": 5}}, "grpc_meta"),
        ({"grpc_meta": {"x-tenant": "a\nb"}}, "grpc_meta"),
    ]:
        with pytest.raises(SettingsError) as e:
            ConnectionSettings.load(address="127.0.0.1:7233", env={}, **kwargs)  # type: ignore[arg-type]
        assert e.value.setting == setting
        assert "with-a-break" not in str(e.value) and "secrète" not in str(e.value)
    # Surrounding whitespace (a key file's newline) is dropped; an empty key is no key.
    assert ConnectionSettings(api_key=" k-1234\n").api_key == "k-1234"
    assert ConnectionSettings(api_key="").api_key is None
    assert not ConnectionSettings(api_key="").use_tls
    # A '-bin' key carries bytes.
    meta = ConnectionSettings(grpc_meta={"x-trace-bin": b"\x00\x01"}).grpc_meta
    assert meta == {"x-trace-bin": b"\x00\x01"}


def test_credential_like_metadata_is_redacted() -> None:
    settings = ConnectionSettings(
        grpc_meta={
            "x-auth-token": "tok-abcdef",
            "x-session-key": "s-abcdef",
            "x-team": "pay",
            "x-routing-key": "eu-west",  # a key, not a credential
        }
    )
    shown = repr(settings)
    assert "tok-abcdef" not in shown and "s-abcdef" not in shown
    assert "'pay'" in shown and "'eu-west'" in shown
    assert set(settings.secrets) >= {"tok-abcdef", "s-abcdef"}
    assert "eu-west" not in settings.secrets
    credentials = [
        *("x-authtoken", "x-accesstoken", "x-sessiontoken", "x-secretkey", "x-privatekey"),
        *("x-private-key", "x-access-key", "x-encryption-key", "x-signing-key", "x-client-key"),
        *("x-passkey", "x-api-key", "api_key", "x-apikey", "x-password", "x-jwt"),
    ]
    ordinary = ["x-routing-key", "x-idempotency-key", "x-author", "x-tenant", "x-request-id"]
    shown = repr(ConnectionSettings(grpc_meta=dict.fromkeys(credentials + ordinary, "v-1234")))
    assert shown.count("'v-1234'") == len(ordinary)
    assert shown.count(REDACTED) == len(credentials)


def test_metadata_key_pasted_with_its_value_is_not_shown() -> None:
    with pytest.raises(SettingsError) as e:
        ConnectionSettings(grpc_meta={"Authorization: Bearer sk-SECRET123": ""})
    assert "SECRET123" not in str(e.value) and "'Authorization'" in str(e.value)
    # ASCII bytes are text gRPC can send.
    assert ConnectionSettings(grpc_meta={"x-tenant": b"abc"}).grpc_meta == {"x-tenant": "abc"}


def test_public_api_is_pinned() -> None:
    """The names a user may import from ``workbench``; changing them is a breaking change."""
    assert set(workbench.__all__) >= {
        "connect",
        "Session",
        "ConnectionSettings",
        "TLSSettings",
        "WorkbenchError",
        "SettingsError",
        "ProfileNotFound",
        "TLSMaterialError",
        "ConnectError",
        "ConnectTimeout",
        "TLSError",
        "AuthError",
        "NamespaceNotFound",
        "NotFound",
        "QueryError",
        "ArgumentError",
        "serve_codec",
        "check_codec_server",
    }
    for name in workbench.__all__:
        assert hasattr(workbench, name), name


def test_import_is_light() -> None:
    """``import workbench`` must not pull in ipywidgets (workers and the sandbox import it)."""
    import subprocess
    import sys

    code = "import sys, workbench; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

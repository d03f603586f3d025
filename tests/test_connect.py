"""Connecting to real servers: plaintext, mutual TLS, API keys, and every way it can go wrong.

Each failure must raise its own WorkbenchError subclass, with words that tell the user what to
change, and must leave the process (a Jupyter kernel, in real life) alive.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from rig import (
    API_KEY,
    ApiKeyFront,
    DevServer,
    SilentServer,
    SlowLink,
    TestCerts,
    TlsFront,
    free_port,
)

import workbench
from workbench import (
    AuthError,
    ConnectError,
    ConnectTimeout,
    NamespaceNotFound,
    TLSError,
    TLSMaterialError,
    TLSSettings,
)


def mtls(certs: TestCerts, **overrides: object) -> TLSSettings:
    fields: dict[str, object] = {
        "ca_cert_path": str(certs.ca_cert),
        "client_cert_path": str(certs.client_cert),
        "client_key_path": str(certs.client_key),
        "server_name": certs.server_name,
    }
    fields.update(overrides)
    return TLSSettings(**fields)  # type: ignore[arg-type]


# -- what works -------------------------------------------------------------------------------


def test_plaintext_connect_reports_server_and_namespace(dev_address: str) -> None:
    with workbench.connect(address=dev_address, namespace="default", env={}) as s:
        info = s.server_info
        assert info.server_version.count(".") >= 2  # e.g. "1.29.0"
        assert info.namespace.name == "default"
        assert info.namespace.state == "Registered"
        assert info.capabilities["count_group_by_execution_status"] is True
        assert "Temporal" in info._repr_markdown_()


def test_connect_from_environment(dev_address: str, tmp_path: Path) -> None:
    env = {
        "TEMPORAL_ADDRESS": dev_address,
        "TEMPORAL_NAMESPACE": "orders",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    with workbench.connect(env=env) as s:
        assert s.namespace == "orders"
        assert s.server_info.namespace.name == "orders"


def test_connect_from_profile(dev_address: str, tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(f'[profile.local]\naddress = "{dev_address}"\nnamespace = "orders"\n')
    with workbench.connect(profile="local", config_file=config, env={}) as s:
        assert s.server_info.namespace.name == "orders"


def test_profile_written_by_the_temporal_cli(dev_server: DevServer, tmp_path: Path) -> None:
    """A profile as `temporal config set` writes it is read the same way by the workbench."""
    config = tmp_path / "temporal.toml"
    env = {"TEMPORAL_CONFIG_FILE": str(config), "PATH": "/usr/bin:/bin"}
    for prop, value in (("address", dev_server.address), ("namespace", "orders")):
        subprocess.run(
            [
                dev_server.binary,
                "config",
                "set",
                "--profile",
                "cli",
                "--prop",
                prop,
                "--value",
                value,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    with workbench.connect(profile="cli", env={"TEMPORAL_CONFIG_FILE": str(config)}) as s:
        assert s.server_info.namespace.name == "orders"


def test_namespaces_frame(dev_address: str) -> None:
    with workbench.connect(address=dev_address, env={}) as s:
        frame = s.namespaces()
    assert {"default", "orders"} <= set(frame["name"])
    assert list(frame.columns[:3]) == ["name", "id", "state"]
    orders = frame.set_index("name").loc["orders"]
    assert orders["state"] == "Registered"
    assert isinstance(orders["retention"], pd.Timedelta)


def test_mutual_tls_with_server_name_override(mtls_front: TlsFront, certs: TestCerts) -> None:
    with workbench.connect(address=mtls_front.address, tls=mtls(certs), env={}) as s:
        assert s.server_info.namespace.name == "default"
    assert any("client" in subject for subject in mtls_front.peer_subjects)


def test_mutual_tls_from_tutorial_env_names(
    mtls_front: TlsFront, certs: TestCerts, tmp_path: Path
) -> None:
    env = {
        "TEMPORAL_ADDRESS": mtls_front.address,
        "TEMPORAL_SERVER_ROOT_CA_CERT_PATH": str(certs.ca_cert),
        "TEMPORAL_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_CLIENT_KEY_PATH": str(certs.client_key),
        "TEMPORAL_SERVER_NAME_OVERRIDE": certs.server_name,
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    with workbench.connect(env=env) as s:
        assert s.server_info.namespace.name == "default"


def test_mutual_tls_with_pem_data(mtls_front: TlsFront, certs: TestCerts) -> None:
    tls = TLSSettings(
        ca_cert_data=certs.ca_cert.read_bytes(),
        client_cert_data=certs.client_cert.read_bytes(),
        client_key_data=certs.client_key.read_bytes(),
        server_name=certs.server_name,
    )
    with workbench.connect(address=mtls_front.address, tls=tls, env={}) as s:
        assert s.server_info.namespace.name == "default"


def test_disable_host_verification_still_checks_the_chain(
    mtls_front: TlsFront, certs: TestCerts
) -> None:
    tls = mtls(certs, server_name=None, disable_host_verification=True)
    with workbench.connect(address=mtls_front.address, tls=tls, env={}) as s:
        assert s.server_info.namespace.name == "default"
    wrong_ca = mtls(
        certs,
        server_name=None,
        disable_host_verification=True,
        ca_cert_path=str(certs.other_ca_cert),
    )
    with pytest.raises(TLSError, match="not trusted"):
        workbench.connect(address=mtls_front.address, tls=wrong_ca, env={})


def test_api_key_is_sent_as_bearer_with_namespace_and_metadata(
    apikey_front: ApiKeyFront,
) -> None:
    apikey_front.reset()
    with workbench.connect(
        address=apikey_front.address,
        namespace="orders",
        api_key=API_KEY,
        tls=False,
        grpc_meta={"X-Team": "payments"},
        env={},
    ) as s:
        assert s.server_info.namespace.name == "orders"
    meta = apikey_front.last_metadata
    assert meta["authorization"] == f"Bearer {API_KEY}"
    assert meta["temporal-namespace"] == "orders"
    assert meta["x-team"] == "payments"


def test_api_key_read_from_a_file_with_its_trailing_newline(
    apikey_front: ApiKeyFront, tmp_path: Path
) -> None:
    """`api_key=open("key").read()` and `TEMPORAL_API_KEY="$(cat key)"`-style values."""
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    apikey_front.reset()
    with workbench.connect(
        address=apikey_front.address, api_key=key_file.read_text(), tls=False, env={}
    ):
        assert apikey_front.last_metadata["authorization"] == f"Bearer {API_KEY}"
    env = {"TEMPORAL_API_KEY": f"  {API_KEY}\r\n", "TEMPORAL_TLS": "false"}
    with workbench.connect(address=apikey_front.address, env=env):
        assert apikey_front.last_metadata["authorization"] == f"Bearer {API_KEY}"


def test_namespace_scoped_key_connects_without_list_namespaces(
    scoped_apikey_front: ApiKeyFront,
) -> None:
    scoped_apikey_front.reset()
    with workbench.connect(
        address=scoped_apikey_front.address, api_key=API_KEY, tls=False, env={}
    ) as s:
        called = [method.rsplit("/", 1)[-1] for method, _ in scoped_apikey_front.calls]
        assert called == ["GetSystemInfo", "DescribeNamespace"]
        assert s.server_info.namespace.name == "default"
        with pytest.raises(AuthError) as e:
            s.namespaces()
    assert "may not list namespaces" in str(e.value)
    assert "server_info.namespace" in str(e.value)


def test_api_key_over_tls(apikey_tls_front: ApiKeyFront, certs: TestCerts) -> None:
    tls = TLSSettings(ca_cert_path=str(certs.ca_cert), server_name=certs.server_name)
    with workbench.connect(address=apikey_tls_front.address, api_key=API_KEY, tls=tls, env={}) as s:
        assert s.server_info.namespace.name == "default"


def test_user_authorization_header_is_not_overridden(apikey_front: ApiKeyFront) -> None:
    with workbench.connect(
        address=apikey_front.address,
        tls=False,
        api_key="ignored-because-user-set-authorization",
        grpc_meta={"authorization": f"Bearer {API_KEY}"},
        env={},
    ) as s:
        assert s.server_info.namespace.name == "default"


# -- what fails, and how it says so ---------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.15, 0.4])
def test_mutual_tls_over_a_slow_link(mtls_front: TlsFront, certs: TestCerts, delay: float) -> None:
    """A server on another continent (300 ms and 800 ms round trips on top of the TLS
    handshake's own) connects: no connection attempt is cut short before connect_timeout."""
    with SlowLink(mtls_front.address, delay) as link:
        started = time.monotonic()
        with workbench.connect(
            address=link.address, tls=mtls(certs), connect_timeout=20, env={}
        ) as s:
            assert "default" in set(s.namespaces()["name"])
        assert time.monotonic() - started > 4 * delay  # the link really was slow


def test_wrong_ca(mtls_front: TlsFront, certs: TestCerts) -> None:
    with pytest.raises(TLSError) as e:
        workbench.connect(
            address=mtls_front.address,
            tls=mtls(certs, ca_cert_path=str(certs.other_ca_cert)),
            env={},
        )
    assert "not trusted" in str(e.value)
    assert "tls.ca_cert_path" in str(e.value)


def test_missing_server_name_override(mtls_front: TlsFront, certs: TestCerts) -> None:
    with pytest.raises(TLSError) as e:
        workbench.connect(address=mtls_front.address, tls=mtls(certs, server_name=None), env={})
    assert "tls.server_name" in str(e.value)
    assert "TEMPORAL_TLS_SERVER_NAME" in str(e.value)


def test_no_client_certificate(mtls_front: TlsFront, certs: TestCerts) -> None:
    tls = TLSSettings(ca_cert_path=str(certs.ca_cert), server_name=certs.server_name)
    with pytest.raises(TLSError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "requires a client certificate" in str(e.value)
    assert "tls.client_cert_path" in str(e.value)


def test_client_certificate_the_server_does_not_trust(
    mtls_front: TlsFront, certs: TestCerts
) -> None:
    tls = mtls(
        certs,
        client_cert_path=str(certs.untrusted_client_cert),
        client_key_path=str(certs.untrusted_client_key),
    )
    with pytest.raises(TLSError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "refused the client certificate" in str(e.value)
    assert str(certs.untrusted_client_cert) in str(e.value)


def test_client_certificate_refusal_over_tls12(
    mtls_front_tls12: TlsFront, certs: TestCerts
) -> None:
    """TLS 1.2 servers answer with precise alerts; they map to the same errors."""
    no_cert = TLSSettings(ca_cert_path=str(certs.ca_cert), server_name=certs.server_name)
    with pytest.raises(TLSError, match="requires a client certificate"):
        workbench.connect(address=mtls_front_tls12.address, tls=no_cert, env={})
    untrusted = mtls(
        certs,
        client_cert_path=str(certs.untrusted_client_cert),
        client_key_path=str(certs.untrusted_client_key),
    )
    with pytest.raises(TLSError, match="refused the client certificate"):
        workbench.connect(address=mtls_front_tls12.address, tls=untrusted, env={})


def test_expired_client_certificate_is_caught_before_dialling(
    mtls_front: TlsFront, certs: TestCerts
) -> None:
    before = mtls_front.handshakes
    tls = mtls(
        certs,
        client_cert_path=str(certs.expired_client_cert),
        client_key_path=str(certs.expired_client_key),
    )
    with pytest.raises(TLSMaterialError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "expired on" in str(e.value)
    assert str(certs.expired_client_cert) in str(e.value)
    assert mtls_front.handshakes == before  # nothing was sent


def test_client_certificate_without_key(mtls_front: TlsFront, certs: TestCerts) -> None:
    tls = mtls(certs, client_key_path=None)
    with pytest.raises(TLSMaterialError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "no client key" in str(e.value)
    assert e.value.setting == "tls.client_key_path"


def test_key_without_certificate(mtls_front: TlsFront, certs: TestCerts) -> None:
    tls = mtls(certs, client_cert_path=None)
    with pytest.raises(TLSMaterialError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "no client certificate" in str(e.value)
    assert e.value.setting == "tls.client_cert_path"


def test_client_cert_without_key_does_not_abort_the_process(
    mtls_front: TlsFront, certs: TestCerts
) -> None:
    """grpcio aborts the whole process on this mistake; a kernel must survive it."""
    code = (
        "import workbench, sys\n"
        "tls = workbench.TLSSettings(client_cert_path=sys.argv[2])\n"
        "try:\n"
        "    workbench.connect(address=sys.argv[1], tls=tls, env={})\n"
        "except workbench.TLSMaterialError as e:\n"
        "    print('caught:', type(e).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, mtls_front.address, str(certs.client_cert)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "caught: TLSMaterialError" in out.stdout


def test_key_that_does_not_match_the_certificate(mtls_front: TlsFront, certs: TestCerts) -> None:
    tls = mtls(certs, client_key_path=str(certs.mismatched_key))
    with pytest.raises(TLSMaterialError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert "does not belong to the certificate" in str(e.value)
    assert str(certs.mismatched_key) in str(e.value)


@pytest.mark.parametrize("field", ["ca_cert_path", "client_cert_path", "client_key_path"])
def test_non_pem_file(mtls_front: TlsFront, certs: TestCerts, field: str) -> None:
    tls = mtls(certs, **{field: str(certs.not_pem)})
    with pytest.raises(TLSMaterialError) as e:
        workbench.connect(address=mtls_front.address, tls=tls, env={})
    assert str(certs.not_pem) in str(e.value)
    assert "is not a PEM" in str(e.value)


def test_unreadable_file(mtls_front: TlsFront, certs: TestCerts, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TLSMaterialError, match="no such file") as e:
        workbench.connect(
            address=mtls_front.address, tls=mtls(certs, ca_cert_path=str(missing)), env={}
        )
    assert str(missing) in str(e.value)
    with pytest.raises(TLSMaterialError, match="is a directory"):
        workbench.connect(
            address=mtls_front.address, tls=mtls(certs, ca_cert_path=str(tmp_path)), env={}
        )


def test_tls_to_a_plaintext_port(dev_address: str, certs: TestCerts) -> None:
    with pytest.raises(TLSError) as e:
        workbench.connect(address=dev_address, tls=True, env={})
    assert "does not speak TLS" in str(e.value)
    assert "tls=False" in str(e.value)


def test_plaintext_to_a_tls_port(mtls_front: TlsFront) -> None:
    with pytest.raises(TLSError) as e:
        workbench.connect(address=mtls_front.address, tls=False, env={})
    assert "speaks TLS" in str(e.value)
    assert "tls=True" in str(e.value)


def test_the_http_port_instead_of_the_grpc_port(dev_server: DevServer) -> None:
    http = f"127.0.0.1:{dev_server.http_port}"
    with pytest.raises(ConnectError) as e:
        workbench.connect(address=http, env={})
    assert "HTTP/1, not gRPC" in str(e.value) and "7233" in str(e.value)


def test_nothing_listening() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ConnectError) as e:
        workbench.connect(address=address, env={})
    assert type(e.value) is ConnectError
    assert "nothing is listening" in str(e.value)
    assert address in str(e.value)


def test_host_that_does_not_resolve() -> None:
    with pytest.raises(ConnectError) as e:
        workbench.connect(address="nonexistent.invalid:7233", env={})
    assert "'nonexistent.invalid'" in str(e.value)
    assert "cannot be resolved" in str(e.value)


def test_namespace_not_found(dev_address: str) -> None:
    with pytest.raises(NamespaceNotFound) as e:
        workbench.connect(address=dev_address, namespace="no-such-ns", env={})
    assert e.value.namespace == "no-such-ns"
    assert "'no-such-ns' does not exist" in str(e.value)
    assert "temporal operator namespace create" in str(e.value)


def test_wrong_api_key(apikey_front: ApiKeyFront) -> None:
    wrong = "definitely-not-the-key-4711"
    with pytest.raises(AuthError) as e:
        workbench.connect(address=apikey_front.address, api_key=wrong, tls=False, env={})
    assert "refused the API key" in str(e.value)
    assert "TEMPORAL_API_KEY" in str(e.value)
    assert e.value.grpc_code == "UNAUTHENTICATED"
    assert wrong not in str(e.value) and wrong not in repr(e.value)


def test_missing_api_key(apikey_front: ApiKeyFront) -> None:
    with pytest.raises(AuthError, match="no API key was sent"):
        workbench.connect(address=apikey_front.address, tls=False, env={})


def test_server_that_never_answers(silent_server: SilentServer) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectTimeout) as e:
        workbench.connect(address=silent_server.address, connect_timeout=1.5, env={})
    elapsed = time.monotonic() - started
    assert elapsed < 30  # a timeout, not a hang (pytest-timeout is the net)
    assert elapsed > 1.4  # connect_timeout is the limit, not some shorter attempt deadline
    assert "did not answer within 1.5 s" in str(e.value)
    assert "connect_timeout" in str(e.value)


def test_errors_are_not_grpc_errors(dev_address: str) -> None:
    """A user catching WorkbenchError catches everything; no grpc type leaks out."""
    import grpc

    with pytest.raises(workbench.WorkbenchError) as e:
        workbench.connect(address=dev_address, namespace="no-such-ns", env={})
    assert not isinstance(e.value, grpc.RpcError)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_no_grpc_log_lines_on_stderr(dev_address: str, mtls_front: TlsFront) -> None:
    """grpc's C-core log lines would land in saved notebook outputs."""
    code = (
        "import workbench, sys\n"
        "for kw in (dict(address=sys.argv[1], tls=True), dict(address=sys.argv[2], tls=False)):\n"
        "    for _ in range(2):\n"
        "        try:\n"
        "            workbench.connect(env={}, **kw)\n"
        "        except workbench.WorkbenchError as e:\n"
        "            print(type(e).__name__)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code, dev_address, mtls_front.address],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.stdout.split() == ["TLSError"] * 4
    assert out.stderr == ""


def test_session_recovers_after_server_restart(make_dev_server: object) -> None:
    server: DevServer = make_dev_server()  # type: ignore[operator]
    with workbench.connect(address=server.address, env={}, connect_timeout=5) as s:
        server.stop()
        with pytest.raises(ConnectError, match="nothing is listening"):
            s.namespaces()
        server.start()
        deadline = time.monotonic() + 20
        while True:  # the channel reconnects on its own, backoff capped at 2 s
            try:
                assert "default" in set(s.namespaces()["name"])
                break
            except ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

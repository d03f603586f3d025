"""The rig itself works, checked with raw grpcio (not the library)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from rig import (
    API_KEY,
    DEV_SEARCH_ATTRIBUTES,
    ApiKeyFront,
    DevServer,
    SilentServer,
    TestCerts,
    TlsFront,
    free_port,
)
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest, OperatorServiceStub
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    WorkflowServiceStub,
)

pytestmark = pytest.mark.timeout(120)

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def mtls_credentials(
    certs: TestCerts,
    *,
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(ca or certs.ca_cert).read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def secure_channel(
    address: str, creds: grpc.ChannelCredentials, server_name: str | None = "tls-sample"
) -> grpc.Channel:
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(address, creds, options=options)


def system_info(
    channel: grpc.Channel, timeout: float = 10.0, metadata: list[tuple[str, str]] | None = None
) -> GetSystemInfoResponse:
    with channel:
        return WorkflowServiceStub(channel).GetSystemInfo(
            GetSystemInfoRequest(), timeout=timeout, metadata=metadata
        )


def rpc_error(fn: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


# ---------------------------------------------------------------------- dev server
def test_dev_server_answers_get_system_info(dev_address: str) -> None:
    resp = system_info(grpc.insecure_channel(dev_address))
    assert resp.server_version


def test_dev_server_has_orders_namespace_and_search_attributes(dev_address: str) -> None:
    with grpc.insecure_channel(dev_address) as ch:
        ns = WorkflowServiceStub(ch).DescribeNamespace(
            DescribeNamespaceRequest(namespace="orders"), timeout=10
        )
        assert ns.namespace_info.name == "orders"
        for namespace in ("default", "orders"):
            sas = OperatorServiceStub(ch).ListSearchAttributes(
                ListSearchAttributesRequest(namespace=namespace), timeout=10
            )
            assert set(DEV_SEARCH_ATTRIBUTES) <= set(sas.custom_attributes)


def test_dev_server_unknown_namespace_is_not_found(dev_address: str) -> None:
    with grpc.insecure_channel(dev_address) as ch:
        err = rpc_error(
            lambda: WorkflowServiceStub(ch).DescribeNamespace(
                DescribeNamespaceRequest(namespace="no-such-ns"), timeout=10
            )
        )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == "Namespace no-such-ns is not found."


@pytest.mark.timeout(180)
def test_dev_server_restart_keeps_data(make_dev_server: Callable[..., DevServer]) -> None:
    server = make_dev_server()
    port = server.port
    server.cli("workflow", "start", "--type", "Foo", "--task-queue", "q", "--workflow-id", "wid")
    server.restart()
    assert server.port == port
    assert server.starts == 2
    out = server.cli("workflow", "describe", "--workflow-id", "wid", "--output", "json").stdout
    assert '"wid"' in out

    # While it is down a call is refused; once back the same channel works again.
    with grpc.insecure_channel(server.address) as ch:
        stub = WorkflowServiceStub(ch)
        stub.GetSystemInfo(GetSystemInfoRequest(), timeout=10)
        server.stop()
        err = rpc_error(lambda: stub.GetSystemInfo(GetSystemInfoRequest(), timeout=10))
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert "Connection refused" in (err.details() or "")
        server.start()
        stub.GetSystemInfo(GetSystemInfoRequest(), timeout=10, wait_for_ready=True)


# ---------------------------------------------------------------------- TLS fronts
def test_mtls_front_with_client_cert(mtls_front: TlsFront, certs: TestCerts) -> None:
    creds = mtls_credentials(certs, cert=certs.client_cert, key=certs.client_key)
    assert system_info(secure_channel(mtls_front.address, creds)).server_version
    assert any("commonName=wb-client" in s for s in mtls_front.peer_subjects)


def test_mtls_front_without_client_cert_fails_and_keeps_serving(
    mtls_front: TlsFront, certs: TestCerts
) -> None:
    errors_before = len(mtls_front.handshake_errors)
    err = rpc_error(
        lambda: system_info(secure_channel(mtls_front.address, mtls_credentials(certs)))
    )
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    wait_until(lambda: len(mtls_front.handshake_errors) > errors_before)
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in mtls_front.handshake_errors[errors_before]

    creds = mtls_credentials(certs, cert=certs.client_cert, key=certs.client_key)
    assert system_info(secure_channel(mtls_front.address, creds)).server_version


@pytest.mark.parametrize(
    ("which", "tls13_detail", "tls12_detail"),
    [
        ("none", "TSI_DATA_CORRUPTED", "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        ("untrusted", "TSI_DATA_CORRUPTED", "TLSV1_ALERT_UNKNOWN_CA"),
        ("expired", "TSI_DATA_CORRUPTED", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    ],
)
def test_mtls_front_bad_client_certs(
    mtls_front: TlsFront,
    mtls_front_tls12: TlsFront,
    certs: TestCerts,
    which: str,
    tls13_detail: str,
    tls12_detail: str,
) -> None:
    pair = {
        "none": (None, None),
        "untrusted": (certs.untrusted_client_cert, certs.untrusted_client_key),
        "expired": (certs.expired_client_cert, certs.expired_client_key),
    }[which]
    for front, detail in ((mtls_front, tls13_detail), (mtls_front_tls12, tls12_detail)):
        creds = mtls_credentials(certs, cert=pair[0], key=pair[1])
        err = rpc_error(lambda: system_info(secure_channel(front.address, creds)))  # noqa: B023
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert detail in (err.details() or ""), err.details()


def test_tls_front_without_client_cert(tls_front_noclient: TlsFront, certs: TestCerts) -> None:
    ch = secure_channel(tls_front_noclient.address, mtls_credentials(certs))
    assert system_info(ch).server_version


@pytest.mark.parametrize(
    ("case", "code", "marker"),
    [
        ("wrong_ca", grpc.StatusCode.UNAVAILABLE, "CERTIFICATE_VERIFY_FAILED"),
        ("no_override", grpc.StatusCode.UNAVAILABLE, "Hostname Verification Check failed"),
        ("tls_to_plaintext", grpc.StatusCode.UNAVAILABLE, "WRONG_VERSION_NUMBER"),
        ("plaintext_to_tls", grpc.StatusCode.UNAVAILABLE, "Socket closed"),
        ("refused", grpc.StatusCode.UNAVAILABLE, "Connection refused"),
        ("unresolvable", grpc.StatusCode.UNAVAILABLE, "nonexistent.invalid"),
        ("mismatched_key", grpc.StatusCode.UNAVAILABLE, "Failed to create security handshaker"),
    ],
)
def test_grpc_error_details_markers(
    case: str,
    code: grpc.StatusCode,
    marker: str,
    tls_front_noclient: TlsFront,
    mtls_front: TlsFront,
    dev_address: str,
    certs: TestCerts,
) -> None:
    """The details substrings the library's error translation relies on (grpcio behaviour)."""
    channels: dict[str, Callable[[], grpc.Channel]] = {
        "wrong_ca": lambda: secure_channel(
            tls_front_noclient.address, mtls_credentials(certs, ca=certs.other_ca_cert)
        ),
        "no_override": lambda: secure_channel(
            tls_front_noclient.address, mtls_credentials(certs), server_name=None
        ),
        "tls_to_plaintext": lambda: secure_channel(dev_address, mtls_credentials(certs)),
        "plaintext_to_tls": lambda: grpc.insecure_channel(tls_front_noclient.address),
        "refused": lambda: grpc.insecure_channel(f"127.0.0.1:{free_port()}"),
        "unresolvable": lambda: grpc.insecure_channel("nonexistent.invalid:7233"),
        "mismatched_key": lambda: secure_channel(
            mtls_front.address,
            mtls_credentials(certs, cert=certs.client_cert, key=certs.mismatched_key),
        ),
    }
    err = rpc_error(lambda: system_info(channels[case]()))
    assert err.code() == code
    assert marker in (err.details() or ""), err.details()


# ---------------------------------------------------------------------- API key fronts
def test_apikey_front_forwards_with_the_right_key(apikey_front: ApiKeyFront) -> None:
    md = [
        ("authorization", f"Bearer {API_KEY}"),
        ("temporal-namespace", "orders"),
        ("x-wb-custom", "hello"),
    ]
    assert system_info(grpc.insecure_channel(apikey_front.address), metadata=md).server_version
    assert apikey_front.last_method == (
        "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"
    )
    assert apikey_front.last_metadata["temporal-namespace"] == "orders"
    assert apikey_front.last_metadata["x-wb-custom"] == "hello"
    assert apikey_front.last_metadata["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", API_KEY])
def test_apikey_front_rejects_bad_keys(apikey_front: ApiKeyFront, auth: str | None) -> None:
    md = [("authorization", auth)] if auth else None
    err = rpc_error(lambda: system_info(grpc.insecure_channel(apikey_front.address), metadata=md))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "invalid API key"


def test_apikey_front_relays_upstream_errors(apikey_front: ApiKeyFront, dev_address: str) -> None:
    req = DescribeNamespaceRequest(namespace="no-such-ns")
    md = [("authorization", f"Bearer {API_KEY}")]
    with grpc.insecure_channel(dev_address) as direct_ch:
        direct = rpc_error(
            lambda: WorkflowServiceStub(direct_ch).DescribeNamespace(req, timeout=10)
        )
    with grpc.insecure_channel(apikey_front.address) as ch:
        relayed = rpc_error(
            lambda: WorkflowServiceStub(ch).DescribeNamespace(req, timeout=10, metadata=md)
        )
        ok = WorkflowServiceStub(ch).DescribeNamespace(
            DescribeNamespaceRequest(namespace="orders"), timeout=10, metadata=md
        )
    assert ok.namespace_info.name == "orders"
    assert relayed.code() == direct.code() == grpc.StatusCode.NOT_FOUND
    assert relayed.details() == direct.details()
    direct_status = dict(direct.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    relayed_status = dict(relayed.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    assert direct_status and relayed_status == direct_status


def test_apikey_tls_front(apikey_tls_front: ApiKeyFront, certs: TestCerts) -> None:
    md = [("authorization", f"Bearer {API_KEY}")]
    ch = secure_channel(apikey_tls_front.address, mtls_credentials(certs))
    assert system_info(ch, metadata=md).server_version
    # Call credentials attach the same header (grpcio refuses them on insecure channels).
    creds = grpc.composite_channel_credentials(
        mtls_credentials(certs), grpc.access_token_call_credentials(API_KEY)
    )
    assert system_info(secure_channel(apikey_tls_front.address, creds)).server_version
    assert apikey_tls_front.last_metadata["authorization"] == f"Bearer {API_KEY}"


# ---------------------------------------------------------------------- silent server
def test_silent_server_times_out(silent_server: SilentServer) -> None:
    before = silent_server.accepted
    start = time.monotonic()
    err = rpc_error(lambda: system_info(grpc.insecure_channel(silent_server.address), timeout=1))
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.details() == "Deadline Exceeded"
    assert time.monotonic() - start < 5
    wait_until(lambda: silent_server.accepted > before)

"""The panels driven as a person would (set values, click), without a browser, against the real
dev server and histories written by a real worker under AES-GCM(zlib)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from conftest import UI_FAILED, UI_RUNS

import workbench
from workbench import codecs
from workbench.ui import CodecPanel, ConnectionPanel, HistoryPanel, Workbench, WorkflowsPanel


@pytest.fixture
def session(ui_data: dict[str, Any]) -> Iterator[workbench.Session]:
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        yield s


def _env(address: str) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "default", "HOME": "/nonexistent"}


def test_connection_panel_prefills_from_env_and_connects(ui_data: dict[str, Any]) -> None:
    panel = ConnectionPanel(env=_env(ui_data["address"]))
    assert panel.fields["address"].value == ui_data["address"]
    assert "TEMPORAL_ADDRESS" in panel.messages["address"].value
    assert panel.tls.value is False
    seen: list[workbench.Session] = []
    panel.on_connect(seen.append)
    panel.connect_button.click()
    assert panel.connect_button.disabled  # busy while connecting
    panel.job.wait(30)
    assert not panel.connect_button.disabled
    assert panel.status.state == "ok", panel.status.text
    assert "namespace" in panel.status.value and "default" in panel.status.value
    assert "retention" in panel.status.value
    assert seen and seen[0] is panel.session
    panel.session.close()


def test_connection_panel_says_what_is_wrong(ui_data: dict[str, Any]) -> None:
    panel = ConnectionPanel(env=_env(ui_data["address"]))
    panel.fields["namespace"].value = "no-such-namespace"
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert "no-such-namespace" in panel.status.text
    assert "Traceback" not in panel.status.value
    # Usable after the error: a good namespace connects.
    panel.fields["namespace"].value = "default"
    panel.connect(wait=True)
    assert panel.status.state == "ok", panel.status.text
    panel.session.close()


def test_connection_panel_checks_paths_as_typed(tmp_path: Any, certs: Any) -> None:
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    panel.fields["ca_cert_path"].value = str(tmp_path / "missing.pem")
    assert "no such file" in panel.messages["ca_cert_path"].value
    assert panel.tls.value is True  # a certificate means TLS
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    panel.fields["ca_cert_path"].value = str(not_pem)
    assert "not a PEM certificate" in panel.messages["ca_cert_path"].value
    panel.fields["ca_cert_path"].value = str(certs.ca_cert)
    assert "✓" in panel.messages["ca_cert_path"].value
    panel.fields["client_cert_path"].value = str(certs.client_cert)
    assert "needs the client key" in panel.messages["client_key_path"].value
    panel.fields["client_key_path"].value = str(certs.mismatched_key)
    assert "does not belong" in panel.messages["client_key_path"].value
    panel.fields["client_key_path"].value = str(certs.client_key)
    assert "matches the certificate" in panel.messages["client_key_path"].value


def test_connection_panel_mtls_and_its_mistakes(mtls_front: Any, certs: Any) -> None:
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    panel.fields["address"].value = mtls_front.address
    panel.fields["namespace"].value = "default"
    panel.fields["ca_cert_path"].value = str(certs.ca_cert)
    panel.fields["client_cert_path"].value = str(certs.client_cert)
    panel.fields["client_key_path"].value = str(certs.client_key)
    # No server-name override: the certificate names tls-sample, not 127.0.0.1.
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert "server name" in panel.status.text.lower() or "tls-sample" in panel.status.text
    panel.fields["server_name"].value = "tls-sample"
    panel.connect(wait=True)
    assert panel.status.state == "ok", panel.status.text
    panel.session.close()
    # Key missing: said before dialling.
    panel.fields["client_key_path"].value = ""
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert "client key" in panel.status.text


def test_connection_panel_api_key_is_cleared_and_never_shown(apikey_front: Any) -> None:
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    panel.fields["address"].value = apikey_front.address
    panel.fields["namespace"].value = "default"
    panel.api_key.value = "wrong-key-999"
    panel.tls.value = False  # the test front speaks plaintext
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert "wrong-key-999" not in panel.status.value
    assert "API key" in panel.status.text or "unauthenticated" in panel.status.text.lower()
    assert panel.api_key.value == ""
    panel.api_key.value = "wb-test-key-123"
    panel.tls.value = False
    panel.connect(wait=True)
    assert panel.status.state == "ok", panel.status.text
    assert panel.api_key.value == ""
    assert "wb-test-key-123" not in repr(panel.session)
    panel.session.close()


def test_connection_panel_profile_fills_the_fields(tmp_path: Any, ui_data: dict[str, Any]) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f'[profile.local]\naddress = "{ui_data["address"]}"\nnamespace = "default"\n'
        '[profile.cloud]\naddress = "my-ns.a1b2c.tmprl.cloud:7233"\nnamespace = "my-ns.a1b2c"\n'
        'api_key = "secret-cloud-key"\n'
    )
    panel = ConnectionPanel(env={"TEMPORAL_CONFIG_FILE": str(config), "HOME": "/nonexistent"})
    assert [v for _, v in panel.profile.options] == ["", "cloud", "local"]
    panel.profile.value = "cloud"
    assert panel.fields["address"].value == "my-ns.a1b2c.tmprl.cloud:7233"
    assert panel.tls.value is True  # an API key means TLS
    assert panel.api_key.value == ""  # the profile's key is used, not copied into the widget
    assert "profile cloud" in panel.api_key.placeholder
    panel.profile.value = "local"
    assert panel.fields["address"].value == ui_data["address"]
    panel.connect(wait=True)
    assert panel.status.state == "ok", panel.status.text
    panel.session.close()


def test_codec_panel_test_and_apply(session: workbench.Session, ui_data: dict[str, Any]) -> None:
    panel = CodecPanel(session)
    panel.test_id.value = ui_data["ids"][-1]
    panel.test(wait=True)
    assert panel.status.state == "error"
    assert "ui-key-1" in panel.status.text  # which key id is missing
    entry = panel.add("aes-gcm")
    assert len(panel.form.entries) == 1
    entry.keys[0] = (ui_data["key_id"], base64.b64encode(ui_data["key"]).decode())
    panel.add("zlib")
    panel.test(wait=True)
    assert panel.status.state == "ok", panel.status.text
    frame = panel.test_frame
    assert frame is not None and frame["ok"].all()
    assert frame["before"].str.contains("binary/encrypted").any()
    assert frame["after"].str.contains("customer-").any()
    assert "customer-" in panel.result.value
    panel.apply(wait=True)
    assert panel.status.state == "ok"
    assert isinstance(session.codec.codecs[0], codecs.AesGcm)
    # Key text is cleared once applied.
    assert all(key == "" for _, key in panel.form.entries[0].keys)
    h = session.history(ui_data["ids"][-1])
    assert h.errors.empty


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda e: e.keys.__setitem__(0, ("k1", "dG9vIHNob3J0")), "neither 64 hex"),
        (lambda e: e.keys.__setitem__(0, ("k1", "/no/such/key.file")), "key"),
    ],
)
def test_codec_panel_bad_key_keeps_the_previous_converter(
    session: workbench.Session, setup: Any, words: str
) -> None:
    before = session.codec
    panel = CodecPanel(session)
    setup(panel.add("aes-gcm"))
    panel.apply(wait=True)
    assert panel.status.state == "error"
    assert words in panel.status.text
    assert "previous converter still applies" in panel.status.text
    assert session.codec is before


def test_codec_panel_my_codec_and_remote_errors(session: workbench.Session) -> None:
    from codec_samples import SampleZlibCodec

    before = session.codec
    ns: dict[str, Any] = {"not_a_codec": 42, "mine": SampleZlibCodec()}
    panel = CodecPanel(session, user_ns=ns)
    entry = panel.add("user")
    entry.target = "nothing_here"
    panel.apply(wait=True)
    assert "no variable 'nothing_here'" in panel.status.text
    entry.target = "not_a_codec"
    panel.apply(wait=True)
    assert "not a codec" in panel.status.text
    assert session.codec is before
    entry.target = "mine"
    panel.apply(wait=True)
    assert panel.status.state == "ok", panel.status.text
    assert isinstance(session.codec.codecs[0], codecs.UserCodec)
    panel.form.remove(0)
    remote = panel.add("remote")
    remote.endpoint = "http://127.0.0.1:9/"  # nothing listens on the discard port
    current = session.codec
    panel.apply(wait=True)
    assert panel.status.state == "error"
    assert "127.0.0.1:9" in panel.status.text
    assert session.codec is current


def test_workflows_panel_lists_counts_and_narrows(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    opened: list[tuple[str, str]] = []
    panel = WorkflowsPanel(session, on_open=lambda w, r: opened.append((w, r)))
    panel.query.value = ui_data["query"]
    panel.run_button.click()
    assert panel.run_button.disabled
    assert not panel.run(), "a second run while busy does nothing"
    panel.wait(60)
    assert not panel.run_button.disabled
    assert len(panel.frame) == UI_RUNS, panel.status.text
    assert f"{UI_RUNS} workflows" in panel.status.text
    counts = {b.description for row in panel.counts_box.children[1:] for b in row.children[:1]}
    assert counts == {"Completed", "Failed"}
    # The table holds every row in the kernel, one page in the browser.
    assert panel.table.model.matching() == UI_RUNS
    shown = panel.table.table.df
    assert len(shown) == min(UI_RUNS, panel.table.model.page_size)
    # Clicking a status narrows the query.
    failed_button = next(
        row.children[0]
        for row in panel.counts_box.children[1:]
        if row.children[0].description == "Failed"
    )
    failed_button.click()
    panel.wait(60)
    assert "ExecutionStatus='Failed'" in panel.query.value
    assert len(panel.frame) == UI_FAILED
    assert set(panel.frame["status"]) == {"Failed"}
    # Past queries are offered.
    assert panel.query.options[0] == panel.query.value
    # Selecting a row opens it.
    panel.table.select(0)
    assert opened and opened[0][0] in ui_data["ids"]


def test_workflows_panel_bad_query_and_no_match(session: workbench.Session) -> None:
    panel = WorkflowsPanel(session)
    panel.run("WorkflowType = ", wait=True)
    assert panel.status.state == "error"
    assert "Traceback" not in panel.status.value
    assert "query" in panel.status.text.lower()
    panel.run("WorkflowType='NoSuchTypeAnywhere'", wait=True)
    assert panel.status.text == "No workflows match."
    assert panel.frame.empty


def test_workflows_panel_stop_keeps_rows(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    panel = WorkflowsPanel(session)
    panel.limit.value = 100_000
    gate = threading.Event()
    original = session.iter_workflows

    def slow_pages(*args: Any, **kwargs: Any) -> Iterator[pd.DataFrame]:
        kwargs["page_size"] = 5
        for page in original(*args, **kwargs):
            yield page
            gate.set()

    session.iter_workflows = slow_pages  # type: ignore[method-assign]
    try:
        panel.run(ui_data["query"])
        assert gate.wait(30)
        panel.stop_button.click()
        assert panel.wait(5)
    finally:
        del session.iter_workflows
    assert 0 < len(panel.frame) <= UI_RUNS
    assert panel.status.state in ("ok", "idle")


def test_table_model_sorts_filters_and_pages() -> None:
    from workbench.ui.table import TableModel

    df = pd.DataFrame(
        {
            "n": range(1000),
            "word": [f"w{i % 7}" for i in range(1000)],
            "memo": [{"customer": f"c{i}"} for i in range(1000)],
        }
    )
    t = TableModel(df, page_size=10)
    t.sort_by("n", ascending=False)
    assert t.page().frame["n"].tolist()[:3] == [999, 998, 997]
    t.set_filter("c12")
    assert set(t.filtered()["n"]) == {12} | set(range(120, 130)) | {
        i for i in range(1000) if str(i).startswith("12")
    }
    t.set_filter("")
    t.go_to(99)
    assert t.page().frame["n"].tolist()[-1] == 0
    t.next()
    assert t.page_number == 99
    assert t.page().describe(10) == "rows 991-1,000 of 1,000"


def test_history_panel_reads_decrypted_values(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    session.codec = codecs.Chain(
        codecs.AesGcm({ui_data["key_id"]: ui_data["key"]}), codecs.Zlib()
    ).with_namespace("default")
    panel = HistoryPanel(session)
    failed_id, ok_id = ui_data["ids"][0], ui_data["ids"][-1]
    panel.load(ok_id, wait=True)
    assert panel.status.state == "ok", panel.status.text
    assert ok_id in panel.header.value and "Completed" in panel.header.value
    h = panel.history
    assert h is not None and h.workflow_id == ok_id
    started = int(h.events.loc[h.events.event_type == "ActivityTaskCompleted", "event_id"].iloc[0])
    panel.select_event(started)
    assert "4111-1111-1111-1111" in panel.detail.value
    assert "binary/encrypted → binary/zlib → json/plain" in panel.detail.value
    # Filters.
    panel.load(failed_id, wait=True)
    assert "Failed" in panel.header.value
    panel.failures_only.value = True
    rows = panel.table.model.filtered()
    assert len(rows) >= 1 and rows["failure_message"].notna().any()
    panel.failures_only.value = False
    panel.event_type.value = "WorkflowExecutionStarted"
    assert panel.table.model.matching() == 1
    # Timeline.
    panel.tabs.selected_index = 1
    assert panel.timeline.value[:4] == b"\x89PNG"
    # Downloads.
    panel.download_encoded.click()
    assert "download=" in panel.download_link.value


def test_history_panel_shows_undecodable_payloads_and_opens_files(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    panel = HistoryPanel(session)  # the default converter: nothing decrypts
    panel.load(ui_data["ids"][-1], wait=True)
    assert panel.status.state == "error"
    assert "could not be decoded" in panel.status.text
    panel.undecodable_only.value = True
    assert panel.table.model.matching() > 0
    event_id = int(panel.table.model.filtered()["event_id"].iloc[0])
    panel.select_event(event_id)
    assert "not decoded" in panel.detail.value
    assert "ui-key-1" in panel.detail.value
    # Open a file: the encoded JSON, decoded with a key ring, no server.
    text = panel.history.to_json()
    offline = HistoryPanel(
        codec=codecs.Chain(codecs.AesGcm({"ui-key-1": ui_data["key"]}), codecs.Zlib())
    )
    offline.open_file(text.encode(), name="downloaded.json")
    assert offline.status.state == "ok", offline.status.text
    assert offline.history is not None and offline.history.errors.empty
    offline.open_file(b'{"not": "a history"}', name="other.json")
    assert offline.status.state == "error"
    assert "other.json" in offline.status.text


def test_workbench_wires_the_panels(ui_data: dict[str, Any]) -> None:
    key_b64 = base64.b64encode(ui_data["key"]).decode()
    wb = Workbench(env=_env(ui_data["address"]))
    assert wb.session is None
    wb.connection.connect(wait=True)
    assert wb.session is not None
    assert wb.tabs.selected_index == 2
    entry = wb.converter.add("aes-gcm")
    entry.keys[0] = (ui_data["key_id"], key_b64)
    wb.converter.add("zlib")
    wb.converter.apply(wait=True)
    assert "AES-GCM" in wb.banner.value
    wb.workflows.run(ui_data["query"], wait=True)
    assert len(wb.workflows_df) == UI_RUNS
    wb.workflows.table.select(0)
    wb.history_panel.wait(30)
    assert wb.tabs.selected_index == 3
    assert wb.history is not None
    assert wb.history.errors.empty
    assert wb.history.workflow_id == wb.workflows.selected["workflow_id"]
    # Secrets: no key, no API key in any widget's state.
    state = json.dumps(_all_state(wb), default=str)
    assert key_b64 not in state
    wb.session.close()


def _tree(widget: Any) -> list[Any]:
    out, stack = [], [widget]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(getattr(current, "children", ()) or ())
    return out


def _all_state(widget: Any) -> list[dict[str, Any]]:
    import ipywidgets as w

    out = []
    for model in list(w.widgets.widget._instances.values()):
        with contextlib.suppress(Exception):
            out.append(model.get_state())
    return out


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"address": "127.0.0.1:1"}, "nothing is listening at 127.0.0.1:1"),
        ({"ca_cert_path": "other_ca_cert", "server_name": "tls-sample"}, "certificate"),
        (
            {
                "client_cert_path": "expired_client_cert",
                "client_key_path": "expired_client_key",
                "server_name": "tls-sample",
            },
            "expired",
        ),
    ],
)
def test_connection_panel_faults_in_the_status_line(
    mtls_front: Any, certs: Any, fields: dict[str, str], words: str
) -> None:
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    values = {
        "address": mtls_front.address,
        "namespace": "default",
        "ca_cert_path": str(certs.ca_cert),
        "client_cert_path": str(certs.client_cert),
        "client_key_path": str(certs.client_key),
        "server_name": "tls-sample",
    }
    for name, value in fields.items():
        values[name] = str(getattr(certs, value)) if hasattr(certs, value) else value
    for name, value in values.items():
        panel.fields[name].value = value
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert words in panel.status.text.lower(), panel.status.text
    assert "Traceback" not in panel.status.value
    assert not panel.connect_button.disabled  # usable again


def test_saved_notebook_widget_state_holds_no_secret(
    apikey_front: Any, certs: Any, ui_data: dict[str, Any], tmp_path: Any
) -> None:
    """Connect with an API key, apply an AES key, then save the notebook with its widget state
    (what JupyterLab writes under metadata.widgets): no key of any kind is in the file."""
    import nbformat
    from ipywidgets.embed import embed_data

    key_b64 = base64.b64encode(ui_data["key"]).decode()
    key_hex = ui_data["key"].hex()
    wb = Workbench(env={"HOME": "/nonexistent"})
    conn = wb.connection
    conn.fields["address"].value = apikey_front.address
    conn.fields["namespace"].value = "default"
    conn.api_key.value = "wb-test-key-123"
    conn.tls.value = False
    conn.connect(wait=True)
    assert conn.status.state == "ok", conn.status.text
    entry = wb.converter.add("aes-gcm")
    entry.keys[0] = (ui_data["key_id"], key_b64)
    wb.converter.add("zlib")
    wb.converter.apply(wait=True)
    assert wb.converter.status.state == "ok", wb.converter.status.text
    # A second key typed into the widget itself, then applied.
    wb.converter.add("aes-gcm")
    key_widgets = [
        c for c in _tree(wb.converter.entries_box.children[-1]) if "wb-codec-key" in c._dom_classes
    ]
    id_widgets = [
        c
        for c in _tree(wb.converter.entries_box.children[-1])
        if "wb-codec-key-id" in c._dom_classes
    ]
    id_widgets[-1].value = "ui-key-2"
    key_widgets[-1].value = key_hex
    wb.converter.apply(wait=True)
    assert wb.converter.status.state == "ok", wb.converter.status.text
    # Save as JupyterLab does with "Save Widget State Automatically".
    state = embed_data(views=[wb])["manager_state"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    cell = nbformat.v4.new_code_cell("wb")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": repr(wb.session)})]
    nb.cells.append(cell)
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    assert '"wb-codec' in text or "Workbench" in text or "wb-" in text  # the state is there
    for secret in ("wb-test-key-123", key_b64, key_hex, "PRIVATE KEY"):
        assert secret not in text
    wb.session.close()


def test_plain_cells_read_well_without_panels(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    info = session.server_info
    assert repr(info).startswith("ServerInfo(") and len(repr(info)) < 200
    assert "namespace" in info._repr_html_() and info.server_version in info._repr_html_()
    d = session.describe(ui_data["ids"][-1])
    assert ui_data["ids"][-1] in d._repr_html_() and "Completed" in d._repr_html_()
    h = session.history(
        ui_data["ids"][-1],
        codec=codecs.Chain(codecs.AesGcm({ui_data["key_id"]: ui_data["key"]}), codecs.Zlib()),
    )
    page = h._repr_html_()
    assert "ShopWorkflow" in page and "Completed" in page and "customer-" in page


def test_codec_panel_keeps_a_typed_key_when_the_chain_changes(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    """A key typed into the field, then another codec added (the entries are drawn again):
    the key is still there when applied, and no field shows it."""
    panel = CodecPanel(session)
    panel.add("aes-gcm")
    row = panel.entries_box.children[0]
    [kid] = [c for c in _tree(row) if "wb-codec-key-id" in c._dom_classes]
    [key] = [c for c in _tree(row) if "wb-codec-key" in c._dom_classes]
    kid.value = ui_data["key_id"]
    key.value = base64.b64encode(ui_data["key"]).decode()
    panel.kind.value = "zlib"
    panel.add_button.click()
    [new_key] = [
        c for c in _tree(panel.entries_box.children[0]) if "wb-codec-key" in c._dom_classes
    ]
    assert new_key.value == "" and "key entered" in new_key.placeholder
    panel.apply(wait=True)
    assert panel.status.state == "ok", panel.status.text
    assert session.history(ui_data["ids"][-1]).errors.empty


def test_workflows_panel_survives_a_server_restart_and_reports_one_that_stays_down(
    make_dev_server: Any,
) -> None:
    """A server killed mid-listing and back: every row once. Killed for good: the error and the
    rows fetched so far."""
    import asyncio

    from temporalio.client import Client

    server = make_dev_server()

    async def start_runs() -> None:
        client = await Client.connect(server.address)
        for i in range(40):
            await client.start_workflow("Nobody", id=f"restart-{i:03d}", task_queue="nobody")

    asyncio.run(start_runs())
    with workbench.connect(address=server.address, namespace="default", env={}) as s:
        deadline = time.monotonic() + 60
        while s.count() < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
        panel = WorkflowsPanel(s, page_size=5)
        killed = threading.Event()
        original = s.iter_workflows
        restarts: list[threading.Timer] = []

        def pages(*args: Any, **kwargs: Any) -> Iterator[pd.DataFrame]:
            for i, page in enumerate(original(*args, **kwargs)):
                yield page
                if i == 1 and not killed.is_set():
                    killed.set()
                    server.kill()
                    restarts.append(threading.Timer(1.0, server.start))
                    restarts[-1].start()

        s.iter_workflows = pages  # type: ignore[method-assign]
        panel.run("", wait=True)
        assert killed.is_set()
        assert panel.status.state == "ok", panel.status.text
        assert len(panel.frame) == 40
        assert panel.frame["workflow_id"].is_unique
        restarts[0].join(60)  # the restart is complete before the server goes down for good
        # Down for good: the error, and the rows so far are kept.
        killed.clear()
        panel.retry_deadline = 3.0
        s.iter_workflows = lambda *a, **k: _then_down(original(*a, **k), server)  # type: ignore[method-assign]
        panel.run("", wait=True)
        assert panel.status.state == "error", panel.status.text
        assert "rows fetched before it are kept" in panel.status.text
        assert 0 < len(panel.frame) < 40


def _then_down(pages: Iterator[pd.DataFrame], server: Any) -> Iterator[pd.DataFrame]:
    for i, page in enumerate(pages):
        yield page
        if i == 1:
            server.kill()


def test_a_converter_applied_before_connecting_is_the_sessions(ui_data: dict[str, Any]) -> None:
    wb = Workbench(env=_env(ui_data["address"]))
    entry = wb.converter.add("aes-gcm")
    entry.keys[0] = (ui_data["key_id"], ui_data["key"].hex())
    wb.converter.add("zlib")
    wb.converter.apply(wait=True)
    assert "connect to use it" in wb.converter.status.text
    wb.connection.connect(wait=True)
    assert wb.session is not None
    assert [type(c).__name__ for c in wb.session.codec.codecs] == ["AesGcm", "Zlib"]
    assert "AES-GCM" in wb.banner.value
    wb.session.close()


def test_codec_form_takes_key_text_or_a_key_file(tmp_path: Any) -> None:
    from workbench.ui.codec_form import CodecForm

    key = bytes(range(32))
    key_file = tmp_path / "k.key"
    key_file.write_text(base64.b64encode(key).decode())
    slashy = base64.b64encode(b"\xff" * 32).decode()  # base64 text with '/' in it
    assert "/" in slashy
    form = CodecForm()
    entry = form.add("aes-gcm")
    entry.keys = [("a", str(key_file)), ("b", slashy), ("c", key.hex())]
    chain = form.build()
    assert chain.codecs[0].key_ids == ("a", "b", "c")
    assert entry.keys == [("a", ""), ("b", ""), ("c", "")]


def test_converter_panel_serves_the_active_converter(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    panel = CodecPanel(session)
    panel.serve_button.click()
    assert "Apply a converter first" in panel.serve_info.value
    entry = panel.add("aes-gcm")
    entry.keys[0] = (ui_data["key_id"], ui_data["key"].hex())
    panel.add("zlib")
    panel.apply(wait=True)
    panel.serve_port.value = 0
    panel.serve_button.click()
    server = panel.server
    assert server is not None and server.running
    assert server.url in panel.serve_info.value
    assert "Codec Server browser endpoint" in panel.serve_info.value
    assert ui_data["key"].hex() not in panel.serve_info.value
    # What the Web UI and the CLI would do: decode through it.
    h = session.history(ui_data["ids"][-1], codec=codecs.Remote(server.url))
    assert h.errors.empty
    assert "4111-1111-1111-1111" in json.dumps(h.payloads["value"].tolist())
    assert server.stats.payloads > 0
    panel.unserve_button.click()
    assert not server.running and panel.server is None


def test_history_panel_says_a_stopped_fetch_is_partial(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    import warnings

    stop = threading.Event()
    stop.set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        partial = session.history(ui_data["ids"][-1], stop=stop)
    assert partial.complete is False
    panel = HistoryPanel(session)
    panel.show(partial)
    assert "stopped before the end" in panel.status.text
    assert "stopped" in panel.header.value


def test_many_runs_search_inside_decrypted_payloads(
    session: workbench.Session, ui_data: dict[str, Any]
) -> None:
    session.codec = codecs.Chain(
        codecs.AesGcm({ui_data["key_id"]: ui_data["key"]}), codecs.Zlib()
    ).with_namespace("default")
    opened: list[tuple[str, str]] = []
    panel = WorkflowsPanel(session, on_open=lambda w, r: opened.append((w, r)))
    panel.many.fetch(wait=True)
    assert "List some workflows first" in panel.many.status.text
    panel.run(ui_data["query"], wait=True)
    panel.table.filter.value = "Failed"  # the person narrows the rows: those are fetched
    failed = panel.table.model.matching()
    assert failed == 6
    panel.many.fetch_button.click()
    assert panel.many.wait(60)
    hs = panel.many.histories
    assert hs is not None and len(hs.runs) == failed
    assert f"{failed} runs fetched" in panel.many.status.text
    panel.many.search_text.value = "customer-3"  # inside encrypted inputs
    found = panel.many.found
    assert found is not None and len(found) > 0
    assert set(found["workflow_id"]) == {ui_data["ids"][3]}
    assert "contain 'customer-3'" in panel.many.status.text
    panel.many.results.select(0)
    assert opened == [(ui_data["ids"][3], found.iloc[0]["run_id"])]
    panel.many.search_text.value = "no-such-text-anywhere"
    assert panel.many.status.text.startswith("No decoded payload contains")

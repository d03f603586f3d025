# ruff: noqa: F811 (the browser fixtures are imported from test_ui_browser)
"""Review of the panels (issue 11) as a person meets them: each test is a bug found by driving
the Workbench in Voilà + Chromium, reduced to the widgets (no browser) where that suffices.

Every test here FAILS on the reviewed code (commit 179dd14) and describes what a user sees."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import UI_RUNS
from playwright.sync_api import Browser, expect
from rig import API_KEY, SlowLink
from test_ui_browser import browser, slow_link, tab, voila_url  # noqa: F401 (fixtures)

import workbench
from workbench.ui import ConnectionPanel, HistoryPanel, Workbench, WorkflowsPanel


def _env(address: str) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "default", "HOME": "/nonexistent"}


@pytest.fixture(scope="module")
def slow_address(ui_data: dict[str, Any]) -> Iterator[str]:
    # 0.15 s each way: a history or a listing of small pages takes long enough to click again.
    link = SlowLink(ui_data["address"], delay=0.15).start()
    try:
        yield link.address
    finally:
        link.stop()


# -- 1. Stale state after connecting to another namespace ----------------------------------------


def test_reconnecting_to_another_namespace_drops_the_old_listing(ui_data: dict[str, Any]) -> None:
    """Connect to 'default', list, then connect to 'orders'. The Workflows tab says "Connected to
    orders" but still shows default's 24 rows (and wb.workflows_df returns them); clicking one
    says "not found in namespace 'orders'"."""
    wb = Workbench(env=_env(ui_data["address"]))
    wb.connection.connect(wait=True)
    wb.workflows.run(ui_data["query"], wait=True)
    assert len(wb.workflows_df) == UI_RUNS
    wb.connection.fields["namespace"].value = "orders"
    wb.connection.connect(wait=True)
    assert wb.session is not None and wb.session.namespace == "orders"
    try:
        shown = wb.workflows.table.model.frame
        assert shown.empty, f"the Workflows tab still shows {len(shown)} rows of 'default'"
        assert wb.workflows_df.empty
        assert wb.workflows.counts_box.children == ()  # no bars of the old listing either
    finally:
        wb.session.close()


def test_api_key_typed_once_still_works_after_switching_namespace(apikey_front: Any) -> None:
    """Connect with an API key typed in the panel (the field empties, as it should), change only
    the namespace, press Connect: the server refuses, "no API key was sent". A person must
    re-type a secret to switch namespace; the key should stay in the form (not the widget)."""
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    panel.fields["address"].value = apikey_front.address
    panel.fields["namespace"].value = "default"
    panel.api_key.value = API_KEY
    panel.tls.value = False  # the test front speaks plaintext
    panel.connect(wait=True)
    assert panel.status.state == "ok", panel.status.text
    assert panel.api_key.value == ""
    panel.fields["namespace"].value = "orders"
    panel.connect(wait=True)
    try:
        assert panel.status.state == "ok", panel.status.text
        assert panel.session is not None and panel.session.namespace == "orders"
    finally:
        if panel.session is not None:
            panel.session.close()


# -- 2. The history panel showing something else than what it says -----------------------------


def test_selecting_a_second_row_while_a_history_loads_opens_the_second(
    ui_data: dict[str, Any], slow_address: str
) -> None:
    """Click a row, then (while its history is still coming over a slow link) another: the id
    field and the status say the second; the first is what ends up shown, with no word."""
    first, second = ui_data["ids"][-1], ui_data["ids"][-2]
    with workbench.connect(address=slow_address, namespace="default", env={}) as s:
        panel = HistoryPanel(s)
        panel.load(first)
        panel.load(second)
        assert panel.wait(60)
        assert panel.workflow_id.value == second
        assert panel.history is not None
        assert panel.history.workflow_id == panel.workflow_id.value, (
            f"the id field says {panel.workflow_id.value}, the panel shows "
            f"{panel.history.workflow_id}; status: {panel.status.text}"
        )


def test_a_failed_open_does_not_leave_another_runs_history_under_its_error(
    ui_data: dict[str, Any],
) -> None:
    """Open run A, then an id that does not exist: the red line says B is not found while A's
    header, events and payloads stay below it, under B's id in the field (screenshot
    r03-stale-row-click.png). Either hide A or say that A is still shown."""
    a = ui_data["ids"][-1]
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        panel = HistoryPanel(s)
        panel.load(a, wait=True)
        assert panel.status.state in ("ok", "error") and panel.history is not None
        panel.load("no-such-workflow", wait=True)
        assert panel.status.state == "error"
        assert panel.body.layout.display == "none" or a in panel.status.text, (
            f"error for no-such-workflow shown above the history of {a}"
        )


def test_a_file_opened_while_a_history_loads_is_not_silently_dropped(
    ui_data: dict[str, Any], slow_address: str
) -> None:
    """Open a file (no server needed) while a fetch runs: the status says "Reading file …",
    the upload is emptied, and the file is never opened nor mentioned again."""
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as fast:
        file_text = fast.history(ui_data["ids"][0]).to_json()
    with workbench.connect(address=slow_address, namespace="default", env={}) as s:
        panel = HistoryPanel(s)
        panel.load(ui_data["ids"][-1])
        panel.open_file(file_text.encode(), name="downloaded.json")
        assert panel.wait(60)
        assert panel.history is not None
        opened = panel.history.workflow_id == ui_data["ids"][0]
        assert opened or "downloaded.json" in panel.status.text, (
            f"the file vanished; status: {panel.status.text}"
        )


def test_a_file_with_no_events_is_not_shown_as_a_good_history() -> None:
    """``{"events": []}`` (a wrong download, an empty export) shows in green as
    "0 events, 0 payloads." with an empty header: it should say there is no history in it."""
    panel = HistoryPanel()
    panel.open_file(b'{"events": []}', name="empty.json")
    assert panel.status.state == "error", panel.status.text
    assert "empty.json" in panel.status.text


# -- 3. What the tables show ---------------------------------------------------------------------


def test_sort_chosen_while_a_listing_runs_is_still_applied_when_it_ends(
    ui_data: dict[str, Any], slow_address: str
) -> None:
    """The first rows show while the rest arrive; a person sorts them (descending by
    workflow_id). When the listing ends the table is reset to "as listed" order and ascending,
    while the 'sort by' dropdown still says workflow_id: the rows are not in the order shown."""
    with workbench.connect(address=slow_address, namespace="default", env={}) as s:
        panel = WorkflowsPanel(s, page_size=4)
        panel.run(ui_data["query"])
        deadline = time.monotonic() + 60
        while panel.table.model.frame.empty and time.monotonic() < deadline:
            time.sleep(0.05)
        assert panel.job.busy, "the listing ended before the first page could be sorted"
        panel.table.descending.value = True
        panel.table.sort.value = "workflow_id"
        assert panel.wait(60)
        assert len(panel.frame) == UI_RUNS
        assert panel.table.sort.value == "workflow_id"
        assert panel.table.model.sort_column == panel.table.sort.value, (
            "the dropdown says 'sort by workflow_id' but the model is not sorted"
        )
        ids = list(panel.table.model.page().frame["workflow_id"])
        assert ids == sorted(ids, reverse=True)


def test_an_undecodable_payload_does_not_read_as_null_in_the_events_table(
    ui_data: dict[str, Any],
) -> None:
    """Without the key, the input column of WorkflowExecutionStarted shows ``[null]``: it reads as
    "started with null", not "could not decode" (payload_errors says 1, far right)."""
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        panel = HistoryPanel(s)  # the default converter: nothing decrypts
        panel.load(ui_data["ids"][-1], wait=True)
        sent = panel.table.table.df  # the page as the browser receives it
        started = sent[sent["event_type"] == "WorkflowExecutionStarted"]
        shown = started["input"].iloc[0]
        assert "null" not in shown, f"undecodable input shown as {shown!r}"
        assert "not decoded" in shown


# -- 4. Words ------------------------------------------------------------------------------------


def test_a_missing_ca_file_error_reads_well(tmp_path: Any) -> None:
    """The status line starts "Tls.ca_cert_path '…': no such file" (the first letter of a dotted
    setting name upper-cased); the field is labelled "CA certificate"."""
    panel = ConnectionPanel(env={"HOME": "/nonexistent"})
    panel.fields["address"].value = "127.0.0.1:7233"
    panel.fields["ca_cert_path"].value = str(tmp_path / "missing.pem")
    panel.connect(wait=True)
    assert panel.status.state == "error"
    assert not panel.status.text.startswith("Tls."), panel.status.text


# -- 5. Underneath: history() with on_page / stop (issue 11, "Underneath") -----------------------


def test_session_history_takes_on_page_and_stop(ui_data: dict[str, Any]) -> None:
    """The issue: "history() gets on_page/stop and a progress bar like listings". It has
    neither, so the History tab's Stop button (enabled while a history loads) does nothing and
    its progress bar never moves (history_panel._fetch only passes what the signature has)."""
    pages: list[tuple[int, int]] = []
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        h = s.history(
            ui_data["ids"][-1],
            on_page=lambda n, events: pages.append((n, events)),
            stop=threading.Event(),
        )
    assert len(h.events) > 0
    assert pages and pages[-1][1] == len(h.events)


# -- 6. In the browser --------------------------------------------------------------------------


def test_clicking_the_same_workflow_row_again_reopens_its_history(
    browser: Browser, voila_url: str, ui_data: dict[str, Any], slow_link: SlowLink
) -> None:
    """Select a row (its history opens), open another run in the History tab, go back and click
    the same row: nothing happens. DataTables toggles the row's selection off, the panel only
    acts on a non-empty selection, so a second click is needed (and a third after that...)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(voila_url, timeout=120_000)
        page.wait_for_selector(".wb-workbench", timeout=120_000)
        page.locator("button.wb-conn-connect").click()
        expect(page.locator(".wb-banner")).to_contain_text("namespace default", timeout=60_000)
        tab(page, "Workflows")
        page.locator(".wb-wf-query input").fill(ui_data["query"])
        page.locator(".wb-wf-limit input").fill("1000")
        page.locator("button.wb-wf-run").click()
        expect(page.locator(".wb-wf-status")).to_contain_text(
            f"{UI_RUNS} workflows", timeout=90_000
        )
        row = page.locator(".wb-wf-table table.dataTable tbody tr").first
        wid = row.locator("td").first.inner_text()
        row.click()
        expect(page.locator(".wb-hist-header")).to_contain_text(wid, timeout=60_000)
        other = next(i for i in ui_data["ids"] if i != wid)
        page.locator(".wb-hist-workflow-id input").fill(other)
        page.locator(".wb-hist-run-id input").fill("")
        page.locator("button.wb-hist-open").click()
        expect(page.locator(".wb-hist-header")).to_contain_text(other, timeout=60_000)
        tab(page, "Workflows")
        row.click()
        expect(page.locator(".wb-hist-header")).to_contain_text(wid, timeout=15_000)
    finally:
        page.close()


def test_the_open_a_file_button_has_no_null_tooltip(browser: Browser, voila_url: str) -> None:
    """Hovering "Open a file… (0)" shows the tooltip "null" (FileUpload's tooltip left unset)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(voila_url, timeout=120_000)
        page.wait_for_selector(".wb-workbench", timeout=120_000)
        tab(page, "History")
        title = page.locator(".wb-hist-upload").get_attribute("title")
        assert title not in ("null", "undefined"), f"tooltip {title!r}"
    finally:
        page.close()


def test_connecting_elsewhere_does_not_close_the_session_the_notebook_passed_in(
    ui_data: dict[str, Any],
) -> None:
    """``s = workbench.connect(...); Workbench(s)``, then Connect in the Connection tab (another
    namespace): the panel closes ``s``, which the notebook still holds; its next cell
    ``s.workflows()`` fails. The panel should close only the sessions it opened."""
    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        wb = Workbench(s, env=_env(ui_data["address"]))
        wb.connection.fields["namespace"].value = "orders"
        wb.connection.connect(wait=True)
        assert wb.session is not None and wb.session is not s
        try:
            assert s.count(ui_data["query"]) == UI_RUNS  # the notebook's own session still works
        finally:
            wb.session.close()


def test_connecting_elsewhere_during_a_listing_does_not_end_it_in_a_channel_error(
    ui_data: dict[str, Any], slow_address: str
) -> None:
    """Run a long listing, connect to 'orders' meanwhile: the status says "Connected to orders.
    Type a query..." while Run still reads "Running…"; then the old session is closed under the
    listing, which ends "ListWorkflowExecutions failed ... CANCELLED: Channel closed! (N rows
    fetched before it are kept)", and default's rows sit in the 'orders' context."""
    wb = Workbench(env=_env(slow_address))
    wb.connection.connect(wait=True)
    assert wb.session is not None
    wb.workflows.page_size = 2
    wb.workflows.run(ui_data["query"])
    deadline = time.monotonic() + 60
    while wb.workflows.table.model.frame.empty and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wb.workflows.job.busy
    wb.connection.fields["namespace"].value = "orders"
    wb.connection.connect(wait=True)
    try:
        assert wb.workflows.wait(60)
        assert "Channel closed" not in wb.workflows.status.text, wb.workflows.status.text
        assert wb.workflows_df.empty, "rows of 'default' shown after connecting to 'orders'"
    finally:
        wb.session.close()


def test_enter_in_the_query_box_runs_the_query(
    browser: Browser, voila_url: str, ui_data: dict[str, Any]
) -> None:
    """Type a query and press Enter, as in every search box: nothing happens (only the Run
    button runs it). The same for the History tab's workflow id box and Open."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(voila_url, timeout=120_000)
        page.wait_for_selector(".wb-workbench", timeout=120_000)
        page.locator("button.wb-conn-connect").click()
        expect(page.locator(".wb-banner")).to_contain_text("namespace default", timeout=60_000)
        tab(page, "Workflows")
        query = page.locator(".wb-wf-query input")
        query.fill(ui_data["query"])
        query.press("Enter")
        expect(page.locator(".wb-wf-status")).to_contain_text(
            f"{UI_RUNS} workflows", timeout=30_000
        )
    finally:
        page.close()


def test_a_missing_key_file_is_named_as_missing(ui_data: dict[str, Any]) -> None:
    """Type the path of a key file that does not exist: the message is the generic "encryption
    key 'k1' is neither 64 hex characters, nor base64 of 32 bytes, nor the path of a readable
    key file"; it names neither the path nor that it is missing. (test_ui_panels'
    parametrized case only asserts that the word "key" appears, which it always does.)"""
    from workbench.ui import CodecPanel

    with workbench.connect(address=ui_data["address"], namespace="default", env={}) as s:
        panel = CodecPanel(s)
        panel.add("aes-gcm").keys[0] = ("k1", "/no/such/dir/k1.key")
        panel.apply(wait=True)
        assert panel.status.state == "error"
        assert "/no/such/dir/k1.key" in panel.status.text, panel.status.text

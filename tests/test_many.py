"""Session.histories / histories_for: many runs written by a real worker (encrypted like the
samples), fetched concurrently from the real dev server, decoded and searched; and the faults a
user meets: a query matching nothing, a run deleted between listing and fetch, a server restarted
mid-way, a codec server failing some batches, Stop in the middle."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from many_codec_server import CodecServer
from many_seed import KEY, KEY_ID, Seeded, seed_orders, shared_orders
from rig import DEV_NAMESPACES, DEV_SEARCH_ATTRIBUTES, DevServer
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client

import workbench
from workbench import Histories, HistoryInterrupted, NotFound, codecs


@pytest.fixture(scope="module")
def seeded(dev_server: DevServer) -> Seeded:
    return shared_orders(dev_server.address)


@pytest.fixture
def s(seeded: Seeded) -> Iterator[workbench.Session]:
    with workbench.connect(
        seeded.address, "default", env={}, codec=codecs.AesGcm({KEY_ID: KEY})
    ) as session:
        yield session


def _quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about in a clean fetch
        return fn(*args, **kwargs)


def test_histories_of_a_query_hold_every_run_decoded(s: workbench.Session, seeded: Seeded) -> None:
    hs = _quiet(s.histories, seeded.query, progress=False)
    assert isinstance(hs, Histories) and hs.complete
    runs = hs.runs.set_index("workflow_id")
    assert set(runs.index) == set(seeded.orders)
    assert list(hs.runs.columns) == [c for c, _ in Histories.RUN_COLUMNS]
    assert runs.fetched.all() and runs.error.isna().all()
    assert set(runs.index[runs.status == "Failed"]) == seeded.failed
    assert set(runs.index[runs.status == "Completed"]) == set(seeded.orders) - seeded.failed
    assert (runs.workflow_type == "ManyOrderWorkflow").all()
    assert (runs.undecodable == 0).all()
    assert dict(runs.run_id) == seeded.run_ids

    ev = hs.events
    assert list(ev.columns) == [c for c, _ in Histories.EVENT_COLUMNS]
    assert {c: str(t) for c, t in ev.dtypes.items()} == dict(Histories.EVENT_COLUMNS)
    assert len(ev) == runs.events.sum() and len(hs.payloads) == runs.payloads.sum()
    # rows come in the order of hs.runs (the listing's), each run's events in event order
    assert list(dict.fromkeys(ev.workflow_id)) == list(hs.runs.workflow_id)
    assert list(dict.fromkeys(hs.payloads.workflow_id)) == list(hs.runs.workflow_id)
    assert (ev.groupby("workflow_id").event_id.diff().dropna() == 1).all()
    started = ev[ev.event_type == "WorkflowExecutionStarted"].set_index("workflow_id")
    assert {w: v[0] for w, v in started.input.items()} == seeded.orders
    failed = ev[ev.event_type == "WorkflowExecutionFailed"]
    assert set(failed.workflow_id) == seeded.failed
    assert set(failed.failure_message) == {"order rejected"}

    # Each run's rows are exactly what Session.history gives for it.
    wid = sorted(seeded.failed)[0]
    one = s.history(wid)
    mine = ev[ev.workflow_id == wid].drop(columns=["workflow_id", "run_id"])
    assert mine.reset_index(drop=True).equals(one.events)
    assert hs.history(wid).run_id == seeded.run_ids[wid]
    with pytest.raises(NotFound, match="not among the fetched"):
        hs.history("no-such-workflow")


def test_search_by_predicate_and_by_text(s: workbench.Session, seeded: Seeded) -> None:
    hs = s.histories(seeded.query, progress=False, concurrency=3)
    ada = hs.search(lambda v: v.get("customer") == "Ada")
    want = {w for w, o in seeded.orders.items() if o["customer"] == "Ada"}
    assert set(ada.workflow_id) == want
    assert list(ada.columns) == [c for c, _ in Histories.PAYLOAD_COLUMNS]
    # the workflow input, the activity input and the activity result of each run
    assert ada.groupby("workflow_id").size().min() >= 3

    card = seeded.orders[sorted(seeded.failed)[0]]["card"]
    hits = hs.search(card)
    assert set(hits.workflow_id) == {sorted(seeded.failed)[0]}
    # inside the failure's details too: the card number the workflow failed with
    assert "WorkflowExecutionFailed" in set(hits.event_type)
    assert len(hs.search(card.upper().replace("-", "-"), case=False)) == len(hits)
    assert hs.search("no such text anywhere").empty

    with pytest.raises(workbench.ArgumentError, match="raised for every one"):
        hs.search(lambda v: v["no-such-key"])
    with pytest.raises(workbench.ArgumentError, match="text or a predicate"):
        hs.search(42)  # type: ignore[arg-type]


def test_a_query_matching_nothing_is_an_empty_result(s: workbench.Session) -> None:
    hs = _quiet(s.histories, f"WbKeyword='nothing-{uuid.uuid4().hex}'", progress=False)
    assert hs.complete and len(hs) == 0
    assert list(hs.runs.columns) == [c for c, _ in Histories.RUN_COLUMNS]
    assert list(hs.events.columns) == [c for c, _ in Histories.EVENT_COLUMNS]
    assert hs.payloads.empty and hs.search("x").empty
    assert "0 of 0 runs" in repr(hs)


def test_histories_for_the_selected_rows_of_a_listing(s: workbench.Session, seeded: Seeded) -> None:
    df = s.workflows(seeded.query, progress=False)
    selected = df[df.status == "Failed"]
    hs = s.histories_for(selected, progress=False)
    assert set(hs.runs.workflow_id) == seeded.failed
    assert set(hs.events.workflow_id) == seeded.failed
    by_id = s.histories_for(sorted(seeded.failed)[:2], progress=False)
    pairs = [(w, seeded.run_ids[w]) for w in sorted(seeded.failed)[:2]]
    by_pair = s.histories_for(pairs, progress=False)
    assert by_id.events.equals(by_pair.events)
    with pytest.raises(workbench.ArgumentError, match="neither a workflow id"):
        s.histories_for([42])
    with pytest.raises(workbench.ArgumentError, match="concurrency"):
        s.histories(seeded.query, concurrency=0)


def test_stop_in_the_middle_keeps_the_runs_done(s: workbench.Session, seeded: Seeded) -> None:
    stop = threading.Event()

    def on_run(done: int, total: int) -> None:
        if done == 5:
            stop.set()

    with pytest.warns(HistoryInterrupted, match="stopped early"):
        hs = s.histories(seeded.query, concurrency=2, stop=stop, on_run=on_run, progress=False)
    assert not hs.complete
    fetched = hs.runs[hs.runs.fetched]
    assert 5 <= len(fetched) < len(seeded.orders)
    assert hs.runs[~hs.runs.fetched].error.isna().all()  # not failed: not fetched
    assert set(hs.events.workflow_id) == set(fetched.workflow_id)
    assert "(incomplete)" in repr(hs)


def test_to_parquet_streams_a_dataset_that_reads_back(
    s: workbench.Session, seeded: Seeded, tmp_path: Path
) -> None:
    target = tmp_path / "orders.parquet"
    memory = s.histories(seeded.query, progress=False)
    hs = s.histories(seeded.query, to=target, progress=False)
    assert hs.path == target and hs.histories == []
    assert (target / "runs.parquet").exists() and list((target / "events").glob("*.parquet"))
    ev = pd.read_parquet(target / "events")  # a plain Parquet dataset: pandas reads it
    assert len(ev) == len(memory.events)
    key = ["workflow_id", "event_id"]
    a = ev.sort_values(key).reset_index(drop=True)
    b = memory.events.sort_values(key).reset_index(drop=True)
    for column in ("workflow_id", "run_id", "event_id", "event_time", "event_type", "attempt"):
        assert a[column].tolist() == b[column].tolist(), column
    card = seeded.orders[sorted(seeded.failed)[0]]["card"]
    assert set(hs.search(card).workflow_id) == set(memory.search(card).workflow_id)
    ada = hs.search(lambda v: v.get("customer") == "Ada")
    assert len(ada) == len(memory.search(lambda v: v.get("customer") == "Ada"))
    with pytest.raises(workbench.ArgumentError, match="already holds a dataset"):
        s.histories(seeded.query, to=target, progress=False)


def test_a_codec_server_is_called_in_batches_across_runs_and_failed_batches_are_rows(
    s: workbench.Session, seeded: Seeded
) -> None:
    server = CodecServer({KEY_ID: KEY}, fail_every=3).start()
    try:
        with pytest.warns(UserWarning, match=r"could not be decoded.*HTTP 503"):
            hs = s.histories(
                seeded.query,
                codec=codecs.Remote(server.url, batch_size=16),
                concurrency=8,
                progress=False,
            )
    finally:
        server.stop()
    total = len(hs.payloads)
    assert total == hs.runs.payloads.sum() > 0
    # Fewer requests than runs: each request carries the payloads of several runs.
    assert server.requests < len(seeded.orders) / 2, server.batch_sizes
    assert max(server.batch_sizes) == 16  # a run has 5 payloads: requests span several runs
    assert server.failed_batches >= 1
    bad = hs.errors
    assert 0 < len(bad) < total
    assert bad.error.str.contains("HTTP 503").all()
    assert hs.runs.undecodable.sum() == len(bad)
    good = hs.payloads[hs.payloads.error.isna()]
    started = good[good.path == "workflow_execution_started_event_attributes.input[0]"]
    for wid, value in zip(started.workflow_id, started.value, strict=True):
        assert value == seeded.orders[wid]
    assert hs.runs.fetched.all()


# -- faults that need their own server or runs -------------------------------------------------


def _delete(address: str, workflow_id: str, run_id: str) -> None:
    async def go() -> None:
        client = await Client.connect(address, namespace="default")
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            )
        )

    asyncio.run(go())


# The visibility queue records its progress every 30 s by default, and the server deletes a closed
# run only once its visibility task is known done: 1 s makes a deletion take seconds, not a minute.
QUICK_DELETE = {
    "history.visibilityProcessorUpdateAckInterval": "1s",
    "history.transferProcessorUpdateAckInterval": "1s",
}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A server of this module's own, which a test may stop and start again."""
    server = DevServer(
        data_dir=tmp_path_factory.mktemp("many-server"),
        search_attributes=DEV_SEARCH_ATTRIBUTES,
        namespaces=DEV_NAMESPACES,
        dynamic_config=QUICK_DELETE,
    )
    try:
        yield server.start()
    finally:
        server.stop()


def test_a_run_deleted_between_listing_and_fetch_is_a_row(own_server: DevServer) -> None:
    seeded = seed_orders(own_server.address, 4, fail_every=0)
    with workbench.connect(
        seeded.address, "default", env={}, codec=codecs.AesGcm({KEY_ID: KEY})
    ) as s:
        listing = s.workflows(seeded.query, progress=False)
        assert len(listing) == 4
        gone = sorted(seeded.orders)[1]
        _delete(seeded.address, gone, seeded.run_ids[gone])
        deadline = time.monotonic() + 30
        while True:  # deletion is asynchronous
            try:
                s.describe(gone, seeded.run_ids[gone])
            except NotFound:
                break
            assert time.monotonic() < deadline, "the run was not deleted within 30 s"
            time.sleep(0.1)
        hs = _quiet(s.histories_for, listing, progress=False)
    assert hs.complete
    runs = hs.runs.set_index("workflow_id")
    assert not runs.fetched[gone]
    assert "not found" in runs.error[gone]
    assert runs.drop(index=gone).fetched.all() and runs.drop(index=gone).error.isna().all()
    assert gone not in set(hs.events.workflow_id) and len(set(hs.events.workflow_id)) == 3


def test_server_restarted_mid_way_keeps_the_finished_runs_and_resumes(
    own_server: DevServer,
) -> None:
    server = own_server
    seeded = seed_orders(server.address, 10, fail_every=5)
    restarted = threading.Event()
    helpers: list[threading.Thread] = []

    def bring_back() -> None:
        time.sleep(1.0)
        server.start()
        restarted.set()

    def on_run(done: int, total: int) -> None:
        if done == 1:
            # The runs queued after this one (at most 4 per thread) meet a server that is down.
            server.stop()
            helpers.append(threading.Thread(target=bring_back, daemon=True))
            helpers[0].start()

    try:
        with workbench.connect(
            server.address, "default", env={}, codec=codecs.AesGcm({KEY_ID: KEY})
        ) as s:
            hs = _quiet(s.histories, seeded.query, concurrency=1, on_run=on_run, progress=False)
    finally:
        for helper in helpers:  # the server is up (and stopped by its fixture) when we leave
            helper.join(120)
    assert restarted.is_set()
    assert hs.complete and hs.retries > 0
    assert hs.runs.fetched.all() and hs.runs.error.isna().all()
    assert set(hs.events.workflow_id) == set(seeded.orders)


def test_ctrl_c_in_the_middle_keeps_the_runs_done(s: workbench.Session, seeded: Seeded) -> None:
    def on_run(done: int, total: int) -> None:
        if done == 4:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C / Jupyter's Stop delivers

    with pytest.warns(HistoryInterrupted, match="stopped early"):
        hs = s.histories(seeded.query, concurrency=1, on_run=on_run, progress=False)
    fetched = hs.runs[hs.runs.fetched]
    assert not hs.complete and 4 <= len(fetched) < len(seeded.orders)
    assert set(hs.events.workflow_id) == set(fetched.workflow_id)
    assert (fetched.events > 0).all()
    assert s.histories(seeded.query, progress=False).complete  # the session still works

"""workbench.dask on a LocalCluster of two worker processes against the real dev server: the
dask frames equal the threads' results row for row."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pytest
from many_seed import KEY, KEY_ID, Seeded, shared_orders
from rig import DevServer

import workbench
import workbench.dask as wdask
from workbench import Histories, codecs
from workbench.frames import WORKFLOW_COLUMNS


@pytest.fixture(scope="module")
def seeded(dev_server: DevServer) -> Seeded:
    return shared_orders(dev_server.address)


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from dask.distributed import Client, LocalCluster

    # The workers find the key in their own environment (see _key_from_env): worker processes
    # inherit this one's.
    os.environ["WB_TEST_KEY"] = KEY.hex()
    try:
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as lc,
            Client(lc) as client,
        ):
            yield client
    finally:
        os.environ.pop("WB_TEST_KEY", None)


def _settings(seeded: Seeded) -> workbench.ConnectionSettings:
    return workbench.ConnectionSettings.load(env={}, address=seeded.address, namespace="default")


def _make_codec() -> codecs.AesGcm:
    return codecs.AesGcm({KEY_ID: KEY})


def _key_from_env() -> codecs.AesGcm:
    """Built on the worker from its environment: the key never enters the task graph."""
    return codecs.AesGcm({KEY_ID: os.environ["WB_TEST_KEY"]})


def _rows(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_dask_histories_equal_the_threads_result(cluster: object, seeded: Seeded) -> None:
    settings = _settings(seeded)
    with workbench.connect(seeded.address, "default", env={}, codec=_make_codec()) as s:
        threads = s.histories(seeded.query, progress=False)
    ddf = wdask.histories(settings, seeded.query, codec=_make_codec(), partitions=3)
    assert ddf.npartitions == 3
    payloads = ddf.compute()
    assert list(payloads.columns) == [c for c, _ in Histories.PAYLOAD_COLUMNS]
    key = ["workflow_id", "event_id", "path"]
    assert _rows(payloads, key).equals(_rows(threads.payloads, key))
    events = wdask.histories(settings, seeded.query, codec=_key_from_env, frame="events").compute()
    key = ["workflow_id", "event_id"]
    assert _rows(events, key).equals(_rows(threads.events, key))
    # the distributed search: a filter over decoded values, run on the workers
    ada = ddf[
        ddf.value.map(
            lambda v: isinstance(v, dict) and v.get("customer") == "Ada", meta=("value", bool)
        )
    ].compute()
    assert set(ada.workflow_id) == set(
        threads.search(lambda v: v.get("customer") == "Ada").workflow_id
    )


def test_dask_workflows_in_start_time_windows_equal_the_listing(
    cluster: object, seeded: Seeded
) -> None:
    settings = _settings(seeded)
    with workbench.connect(seeded.address, "default", env={}) as s:
        listing = s.workflows(seeded.query, progress=False)
    ddf = wdask.workflows(settings, seeded.query, partitions=4)
    assert ddf.npartitions == 4
    got = ddf.compute()
    assert list(got.columns) == list(WORKFLOW_COLUMNS)
    want = listing[list(WORKFLOW_COLUMNS)]
    key = ["workflow_id", "run_id"]
    assert len(got) == len(want) == len(seeded.orders)
    pd.testing.assert_frame_equal(_rows(got, key), _rows(want, key))


def test_the_task_graph_shows_no_key(seeded: Seeded) -> None:
    """What the dashboard and the logs show of a task (its key, its repr) names no secret."""
    ddf = wdask.histories(_settings(seeded), seeded.query, codec=_make_codec())
    shown = " ".join(f"{k} {v!r}" for k, v in dict(ddf.__dask_graph__()).items())
    assert "_histories_part" in shown
    assert KEY.hex() not in shown and repr(KEY)[2:-1] not in shown

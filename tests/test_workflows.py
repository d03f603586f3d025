"""Workflows as DataFrames: listing, counts, describe — against the real dev server.

The module fixture ``listing`` runs ``ListingWorkflow`` (tests/workflows_listing.py) with a real
``temporalio`` worker into every status: completed (with memos and search attributes of every
type), failed, timed out, terminated, canceled, continued-as-new, a parent and its child, and
running ones (one with a pending activity and a pending child). Every workflow id starts with a
prefix unique to this module run, so the listing is isolated from other tests on the server.

Visibility is eventually consistent: the fixture polls until the server lists what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rig import DevServer
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.worker import Worker
from workflows_listing import Job, ListingWorkflow, TrivialWorkflow, always_fails

import workbench
from workbench import codecs, frames
from workbench.frames import STATUS_NAMES, WORKFLOW_COLUMNS

pytestmark = pytest.mark.timeout(300)

T = TypeVar("T")

TEST_KEY_ID = "listing-test-key"
TEST_KEY = bytes(range(32))
KW = SearchAttributeKey.for_keyword("WbKeyword")
TEXT = SearchAttributeKey.for_text("WbText")
INT = SearchAttributeKey.for_int("WbInt")
DOUBLE = SearchAttributeKey.for_float("WbDouble")
BOOL = SearchAttributeKey.for_bool("WbBool")
DATETIME = SearchAttributeKey.for_datetime("WbDatetime")
KWLIST = SearchAttributeKey.for_keyword_list("WbKeywordList")


class LoopThread:
    """An asyncio loop on a thread, for the worker and client (the tests stay synchronous)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_until(predicate: Callable[[], bool], timeout: float = 90.0, what: str = "") -> None:
    """Poll ``predicate`` until true (visibility is eventually consistent)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f} s: {what}")
        time.sleep(0.1)


def encrypt(value: Any) -> Payload:
    """A memo value encrypted like Temporal's AES-GCM samples (design.md §2)."""
    inner = DataConverter.default.payload_converter.to_payloads([value])[0]
    nonce = os.urandom(12)
    return Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": TEST_KEY_ID.encode()},
        data=nonce + AESGCM(TEST_KEY).encrypt(nonce, inner.SerializeToString(), None),
    )


def done_attributes(i: int, tag: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(KW, tag),
            SearchAttributePair(TEXT, f"order number {i}"),
            SearchAttributePair(INT, i * 10 if i != 3 else 2**40),
            SearchAttributePair(DOUBLE, i + 0.25),
            SearchAttributePair(BOOL, i % 2 == 1),
            SearchAttributePair(DATETIME, dt.datetime(2026, 1, i, 12, 30, tzinfo=dt.timezone.utc)),
            SearchAttributePair(KWLIST, [f"k{i}", "common"]),
        ]
    )


@dataclass
class Listing:
    address: str
    prefix: str
    tag: str
    task_queue: str
    query: str
    expected: dict[str, list[str]]  # workflow id -> sorted statuses of its runs
    run_ids: dict[str, list[str]]  # workflow id -> run ids in start order
    loop: LoopThread
    client: Client

    def wid(self, role: str) -> str:
        return self.prefix + role


async def _run_listing(address: str, loop: LoopThread) -> Listing:
    prefix = f"wbl-{uuid.uuid4().hex[:8]}-"
    tag = f"listing-{uuid.uuid4().hex[:8]}"
    task_queue = f"wb-listing-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(address, namespace="default")
    worker = Worker(
        client, task_queue=task_queue, workflows=[ListingWorkflow], activities=[always_fails]
    )
    asyncio.get_running_loop().create_task(worker.run())

    def start(role: str, job: Job, **kw: Any) -> Awaitable[WorkflowHandle[Any, Any]]:
        return client.start_workflow(
            ListingWorkflow.run, job, id=prefix + role, task_queue=task_queue, **kw
        )

    tagged = TypedSearchAttributes([SearchAttributePair(KW, tag)])
    handles: dict[str, WorkflowHandle[Any, Any]] = {}
    for i in (1, 2, 3):
        handles[f"done-{i}"] = await start(
            f"done-{i}",
            Job("complete"),
            search_attributes=done_attributes(i, tag),
            memo={"customer": {"id": i, "name": f"customer-{i}"}, "note": f"hello {i}"},
        )
    handles["bare"] = await start("bare", Job("complete"))
    handles["secret"] = await start(
        "secret",
        Job("complete"),
        search_attributes=tagged,
        memo={"card": encrypt({"number": "card-7c1f-secret"}), "plain": "visible"},
    )
    handles["failed"] = await start("failed", Job("fail"), search_attributes=tagged)
    handles["timeout"] = await start(
        "timeout", Job("wait"), search_attributes=tagged, execution_timeout=timedelta(seconds=1)
    )
    handles["terminated"] = await start("terminated", Job("wait"), search_attributes=tagged)
    handles["canceled"] = await start("canceled", Job("wait"), search_attributes=tagged)
    handles["can"] = await start("can", Job("continue"), search_attributes=tagged)
    handles["parent"] = await start("parent", Job("parent", child_id=prefix + "child"))
    handles["running"] = await start("running", Job("wait"), search_attributes=tagged)
    handles["pending"] = await start("pending", Job("pending", child_id=prefix + "pending-child"))

    await handles["terminated"].terminate(reason="test terminates it")
    await handles["canceled"].cancel()
    for role in ("done-1", "done-2", "done-3", "bare", "secret", "can", "parent"):
        await handles[role].result()
    for role in ("failed", "timeout", "canceled"):
        with pytest.raises(WorkflowFailureError):
            await handles[role].result()

    can_runs = [handles["can"].first_execution_run_id or handles["can"].result_run_id]
    expected = {
        prefix + "done-1": ["Completed"],
        prefix + "done-2": ["Completed"],
        prefix + "done-3": ["Completed"],
        prefix + "bare": ["Completed"],
        prefix + "secret": ["Completed"],
        prefix + "failed": ["Failed"],
        prefix + "timeout": ["TimedOut"],
        prefix + "terminated": ["Terminated"],
        prefix + "canceled": ["Canceled"],
        prefix + "can": ["Completed", "ContinuedAsNew"],
        prefix + "parent": ["Completed"],
        prefix + "child": ["Completed"],
        prefix + "running": ["Running"],
        prefix + "pending": ["Running"],
        prefix + "pending-child": ["Running"],
    }
    run_ids = {prefix + role: [h.result_run_id or h.run_id or ""] for role, h in handles.items()}
    run_ids[prefix + "can"] = [str(can_runs[0])]
    return Listing(
        address=address,
        prefix=prefix,
        tag=tag,
        task_queue=task_queue,
        query=f"WorkflowId STARTS_WITH '{prefix}'",
        expected=expected,
        run_ids=run_ids,
        loop=loop,
        client=client,
    )


def statuses(df: pd.DataFrame) -> dict[str, list[str]]:
    grouped = df.groupby("workflow_id")["status"].agg(lambda s: sorted(map(str, s)))
    return {str(k): list(v) for k, v in grouped.items()}


@pytest.fixture(scope="module")
def listing(dev_server: DevServer) -> Iterator[Listing]:
    loop = LoopThread()
    result = loop.run(_run_listing(dev_server.address, loop))
    try:
        with workbench.connect(dev_server.address, "default", env={}) as s:
            wait_until(
                lambda: statuses(s.workflows(result.query, progress=False)) == result.expected,
                what="the listing shows every run the fixture started, in its final status",
            )
        yield result
    finally:

        async def cleanup() -> None:
            for role in ("running", "pending", "pending-child"):
                with contextlib.suppress(Exception):
                    await result.client.get_workflow_handle(result.wid(role)).terminate()

        loop.run(cleanup())
        loop.close()


@pytest.fixture
def session(listing: Listing) -> Iterator[workbench.Session]:
    with workbench.connect(listing.address, "default", env={}) as s:
        yield s


def row(df: pd.DataFrame, workflow_id: str) -> pd.Series:
    rows = df[df.workflow_id == workflow_id]
    assert len(rows) == 1, f"{workflow_id}: {len(rows)} rows"
    return rows.iloc[0]


# ------------------------------------------------------------------------------ listing
def test_listing_has_one_row_per_run_with_the_fixed_schema(
    session: workbench.Session, listing: Listing
) -> None:
    df = session.workflows(listing.query)
    assert statuses(df) == listing.expected
    assert len(df) == 16
    assert list(df.columns[: len(WORKFLOW_COLUMNS)]) == list(WORKFLOW_COLUMNS)
    assert df.attrs["complete"] is True
    assert isinstance(df.status.dtype, pd.CategoricalDtype)
    assert list(df.status.cat.categories) == list(STATUS_NAMES)
    assert list(STATUS_NAMES[:7]) == [
        "Running",
        "Completed",
        "Failed",
        "Canceled",
        "Terminated",
        "ContinuedAsNew",
        "TimedOut",
    ]
    for col in ("start_time", "execution_time", "close_time"):
        assert str(df[col].dtype) == "datetime64[ns, UTC]", col
    assert str(df.duration.dtype) == "timedelta64[ns]"
    for col in ("history_length", "history_size_bytes", "state_transition_count"):
        assert df[col].dtype == np.int64, col
    for col in ("workflow_id", "run_id", "workflow_type", "task_queue", "parent_workflow_id"):
        assert df[col].dtype == "str", col
    assert df.workflow_type.unique().tolist() == ["ListingWorkflow"]
    assert set(df.task_queue) == {listing.task_queue, "wb-listing-nobody-polls-this"}
    assert df.run_id.is_unique

    running = df[df.status == "Running"]
    closed = df[df.status != "Running"]
    assert len(running) == 3
    assert running.close_time.isna().all() and running.duration.isna().all()
    assert closed.close_time.notna().all()
    # Visibility records history sizes when a run closes.
    assert (closed.history_length >= 3).all() and (closed.history_size_bytes > 0).all()
    assert (closed.duration == closed.close_time - closed.start_time).all()
    assert (closed.duration >= pd.Timedelta(0)).all()
    now = pd.Timestamp.now(tz="UTC")
    assert (df.start_time > now - pd.Timedelta(minutes=30)).all() and (df.start_time <= now).all()
    # Its 1 s execution timeout: the server's close time can land a fraction of a millisecond
    # before start + 1 s (seen: 0.999685 s), so allow for timer granularity.
    assert row(df, listing.wid("timeout")).duration >= pd.Timedelta(seconds=0.95)

    can = df[df.workflow_id == listing.wid("can")].set_index("status", drop=False)
    assert can.loc["ContinuedAsNew", "run_id"] == listing.run_ids[listing.wid("can")][0]
    assert can.loc["Completed", "run_id"] != can.loc["ContinuedAsNew", "run_id"]

    child, parent = row(df, listing.wid("child")), row(df, listing.wid("parent"))
    assert child.parent_workflow_id == listing.wid("parent")
    assert child.parent_run_id == parent.run_id
    assert child.root_workflow_id == listing.wid("parent") and child.root_run_id == parent.run_id
    assert pd.isna(parent.parent_workflow_id) and pd.isna(parent.parent_run_id)
    assert parent.root_workflow_id == parent.workflow_id and parent.root_run_id == parent.run_id
    assert row(df, listing.wid("pending-child")).parent_workflow_id == listing.wid("pending")


def test_search_attributes_are_typed_columns(session: workbench.Session, listing: Listing) -> None:
    df = session.workflows(listing.query, progress=False).set_index("workflow_id")
    wb = ["WbBool", "WbDatetime", "WbDouble", "WbInt", "WbKeyword", "WbKeywordList", "WbText"]
    sa_columns = list(df.columns[len(WORKFLOW_COLUMNS) - 1 :])
    assert [c for c in sa_columns if c.startswith("Wb")] == wb  # sorted, after the fixed ones
    assert sa_columns == sorted(sa_columns)
    assert df.WbKeyword.dtype == "str" and df.WbText.dtype == "str"
    assert df.WbInt.dtype == "Int64"
    assert df.WbDouble.dtype == np.float64
    assert df.WbBool.dtype == "boolean"
    assert str(df.WbDatetime.dtype) == "datetime64[us, UTC]"
    assert df.WbKeywordList.dtype == object

    done = [listing.wid(f"done-{i}") for i in (1, 2, 3)]
    assert df.loc[done, "WbText"].tolist() == ["order number 1", "order number 2", "order number 3"]
    assert df.loc[done, "WbInt"].tolist() == [10, 20, 2**40]
    assert df.loc[done, "WbDouble"].tolist() == [1.25, 2.25, 3.25]
    assert df.loc[done, "WbBool"].tolist() == [True, False, True]
    assert df.loc[done, "WbDatetime"].tolist() == [
        pd.Timestamp(f"2026-01-0{i}T12:30:00Z") for i in (1, 2, 3)
    ]
    assert df.loc[done, "WbKeywordList"].tolist() == [[f"k{i}", "common"] for i in (1, 2, 3)]
    tagged = df[df.WbKeyword == listing.tag].index
    assert set(tagged) == {
        listing.wid(r)
        for r in (
            *("done-1", "done-2", "done-3", "secret", "failed"),
            *("timeout", "terminated", "canceled", "can", "running"),
        )
    }

    bare = df.loc[listing.wid("bare")]
    assert pd.isna(bare.WbKeyword) and pd.isna(bare.WbText) and pd.isna(bare.WbDouble)
    assert bare.WbInt is pd.NA and bare.WbBool is pd.NA and bare.WbDatetime is pd.NaT
    assert bare.WbKeywordList is None
    assert df.WbInt.isna().sum() == len(df) - 3

    # The query language sees the same values the columns hold.
    n = session.count(f"WbKeyword = '{listing.tag}' AND WbInt >= 20 AND WbBool = true")
    assert n == 1


def test_listing_round_trips_through_parquet(
    session: workbench.Session, listing: Listing, tmp_path: Any
) -> None:
    """The issue's ``s.workflows(query).to_parquet("runs.parquet")``: a plain DataFrame that
    pandas writes and reads back with its types."""
    df = session.workflows(listing.query, progress=False)
    path = tmp_path / "runs.parquet"
    df.to_parquet(path)
    back = pd.read_parquet(path)

    assert list(back.columns) == list(df.columns)
    assert back.dtypes.astype(str).drop(["memo", "BuildIds", "WbKeywordList"]).to_dict() == (
        df.dtypes.astype(str).drop(["memo", "BuildIds", "WbKeywordList"]).to_dict()
    )
    plain = [c for c in df.columns if c not in ("memo", "memo_error", "BuildIds", "WbKeywordList")]
    pd.testing.assert_frame_equal(back[plain], df[plain])
    # memo_error is "str" in Python objects (rows share one text); read back, in Arrow.
    pd.testing.assert_series_equal(back.memo_error, df.memo_error.astype("str"))
    assert back.memo_error.notna().sum() == 1
    assert list(back.status.cat.categories) == list(STATUS_NAMES)
    lists = back.set_index("workflow_id").WbKeywordList
    assert list(lists.loc[listing.wid("done-2")]) == ["k2", "common"]
    assert lists.loc[listing.wid("bare")] is None
    # Memos become one struct column: every row's dict holds every key seen, None where unset.
    memos = back.set_index("workflow_id").memo
    assert memos.loc[listing.wid("done-1")]["customer"] == {"id": 1, "name": "customer-1"}
    assert memos.loc[listing.wid("done-1")]["note"] == "hello 1"
    assert memos.loc[listing.wid("secret")]["plain"] == "visible"
    assert memos.loc[listing.wid("secret")]["note"] is None
    assert memos.loc[listing.wid("bare")] is None


def test_extreme_datetimes_and_ints_keep_their_values(
    session: workbench.Session, listing: Listing, tmp_path: Any
) -> None:
    """Go's zero time, a far-future date and int64's ends are real search-attribute values:
    none may wrap around (a nanosecond datetime64 holds only 1677-2262) or turn the column into
    Python objects (the dev server returns int64's ends rounded through float64)."""
    prefix = f"wbx-{uuid.uuid4().hex[:8]}-"
    cases = {
        "zero": (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc), -(2**63)),
        "never": (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc), 2**63 - 1),
        "plain": (dt.datetime(2026, 5, 4, 3, 2, 1, tzinfo=dt.timezone.utc), 42),
    }

    async def start() -> None:
        for role, (when, number) in cases.items():
            handle = await listing.client.start_workflow(
                ListingWorkflow.run,
                Job("complete"),
                id=prefix + role,
                task_queue=listing.task_queue,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(DATETIME, when), SearchAttributePair(INT, number)]
                ),
            )
            await handle.result()

    listing.loop.run(start())
    query = f"WorkflowId STARTS_WITH '{prefix}'"
    wait_until(
        lambda: (session.workflows(query, progress=False).status == "Completed").sum() == 3,
        what="the three runs listed as completed",
    )
    df = session.workflows(query, progress=False).set_index("workflow_id")
    assert str(df.WbDatetime.dtype) == "datetime64[us, UTC]"
    assert df.WbInt.dtype == "Int64"
    for role, (when, number) in cases.items():
        assert df.loc[prefix + role, "WbDatetime"] == pd.Timestamp(when)
        assert df.loc[prefix + role, "WbInt"] == number
        described = session.describe(prefix + role).search_attributes
        assert described["WbDatetime"] == pd.Timestamp(when)
        assert described["WbInt"] == number

    # Pages of one run each agree on the types: they join into the listing.
    pages = list(session.iter_workflows(query, page_size=1))
    assert [len(p) for p in pages] == [1, 1, 1]
    joined = pd.concat(pages).set_index("workflow_id")
    assert str(joined.WbDatetime.dtype) == "datetime64[us, UTC]"
    assert joined.WbDatetime.sort_index().tolist() == df.WbDatetime.sort_index().tolist()
    assert joined.WbInt.sort_index().tolist() == df.WbInt.sort_index().tolist()

    df.to_parquet(tmp_path / "extremes.parquet")
    back = pd.read_parquet(tmp_path / "extremes.parquet")
    assert back.WbInt.tolist() == df.WbInt.tolist()
    assert back.WbDatetime.tolist() == df.WbDatetime.tolist()


def test_memo_is_decoded_and_failures_are_marked_per_row(
    session: workbench.Session, listing: Listing
) -> None:
    df = session.workflows(listing.query, progress=False).set_index("workflow_id")
    for i in (1, 2, 3):
        assert df.loc[listing.wid(f"done-{i}"), "memo"] == {
            "customer": {"id": i, "name": f"customer-{i}"},
            "note": f"hello {i}",
        }
        assert pd.isna(df.loc[listing.wid(f"done-{i}"), "memo_error"])
    assert df.loc[listing.wid("bare"), "memo"] is None

    secret = df.loc[listing.wid("secret")]
    assert secret.memo == {"card": None, "plain": "visible"}
    assert secret.memo_error.startswith("card: ")
    assert TEST_KEY_ID in secret.memo_error and "codec" in secret.memo_error
    assert df.memo_error.notna().sum() == 1
    assert TEST_KEY.hex() not in df.to_string() and "card-7c1f-secret" not in df.to_string()


def test_memo_is_decrypted_with_the_sessions_codec(
    session: workbench.Session, listing: Listing
) -> None:
    """Memo is where users keep encrypted data: the session's codec chain decodes it."""
    with workbench.connect(
        address=session.settings.address,
        namespace=session.namespace,
        codec=codecs.AesGcm({TEST_KEY_ID: TEST_KEY}),
        env={},
    ) as s:
        df = s.workflows(listing.query, progress=False).set_index("workflow_id")
        assert df.loc[listing.wid("secret"), "memo"] == {
            "card": {"number": "card-7c1f-secret"},
            "plain": "visible",
        }
        assert df.memo_error.isna().all()
        d = s.describe(listing.wid("secret"))
        assert d.memo == {"card": {"number": "card-7c1f-secret"}, "plain": "visible"}
        assert d.memo_errors == {}
    assert TEST_KEY.hex() not in df.reset_index().to_string()


def test_a_failing_codec_marks_memo_errors_and_loses_no_row(
    session: workbench.Session, listing: Listing
) -> None:
    class DownCodec(PayloadCodec):
        async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
            raise RuntimeError("codec server is down")

        async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
            raise RuntimeError("codec server is down")

    with workbench.connect(
        address=session.settings.address,
        namespace=session.namespace,
        codec=DownCodec(),
        env={},
    ) as s:
        df = s.workflows(listing.query, progress=False)
    assert statuses(df) == listing.expected  # no row lost
    secret = df.set_index("workflow_id").loc[listing.wid("secret")]
    assert "codec server is down" in secret.memo_error
    assert secret.memo["plain"] == "visible"  # plain values are not the codec's business


def test_counts(session: workbench.Session, listing: Listing) -> None:
    assert session.count(listing.query) == 16
    assert session.count(f"{listing.query} AND ExecutionStatus = 'Running'") == 3
    by_status = session.count_by_status(listing.query)
    assert by_status.dtype == np.int64
    assert by_status.index.tolist() == list(STATUS_NAMES)
    assert by_status.index.name == "status"
    expected = pd.Series([s for v in listing.expected.values() for s in v]).value_counts()
    assert by_status[by_status > 0].to_dict() == expected.to_dict()
    assert by_status.sum() == 16
    assert session.count_by_status(f"{listing.query} AND ExecutionStatus = 'Failed'").to_dict() == {
        name: int(name == "Failed") for name in STATUS_NAMES
    }


def test_empty_result_has_the_same_columns(session: workbench.Session, listing: Listing) -> None:
    df = session.workflows(f"WorkflowId = '{listing.prefix}nobody'")
    assert list(df.columns) == list(WORKFLOW_COLUMNS)
    assert len(df) == 0
    assert df.attrs["complete"] is True
    full = session.workflows(listing.query, progress=False)
    assert df.dtypes.to_dict() == full.dtypes[list(WORKFLOW_COLUMNS)].to_dict()
    assert session.count(f"WorkflowId = '{listing.prefix}nobody'") == 0


def test_paging_limit_and_streaming(session: workbench.Session, listing: Listing) -> None:
    whole = session.workflows(listing.query, progress=False)
    pages: list[tuple[int, int]] = []
    paged = session.workflows(
        listing.query, page_size=3, progress=False, on_page=lambda p, r: pages.append((p, r))
    )
    assert sorted(paged.run_id) == sorted(whole.run_id) and paged.run_id.is_unique
    assert pages == [(i, min(3 * i, 16)) for i in range(1, 7)]

    limited = session.workflows(listing.query, page_size=3, limit=7, progress=False)
    assert len(limited) == 7 and limited.run_id.is_unique
    assert set(limited.run_id) <= set(whole.run_id)
    assert limited.attrs["complete"] is True
    assert len(session.workflows(listing.query, limit=0)) == 0

    assert limited.attrs["limit_reached"] is True
    assert whole.attrs["limit_reached"] is False
    # Exactly the 16 runs there are: nothing was cut, whether the limit ends a partly filled
    # page (one more row is asked for) or a full one (the next page's first row is).
    for page_size in (1000, 8, 4, 16):
        exact = session.workflows(listing.query, limit=16, page_size=page_size, progress=False)
        assert len(exact) == 16 and exact.attrs["limit_reached"] is False, page_size
        cut = session.workflows(listing.query, limit=12, page_size=page_size, progress=False)
        assert len(cut) == 12 and cut.attrs["limit_reached"] is True, page_size
    assert not session.workflows(listing.query, limit=17, progress=False).attrs["limit_reached"]
    # numpy integers, as pandas hands them out, are limits too.
    assert len(session.workflows(listing.query, limit=np.int64(3), progress=False)) == 3
    assert [len(f) for f in session.iter_workflows(listing.query, page_size=np.int32(8))] == [8, 8]

    frames_ = list(session.iter_workflows(listing.query, page_size=5))
    assert [len(f) for f in frames_] == [5, 5, 5, 1]
    for f in frames_:
        assert list(f.columns[: len(WORKFLOW_COLUMNS)]) == list(WORKFLOW_COLUMNS)
    streamed = pd.concat(frames_)
    assert sorted(streamed.run_id) == sorted(whole.run_id)
    # The index goes on from page to page: the concatenation is indexed like the listing.
    assert [f.index[0] for f in frames_] == [0, 5, 10, 15]
    pd.testing.assert_index_equal(streamed.index, whole.index)
    assert [len(f) for f in session.iter_workflows(listing.query, page_size=5, limit=12)] == [
        5,
        5,
        2,
    ]
    # 16 runs in pages of 4 or 8: the server ends with an empty page, which is not yielded.
    assert [len(f) for f in session.iter_workflows(listing.query, page_size=4)] == [4] * 4
    assert [len(f) for f in session.iter_workflows(listing.query, page_size=8)] == [8, 8]
    # An empty listing yields the schema once, so pd.concat always has a frame to join.
    (empty,) = session.iter_workflows(f"WorkflowId = '{listing.prefix}nobody'")
    assert list(empty.columns) == list(WORKFLOW_COLUMNS) and len(empty) == 0
    (none,) = session.iter_workflows(listing.query, limit=0)
    assert len(none) == 0


def test_malformed_arguments_are_named(session: workbench.Session) -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: session.workflows(limit="5"), "limit"),  # type: ignore[arg-type]
        (lambda: session.workflows(limit=-1), "limit"),
        (lambda: session.workflows(limit=True), "limit"),
        (lambda: session.workflows(page_size=0), "page_size"),
        (lambda: session.iter_workflows(limit=2.5), "limit"),  # type: ignore[arg-type]
        (lambda: session.workflows(42), "query"),  # type: ignore[arg-type]
        (lambda: session.count(None), "query"),  # type: ignore[arg-type]
        (lambda: session.describe(""), "workflow_id"),
        (lambda: session.describe("order-1", 7), "run_id"),  # type: ignore[arg-type]
        (lambda: session.history(""), "workflow_id"),
        (lambda: session.history("order-1", page_size="x"), "page_size"),  # type: ignore[arg-type]
        (lambda: session.history("order-1", page_size=-1), "page_size"),
        (lambda: session.count_by_status("WorkflowType='X' GROUP BY WorkflowType"), "query"),
        (lambda: session.count_by_status("order  by StartTime"), "query"),
    ]
    for call, argument in cases:
        with pytest.raises(workbench.ArgumentError) as info:
            call()
        assert info.value.argument == argument
        assert argument in str(info.value)
    with pytest.raises(ValueError, match="GROUP BY"):  # ArgumentError is a ValueError too
        session.count_by_status("WorkflowType='X' group by WorkflowType")
    # Words inside quoted values are values, not clauses.
    by_status = session.count_by_status("WorkflowId = 'group by order by'")
    assert by_status.sum() == 0


def test_invalid_query_and_unknown_search_attribute(session: workbench.Session) -> None:
    bad = "WorkflowType = "
    for call in (session.workflows, session.count, session.count_by_status):
        with pytest.raises(workbench.QueryError) as info:
            call(bad)
        assert info.value.query == bad
        assert "syntax error" in info.value.server_message
        assert repr(bad) in str(info.value)
    with pytest.raises(workbench.QueryError) as info:
        session.workflows("NoSuchAttribute = 'x'", progress=False)
    assert "unknown search attribute 'NoSuchAttribute'" in str(info.value)
    assert "NoSuchAttribute" in info.value.server_message
    with pytest.raises(workbench.QueryError, match="WbInt"):
        session.count("WbInt = 'not a number'")
    with pytest.raises(workbench.QueryError) as info:
        list(session.iter_workflows("NoSuchAttribute = 1"))
    assert "NoSuchAttribute" in str(info.value)


# ------------------------------------------------------------------------------ interruption
def test_stop_event_returns_the_pages_received(
    session: workbench.Session, listing: Listing
) -> None:
    stop = threading.Event()

    def on_page(pages: int, rows: int) -> None:
        if pages == 2:
            stop.set()

    with pytest.warns(workbench.ListingInterrupted, match="4 rows"):
        df = session.workflows(
            listing.query, page_size=2, progress=False, on_page=on_page, stop=stop
        )
    assert len(df) == 4 and df.run_id.is_unique
    assert df.attrs["complete"] is False and df.attrs["next_page_token"]
    assert list(df.columns[: len(WORKFLOW_COLUMNS)]) == list(WORKFLOW_COLUMNS)


def test_keyboard_interrupt_returns_the_pages_received(
    session: workbench.Session, listing: Listing
) -> None:
    def on_page(pages: int, rows: int) -> None:
        if pages == 3:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C / Jupyter Stop
            time.sleep(5)  # the KeyboardInterrupt lands here

    with pytest.warns(workbench.ListingInterrupted, match="stopped early"):
        df = session.workflows(listing.query, page_size=2, progress=True, on_page=on_page)
    assert len(df) == 6 and df.run_id.is_unique
    assert df.attrs["complete"] is False
    # The session is still usable afterwards.
    assert len(session.workflows(listing.query, progress=False)) == 16


def test_interrupt_wherever_it_lands_keeps_whole_pages_once(
    session: workbench.Session, listing: Listing
) -> None:
    """A Ctrl-C from outside (a timer thread) lands while a page is awaited or converted."""
    for delay in (0.0, 0.002, 0.01):
        timers: list[threading.Timer] = []

        def on_page(
            pages: int,
            rows: int,
            delay: float = delay,
            timers: list[threading.Timer] = timers,
        ) -> None:
            if pages == 2:
                timers.append(threading.Timer(delay, signal.raise_signal, (signal.SIGINT,)))
                timers[0].start()
            if pages >= 7:  # the listing must not finish before the interrupt lands
                time.sleep(5)

        with pytest.warns(workbench.ListingInterrupted):
            df = session.workflows(listing.query, page_size=2, progress=False, on_page=on_page)
        timers[0].join()
        assert 4 <= len(df) < 16 and len(df) % 2 == 0  # whole pages of 2 rows
        assert df.run_id.is_unique and df.attrs["complete"] is False
        assert set(df.run_id) <= set(session.workflows(listing.query, progress=False).run_id)


def test_ctrl_c_during_counts_and_describes_leaves_the_session_usable(
    session: workbench.Session, listing: Listing
) -> None:
    """Interrupts landing at many points of single calls (count, describe): the session must
    answer afterwards (a channel lock left held by an interrupt would hang every later call)."""
    wid = listing.wid("done-1")
    for delay in (0.0, 0.0003, 0.001, 0.002, 0.004, 0.008):
        timer = threading.Timer(delay, signal.raise_signal, (signal.SIGINT,))
        interrupted = False
        try:
            timer.start()  # with no delay the interrupt may land in here already
            for _ in range(400):
                session.count(listing.query)
                session.describe(wid)
        except KeyboardInterrupt:
            interrupted = True
        timer.join()
        assert interrupted, f"the interrupt after {delay} s did not land in the calls"
    answers: list[int] = []
    worker = threading.Thread(target=lambda: answers.append(session.count(listing.query)))
    worker.start()
    worker.join(30)
    assert answers == [16], "the session no longer answers after the interrupts"
    assert session.describe(wid).status == "Completed"


# ------------------------------------------------------------------------------ describe
def test_describe_a_running_workflow_with_pending_work(
    session: workbench.Session, listing: Listing
) -> None:
    wid = listing.wid("pending")

    def retried() -> bool:
        acts = session.describe(wid).pending_activities
        return len(acts) == 1 and acts.attempt.iloc[0] >= 2

    wait_until(retried, what="the pending activity has failed at least once")
    d = session.describe(wid)
    assert isinstance(d, workbench.WorkflowDescription)
    assert d.workflow_id == wid and d.status == "Running"
    assert d.workflow_type == "ListingWorkflow"
    assert d.info.task_queue == listing.task_queue
    assert pd.isna(d.info.close_time) and d.info.start_time.tz is not None

    acts = d.pending_activities
    assert list(acts.columns) == list(frames.PENDING_ACTIVITY_COLUMNS)
    act = acts.iloc[0]
    assert act.activity_type == "always_fails" and act.activity_id == "1"
    assert act.attempt >= 2 and act.maximum_attempts == 0
    assert "card declined for order-7" in act.last_failure
    assert isinstance(act.last_worker_identity, str) and act.last_worker_identity  # the worker's
    assert str(act.state) in ("Scheduled", "Started")
    assert isinstance(acts.state.dtype, pd.CategoricalDtype)
    assert str(acts.scheduled_time.dtype) == "datetime64[ns, UTC]"
    # The server adds a little jitter to the 1 s retry interval.
    assert pd.Timedelta(seconds=1) <= act.current_retry_interval < pd.Timedelta(seconds=2)

    kids = d.pending_children
    assert list(kids.columns) == list(frames.PENDING_CHILD_COLUMNS)
    assert kids.workflow_id.tolist() == [listing.wid("pending-child")]
    assert kids.workflow_type.tolist() == ["ListingWorkflow"]
    assert kids.parent_close_policy.tolist() == ["Terminate"]
    assert d.memo == {} and d.search_attributes.get("WbKeyword") is None
    assert wid in repr(d) and "pending_activities=1" in repr(d)


def test_describe_completed_run_memo_and_search_attributes(
    session: workbench.Session, listing: Listing
) -> None:
    d = session.describe(listing.wid("done-3"))
    assert d.status == "Completed"
    assert d.pending_activities.empty and d.pending_children.empty
    assert list(d.pending_activities.columns) == list(frames.PENDING_ACTIVITY_COLUMNS)
    assert d.memo == {"customer": {"id": 3, "name": "customer-3"}, "note": "hello 3"}
    sa = d.search_attributes
    assert sa["WbKeyword"] == listing.tag and sa["WbText"] == "order number 3"
    assert sa["WbInt"] == 2**40 and sa["WbDouble"] == 3.25 and sa["WbBool"] is True
    assert sa["WbDatetime"] == pd.Timestamp("2026-01-03T12:30:00Z")
    assert sa["WbKeywordList"] == ["k3", "common"]
    assert d.info.WbInt == 2**40 and d.info.duration >= pd.Timedelta(0)

    # A specific run: the first run of the continued-as-new workflow.
    first = listing.run_ids[listing.wid("can")][0]
    assert session.describe(listing.wid("can"), first).status == "ContinuedAsNew"
    assert session.describe(listing.wid("can")).status == "Completed"


def test_describe_not_found_names_the_workflow(session: workbench.Session) -> None:
    with pytest.raises(workbench.NotFound) as info:
        session.describe("order-does-not-exist")
    assert info.value.workflow_id == "order-does-not-exist"
    assert "'order-does-not-exist'" in str(info.value) and "'default'" in str(info.value)
    run = str(uuid.uuid4())
    with pytest.raises(workbench.NotFound) as info:
        session.describe("order-does-not-exist", run)
    assert info.value.run_id == run and run in str(info.value)
    with pytest.raises(workbench.NotFound, match="not a valid run id"):
        session.describe("order-does-not-exist", "not-a-uuid")


# ------------------------------------------------------------------------------ faults
async def _seed_trivial(address: str, prefix: str, n: int) -> list[str]:
    client = await Client.connect(address, namespace="default")
    queue = f"wb-trivial-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow]):
        sem = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            async with sem:
                h = await client.start_workflow(TrivialWorkflow.run, i, id=ids[i], task_queue=queue)
                await h.result()

        await asyncio.gather(*(one(i) for i in range(n)))
    return ids


def test_listing_survives_a_server_restart(make_dev_server: Callable[..., DevServer]) -> None:
    server = make_dev_server()
    loop = LoopThread()
    try:
        ids = loop.run(_seed_trivial(server.address, "restart-", 300))
    finally:
        loop.close()
    query = "WorkflowId STARTS_WITH 'restart-'"
    with workbench.connect(server.address, "default", env={}) as s:
        wait_until(
            lambda: s.count(f"{query} AND ExecutionStatus = 'Completed'") == 300,
            what="300 completed workflows listed",
        )
        restarter: list[threading.Thread] = []

        def on_page(pages: int, rows: int) -> None:
            if pages == 2:
                server.stop()  # page 3 is already in flight; page 4 will find no server
                restarter.append(threading.Thread(target=server.start))
                restarter[0].start()

        df = s.workflows(query, page_size=50, progress=False, on_page=on_page)
        restarter[0].join(120)
        assert server.starts == 2 and server.running
        assert df.attrs["retries"] > 0
        assert len(df) == 300 and df.workflow_id.is_unique
        assert sorted(df.workflow_id) == ids
        assert (df.status == "Completed").all()


def test_rate_limited_pages_are_retried(make_dev_server: Callable[..., DevServer]) -> None:
    server = make_dev_server(dynamic_config={"system.visibilityPersistenceMaxReadQPS": 2})
    loop = LoopThread()
    try:
        ids = loop.run(_seed_trivial(server.address, "limited-", 60))
    finally:
        loop.close()
    query = "WorkflowId STARTS_WITH 'limited-'"
    with workbench.connect(server.address, "default", env={}) as s:
        wait_until(
            lambda: s.workflows(query, progress=False).status.eq("Completed").sum() == 60,
            what="60 completed workflows listed",
        )
        df = s.workflows(query, page_size=4, progress=False)
        assert df.attrs["retries"] > 0  # the server did answer RESOURCE_EXHAUSTED
        assert sorted(df.workflow_id) == ids and df.workflow_id.is_unique


# ------------------------------------------------------------------------------ pure frames
def test_default_memo_decoder_never_raises() -> None:
    good = DataConverter.default.payload_converter.to_payloads([{"a": 1}, None, "x"])
    odd = Payload(metadata={"encoding": b"binary/zstd"}, data=b"\x00")
    broken = Payload(metadata={"encoding": b"json/plain"}, data=b"{not json")
    results = frames.default_decode_memo([*good, encrypt(1), odd, broken])
    assert [v for v, _ in results[:3]] == [{"a": 1}, None, "x"]
    assert all(e is None for _, e in results[:3])
    assert results[3][0] is None and TEST_KEY_ID in str(results[3][1])
    assert results[4][0] is None and "binary/zstd" in str(results[4][1])
    assert results[5][0] is None and results[5][1]


def test_pages_with_nothing_optional_and_a_type_that_changes() -> None:
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    conv = DataConverter.default.payload_converter
    bare = [WorkflowExecutionInfo(status=1, task_queue="q") for _ in range(3)]
    for i, e in enumerate(bare):
        e.execution.workflow_id, e.execution.run_id = f"w{i}", f"r{i}"
    typed = [WorkflowExecutionInfo() for _ in range(2)]
    for t, e in zip(("Int", "Keyword"), typed, strict=True):
        p = e.search_attributes.indexed_fields["Shifty"]
        p.CopyFrom(conv.to_payloads([1 if t == "Int" else "one"])[0])
        p.metadata["type"] = t.encode()
    df = frames.workflows_frame([bare, typed[:1], typed[1:]])
    assert len(df) == 5 and df.workflow_id.tolist()[:3] == ["w0", "w1", "w2"]
    assert df.memo.isna().all() and df.close_time.isna().all()
    assert pd.isna(df.parent_workflow_id).all() and pd.isna(df.root_workflow_id).all()
    assert df.Shifty.dtype == object and df.Shifty.tolist() == [None, None, None, 1, "one"]


@pytest.mark.parametrize("fast_path", [True, False])
def test_int_values_rounded_beyond_int64_become_its_ends(fast_path: bool) -> None:
    """What the dev server sends for int64's ends (float64-rounded text) becomes int64's ends;
    an integer truly beyond int64 keeps the column in Python ints, losing nothing."""
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    def page(texts: list[bytes]) -> list[Any]:
        rows = [WorkflowExecutionInfo(status=2, task_queue="q") for _ in texts]
        for i, (e, text) in enumerate(zip(rows, texts, strict=True)):
            e.execution.workflow_id, e.execution.run_id = f"w{i}", f"r{i}"
            p = e.search_attributes.indexed_fields["Big"]
            p.metadata["encoding"], p.metadata["type"], p.data = b"json/plain", b"Int", text
            if not fast_path and i == 0:  # a payload without data sends the page row by row
                e.search_attributes.indexed_fields["Empty"].metadata["type"] = b"Int"
        return rows

    rounded = [b"-9223372036854776000", b"9223372036854776000", b"7"]
    df = frames.workflows_frame([page(rounded)])
    assert df.Big.dtype == "Int64"
    assert df.Big.tolist() == [-(2**63), 2**63 - 1, 7]

    beyond = frames.workflows_frame([page([b"100000000000000000000000000000", b"7"])])
    assert beyond.Big.dtype == object and beyond.Big.tolist() == [10**29, 7]


def test_a_double_written_without_a_fraction_is_a_float() -> None:
    from workbench.payloads import search_attribute_value

    payload = Payload(metadata={"encoding": b"json/plain", "type": b"Double"}, data=b"1")
    decoded = frames.decode_search_attributes({"Price": payload})["Price"]
    assert decoded == 1.0 and isinstance(decoded, float)
    value = search_attribute_value(1, payload)
    assert value == 1.0 and isinstance(value, float)


@pytest.mark.parametrize("same_keys", [True, False])
def test_memo_keys_come_in_name_order_whatever_order_the_server_sends(same_keys: bool) -> None:
    """The server writes each run's memo map in an order of its own: the dicts and the
    memo_error texts must not change from one listing to the next."""
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    rows = []
    for i, order in enumerate((["b", "a"], ["a", "b"], ["b", "a", "c"][: 2 if same_keys else 3])):
        e = WorkflowExecutionInfo(status=2, task_queue="q")
        e.execution.workflow_id, e.execution.run_id = f"w{i}", f"r{i}"
        for key in order:
            e.memo.fields[key].CopyFrom(encrypt(key))
        rows.append(e)
    df = frames.workflows_frame([rows])
    for i in range(3):
        keys = sorted(df.memo[i])
        assert list(df.memo[i]) == keys
        assert [part.split(":")[0] for part in df.memo_error[i].split("; ")] == keys


def test_an_activity_no_worker_picked_up_has_no_identity() -> None:
    from temporalio.api.workflow.v1 import PendingActivityInfo

    acts = frames.pending_activities_frame(
        [PendingActivityInfo(activity_id="1"), PendingActivityInfo(last_worker_identity="w@h")]
    )
    assert pd.isna(acts.last_worker_identity.iloc[0])
    assert acts.last_worker_identity.iloc[1] == "w@h"
    assert acts.last_worker_identity.dtype == "str"


def test_text_no_arrow_can_hold_is_kept() -> None:
    """JSON may spell a lone surrogate ("\\ud800"), which Python reads and Arrow (pandas' store
    for "str") refuses: the listing keeps it, and no other value is lost."""
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    rows = [WorkflowExecutionInfo(status=2, task_queue="q") for _ in range(3)]
    data = {
        "Kw": [b'"\\ud800"', b'"ok"', b'"fine"'],  # every value a string
        "Mixed": [b'"\\udc00"', b"2.5", b'"x"'],  # a Keyword holding a number too
        "Untyped": [b'"\\ud800"', b'"a"', b'"b"'],
    }
    types = {"Kw": b"Keyword", "Mixed": b"Text", "Untyped": b""}
    for i, e in enumerate(rows):
        e.execution.workflow_id, e.execution.run_id = f"w{i}", f"r{i}"
        for name, values in data.items():
            p = e.search_attributes.indexed_fields[name]
            p.metadata["encoding"] = b"json/plain"
            if types[name]:
                p.metadata["type"] = types[name]
            p.data = values[i]
    for storage in ("pyarrow", "python"):
        with pd.option_context("mode.string_storage", storage):
            df = frames.workflows_frame([rows])
            assert df.workflow_id.tolist() == ["w0", "w1", "w2"]
            assert df.Kw.dtype == "str" and df.Kw.tolist() == ["\ud800", "ok", "fine"]
            assert df.Mixed.dtype == "str" and df.Mixed.tolist() == ["\udc00", "2.5", "x"]
            assert df.Untyped.tolist() == ["\ud800", "a", "b"]


def test_empty_frame_schema() -> None:
    df = frames.empty_workflows_frame()
    assert list(df.columns) == list(WORKFLOW_COLUMNS) and len(df) == 0
    assert isinstance(df.status.dtype, pd.CategoricalDtype)
    assert str(df.close_time.dtype) == "datetime64[ns, UTC]"
    assert df.workflow_id.dtype == "str" and df.memo.dtype == object


def _synthetic_page(n: int) -> list[Any]:
    """Executions covering what the column-wise reader must get right: unset and zero-nanos
    timestamps, parents on some rows, memos and search attributes on some rows only, unicode,
    a KeywordList holding one string, and a search attribute whose payload has no data."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    conv = DataConverter.default.payload_converter
    sa_types = ["Keyword", "Text", "Int", "Double", "Bool", "Datetime", "KeywordList"]
    sa_values: list[Any] = [
        "ünïcode ✓",
        'say "hi"\n',
        -(2**62),
        -0.5,
        False,
        "2026-03-04T05:06:07.123456789Z",
        ["x", "y"],
    ]
    out = []
    for i in range(n):
        e = WorkflowExecutionInfo(status=(i % 7) + 1, task_queue=f"q{i % 3}")
        e.execution.workflow_id, e.execution.run_id = f"wf-{i}", f"run-{i}"
        e.type.name = f"Type{i % 2}"
        e.start_time.CopyFrom(Timestamp(seconds=1_700_000_000 + i, nanos=0 if i % 4 == 0 else i))
        e.execution_time.CopyFrom(e.start_time)
        if i % 7 != 0:  # not running
            e.close_time.CopyFrom(Timestamp(seconds=1_700_000_100 + i, nanos=(i * 7) % 3))
            e.history_length = i
        e.history_size_bytes = 10 * i
        e.state_transition_count = i % 5
        if i % 3 == 0:
            e.parent_execution.workflow_id, e.parent_execution.run_id = f"p-{i}", f"pr-{i}"
        if i % 5 != 0:
            e.root_execution.workflow_id, e.root_execution.run_id = f"r-{i}", f"rr-{i}"
        if i % 2 == 0:
            e.memo.fields["a"].CopyFrom(conv.to_payloads([{"i": i}])[0])
        if i % 6 == 0:
            e.memo.fields["b"].CopyFrom(Payload(metadata={"encoding": b"binary/zstd"}, data=b"x"))
        for k, (t, v) in enumerate(zip(sa_types, sa_values, strict=True)):
            if (i + k) % 3 != 0:
                p = e.search_attributes.indexed_fields[f"Sa{t}"]
                p.CopyFrom(conv.to_payloads([v if i != 5 or t != "KeywordList" else "solo"])[0])
                p.metadata["type"] = t.encode()
        if i == 9:
            p = e.search_attributes.indexed_fields["SaEmpty"]
            p.metadata["type"] = b"Keyword"  # and no data
        if i == 11:  # fields left empty, an empty memo payload, a field unknown to the views
            e.task_queue = ""
            e.type.name = ""
            e.memo.fields["empty"].CopyFrom(Payload())
            e.search_attributes.MergeFromString(b"\x10\x01")
            e.memo.MergeFromString(b"\x10\x01")
        out.append(e)
    return out


@pytest.mark.parametrize("uniform", [False, True])
def test_column_wise_reading_matches_a_row_by_row_reading(uniform: bool) -> None:
    execs = _synthetic_page(40)
    if uniform:  # every row sets the same fields, memo keys and search attributes: fast paths
        for e in execs:
            e.start_time.nanos = e.execution_time.nanos = 1
            e.close_time.seconds, e.close_time.nanos = e.start_time.seconds + 9, 2
            e.history_length, e.task_queue, e.type.name = 3, "q", "T"
            e.ClearField("memo")
            e.memo.fields["a"].CopyFrom(encrypt(1))
            e.search_attributes.indexed_fields.pop("SaEmpty", None)
            for name in list(e.search_attributes.indexed_fields):
                if name != "SaInt":
                    del e.search_attributes.indexed_fields[name]
            p = e.search_attributes.indexed_fields["SaInt"]
            p.CopyFrom(DataConverter.default.payload_converter.to_payloads([7])[0])
            p.metadata["type"] = b"Int"
    df = frames.workflows_frame([execs])  # a sequence of WorkflowExecutionInfo
    from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsResponse

    response = ListWorkflowExecutionsResponse(executions=execs)
    page = frames.ListPage.FromString(response.SerializeToString())
    pd.testing.assert_frame_equal(frames.workflows_frame([page]), df)

    def ts(t: Any) -> Any:
        return pd.Timestamp(t.seconds * 10**9 + t.nanos, tz="UTC") if t.seconds else pd.NaT

    for i, e in enumerate(execs):
        r = df.iloc[i]
        assert (r.workflow_id, r.run_id, r.workflow_type) == (
            e.execution.workflow_id,
            e.execution.run_id,
            e.type.name,
        )
        assert r.status == STATUS_NAMES[e.status - 1] and r.task_queue == e.task_queue
        assert r.start_time == ts(e.start_time) and r.execution_time == ts(e.execution_time)
        if e.HasField("close_time"):
            assert r.close_time == ts(e.close_time)
            assert r.duration == ts(e.close_time) - ts(e.start_time)
        else:
            assert r.close_time is pd.NaT and r.duration is pd.NaT
        assert (r.history_length, r.history_size_bytes, r.state_transition_count) == (
            e.history_length,
            e.history_size_bytes,
            e.state_transition_count,
        )
        for prefix, sub in (("parent", e.parent_execution), ("root", e.root_execution)):
            got = (r[f"{prefix}_workflow_id"], r[f"{prefix}_run_id"])
            want = (sub.workflow_id, sub.run_id)
            assert got == want if sub.workflow_id else all(pd.isna(x) for x in got)
        decoded = frames.default_decode_memo(list(e.memo.fields.values()))
        want_memo = {k: v for k, (v, _err) in zip(e.memo.fields, decoded, strict=True)}
        assert r.memo == (want_memo or None)
        errors = [k for k, (_v, err) in zip(e.memo.fields, decoded, strict=True) if err]
        if errors:
            assert all(f"{k}: " in r.memo_error for k in errors)
        else:
            assert pd.isna(r.memo_error)
        sa = frames.decode_search_attributes(e.search_attributes.indexed_fields)
        for name in [c for c in df.columns if c.startswith("Sa")]:
            if name not in sa:
                assert r[name] is None or pd.isna(r[name]), (i, name)
            elif name == "SaDatetime":
                assert r[name] == pd.Timestamp(sa[name]), (i, name)
            else:
                assert r[name] == sa[name] or (sa[name] is None and pd.isna(r[name])), (i, name)
    if not uniform:
        assert df.SaKeywordList[5] == ["solo"] and df.SaInt.dtype == "Int64"
        # Written with nine fraction digits; the column keeps microseconds.
        assert df.SaDatetime.dropna().iloc[0] == pd.Timestamp("2026-03-04T05:06:07.123456Z")
        assert df.SaKeyword.dropna().iloc[0] == "ünïcode ✓" and pd.isna(df.SaEmpty[9])
        assert df.task_queue[11] == "" and df.workflow_type[11] == ""
        assert df.memo[11] == {"empty": None} and "empty: " in df.memo_error[11]
    else:
        assert df.SaInt.tolist() == [7] * 40
        assert df.memo_error.str.contains(TEST_KEY_ID).all()


def _memo_page(shape: str, n: int = 24) -> list[Any]:
    """Executions whose memo values come in several shapes at once (see the test below)."""
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    conv = DataConverter.default.payload_converter
    out = []
    for i in range(n):
        e = WorkflowExecutionInfo(status=2)
        e.execution.workflow_id, e.execution.run_id = f"m-{i}", f"mr-{i}"
        fields = e.memo.fields
        if shape == "two-keys":  # every value encrypted, under one of two key ids
            fields["a"].CopyFrom(encrypt({"i": i}))
            if i % 3 == 0:
                fields["a"].metadata["encryption-key-id"] = b"retired-key"
        elif shape == "mixed":  # JSON and encrypted values side by side, keys on some rows
            fields["plain"].CopyFrom(conv.to_payloads([f"v{i}"])[0])
            if i % 2:
                fields["card"].CopyFrom(encrypt(i))
            if i % 5 == 0:
                fields["odd"].CopyFrom(Payload(metadata={"encoding": b"binary/zstd"}, data=b"?"))
        else:  # "json": every value JSON, a few that only the SDK converter reads or rejects
            data = b'{"i": %d}' % i
            if i == 4:
                data = b" 4 "  # surrounding space: not the scanner's, json.loads reads it
            if i == 7:
                data = b"{"  # broken
            if i == 0:
                data = b"\xff"  # not UTF-8
            fields["j"].CopyFrom(Payload(metadata={"encoding": b"json/plain"}, data=data))
        out.append(e)
    return out


@pytest.mark.parametrize("shape", ["two-keys", "mixed", "json"])
@pytest.mark.parametrize("decoder", ["default", "chain", "aes-chain"])
def test_memo_read_by_column_matches_each_payload_decoded_alone(shape: str, decoder: str) -> None:
    """The listing decodes a page's memo values by groups of one shape (one error text for all
    the payloads no codec reads, JSON read in one pass); every row must still say exactly
    what decoding its own payloads alone says."""
    from workbench.session import _ChainMemo

    decode: Any = {
        "default": frames.default_decode_memo,
        "chain": _ChainMemo(codecs.DEFAULT),
        "aes-chain": _ChainMemo(codecs.Chain(codecs.AesGcm({TEST_KEY_ID: TEST_KEY}))),
    }[decoder]
    execs = _memo_page(shape)
    df = frames.workflows_frame([execs], decode_memo=decode)
    assert len(df) == len(execs)
    for e, (_, row) in zip(execs, df.iterrows(), strict=True):
        keys = list(e.memo.fields)
        alone = decode([e.memo.fields[k] for k in keys])
        assert row.memo == {k: value for k, (value, _err) in zip(keys, alone, strict=True)}
        failed = [f"{k}: {err}" for k, (_value, err) in zip(keys, alone, strict=True) if err]
        if failed:  # in the order of the memo's entries
            assert row.memo_error in {"; ".join(p) for p in itertools.permutations(failed)}
        else:
            assert pd.isna(row.memo_error)
    if shape == "two-keys" and decoder == "aes-chain":
        assert df.memo[1] == {"a": {"i": 1}} and "retired-key" in df.memo_error[0]
    if shape == "json":
        assert df.memo[4] == {"j": 4} and df.memo[7] == {"j": None} and "j: " in df.memo_error[7]
        assert df.memo[0] == {"j": None} and "j: " in df.memo_error[0]

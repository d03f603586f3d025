"""Histories decoded inline: real workflows, run by a real worker, encrypted like the samples do.

One scenario (fixture ``scenario``) runs ``OrderWorkflow`` through every kind of payload a history
holds, with the samples' AES-GCM codec wrapped around the Go SDK's zlib codec, failure messages
encoded (``DefaultFailureConverterWithEncodedAttributes``), headers encoded
(``HeaderCodecBehavior.CODEC``), and the encryption key rotated from ``key-a`` to ``key-b`` in the
middle of the first run. The tests then read it back through ``Session.history`` and check what a
user would: the values the workflow was given, the encodings, the key ids, and what happens to a
payload that cannot be decoded.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gc
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import pandas as pd
import pytest
from codec_samples import SampleChain, SampleEncryptionCodec, SampleZlibCodec
from google.protobuf.json_format import MessageToDict
from rig import DevServer
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History as HistoryProto
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import (
    HeaderCodecBehavior,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    PayloadCodec,
    PayloadConverter,
)
from temporalio.worker import Worker
from workflows_history import (
    FLAKY_FAILURES,
    TRACE_HEADER,
    TRACE_VALUE,
    ChildWorkflow,
    HeartbeatWorkflow,
    OrderWorkflow,
    TraceInterceptor,
    add_tax,
    beats_then_stalls,
    charge,
    decline,
    flaky,
)

import workbench
from workbench import History, NotFound, codecs
from workbench.payloads import find_payloads, iter_payload_locations

T = TypeVar("T")

KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
ENCRYPTED = "binary/encrypted → binary/zlib → json/plain"

ORDER: dict[str, Any] = {"order_id": "o-1", "amount": 20.5, "items": ["A-1", "B-2"]}
MEMO: dict[str, Any] = {"customer": {"name": "Ada", "tier": "gold"}, "priority": 2}
SEARCH_ATTRIBUTES: dict[str, Any] = {
    "WbKeyword": "order-o-1",
    "WbText": "rush order",
    "WbInt": 7,
    "WbDouble": 1.5,
    "WbBool": True,
    "WbDatetime": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    "WbKeywordList": ["a", "b"],
}
_SA_KEYS = {
    "WbKeyword": SearchAttributeKey.for_keyword,
    "WbText": SearchAttributeKey.for_text,
    "WbInt": SearchAttributeKey.for_int,
    "WbDouble": SearchAttributeKey.for_float,
    "WbBool": SearchAttributeKey.for_bool,
    "WbDatetime": SearchAttributeKey.for_datetime,
    "WbKeywordList": SearchAttributeKey.for_keyword_list,
}


def full_chain() -> codecs.Chain:
    """The workbench chain that reads everything the scenario wrote."""
    return codecs.Chain(codecs.AesGcm({"key-a": KEY_A, "key-b": KEY_B}), codecs.Zlib())


class LoopThread:
    """An asyncio loop in a thread: the SDK's client and worker live there while the tests,
    like a notebook user, call workbench's synchronous API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Scenario:
    address: str
    workflow_id: str
    run1: str
    run2: str
    encryption: SampleEncryptionCodec
    converter: DataConverter
    loop: LoopThread
    client: Client
    task_queue: str


async def _wait_for_events(client: Client, workflow_id: str, run_id: str, *wanted: str) -> None:
    """Poll the run's history until it holds every wanted event type (deadline 60 s)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    deadline = time.monotonic() + 60
    while True:
        history = await handle.fetch_history()
        names = {e.event_type for e in history.events}
        from temporalio.api.enums.v1 import EventType

        if all(EventType.Value(f"EVENT_TYPE_{w}") in names for w in wanted):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{wanted} not in the history of {workflow_id} after 60 s")
        await asyncio.sleep(0.05)


async def _run_scenario(address: str, loop: LoopThread) -> Scenario:
    encryption = SampleEncryptionCodec({"key-a": KEY_A, "key-b": KEY_B}, key_id="key-a")
    # The Go sample's order: compress, then encrypt (so decode peels encrypted, then zlib).
    converter = dataclasses.replace(
        DataConverter.default,
        payload_codec=SampleChain(SampleZlibCodec(), encryption),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
    client = await Client.connect(
        address,
        namespace="default",
        data_converter=converter,
        interceptors=[TraceInterceptor()],
        header_codec_behavior=HeaderCodecBehavior.CODEC,
    )
    task_queue = f"wb-history-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow, ChildWorkflow],
        activities=[charge, flaky, add_tax, decline],
    )
    worker_task = asyncio.ensure_future(worker.run())
    workflow_id = f"order-{uuid.uuid4().hex[:8]}"
    sas = TypedSearchAttributes(
        [SearchAttributePair(_SA_KEYS[k](k), v) for k, v in SEARCH_ATTRIBUTES.items()]  # type: ignore[operator]
    )
    handle = await client.start_workflow(
        OrderWorkflow.run,
        ORDER,
        id=workflow_id,
        task_queue=task_queue,
        memo=MEMO,
        search_attributes=sas,
    )
    run1 = handle.result_run_id or ""
    # Everything up to the local activity and the search-attribute upsert is encrypted with
    # key-a; rotate, and every payload written from the signal on uses key-b.
    await _wait_for_events(
        client, workflow_id, run1, "MARKER_RECORDED", "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"
    )
    encryption.key_id = "key-b"
    await handle.signal(OrderWorkflow.approve, args=["ada", {"note": "rush"}])
    assert await handle.execute_update(OrderWorkflow.set_discount, 0.1) == {
        "discount": 0.1,
        "accepted": True,
    }
    with pytest.raises(WorkflowFailureError):
        await client.get_workflow_handle(workflow_id).result()
    run2 = (await client.get_workflow_handle(workflow_id).describe()).run_id
    assert run2 != run1
    scenario = Scenario(
        address, workflow_id, run1, run2, encryption, converter, loop, client, task_queue
    )
    scenario._worker = worker  # type: ignore[attr-defined]
    scenario._worker_task = worker_task  # type: ignore[attr-defined]
    return scenario


_STATE: dict[str, Scenario] = {}


@pytest.fixture(scope="session")
def scenario(dev_server: DevServer) -> Iterator[Scenario]:
    """The order scenario, run once per session (test_history_json.py imports this fixture;
    the cache makes the second import reuse the first run)."""
    cached = _STATE.get(dev_server.address)
    if cached is not None:
        yield cached
        return
    loop = LoopThread()
    state = loop.run(_run_scenario(dev_server.address, loop), timeout=180)
    _STATE[dev_server.address] = state
    try:
        yield state
    finally:
        loop.run(state._worker.shutdown(), timeout=60)  # type: ignore[attr-defined]
        loop.close()


@pytest.fixture
def session(scenario: Scenario) -> Iterator[workbench.Session]:
    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        yield s


def rows(frame: pd.DataFrame, event_type: str, **where: Any) -> pd.DataFrame:
    out = frame[frame.event_type == event_type]
    for column, value in where.items():
        out = out[out[column] == value]
    return out


def one(frame: pd.DataFrame, event_type: str, **where: Any) -> pd.Series:
    found = rows(frame, event_type, **where)
    assert len(found) == 1, f"{len(found)} {event_type} rows where {where}"
    return found.iloc[0]


# -- the first run: every kind of payload, decoded ---------------------------------------------


def test_first_run_events_hold_the_decoded_values(
    session: workbench.Session, scenario: Scenario
) -> None:
    h = session.history(scenario.workflow_id, run_id=scenario.run1)
    assert h.run_id == scenario.run1 and h.workflow_id == scenario.workflow_id
    ev = h.events
    assert {c: str(t) for c, t in ev.dtypes.items()} == dict(History.EVENT_COLUMNS)
    assert list(ev.columns) == [c for c, _ in History.EVENT_COLUMNS]
    assert {c: str(t) for c, t in h.payloads.dtypes.items()} == dict(History.PAYLOAD_COLUMNS)
    assert list(ev.event_id) == list(range(1, len(ev) + 1))
    assert str(ev.event_time.dtype) == "datetime64[ns, UTC]"
    assert ev.event_time.is_monotonic_increasing
    assert ev.payload_errors.sum() == 0
    assert ev.event_type.iloc[-1] == "WorkflowExecutionContinuedAsNew"

    started = one(ev, "WorkflowExecutionStarted")
    assert started.workflow_type == "OrderWorkflow"
    assert started.input == [ORDER]
    assert started.memo == MEMO
    assert started.header == {TRACE_HEADER: TRACE_VALUE}
    assert started.search_attributes == SEARCH_ATTRIBUTES
    assert started.task_queue == scenario.task_queue

    scheduled = one(ev, "ActivityTaskScheduled", activity_type="charge")
    assert scheduled.input == [ORDER]
    assert scheduled.header == {TRACE_HEADER: TRACE_VALUE}
    completed = one(ev, "ActivityTaskCompleted", scheduled_event_id=scheduled.event_id)
    assert completed.result == {"order_id": "o-1", "charged": 20.5, "currency": "EUR"}

    # The retried activity: its ActivityTaskStarted carries the last attempt's failure.
    flaky_scheduled = one(ev, "ActivityTaskScheduled", activity_type="flaky")
    assert flaky_scheduled.input == [7]
    flaky_started = one(ev, "ActivityTaskStarted", scheduled_event_id=flaky_scheduled.event_id)
    assert flaky_started.attempt == FLAKY_FAILURES + 1
    assert flaky_started.failure_message == f"flaky attempt {FLAKY_FAILURES}"
    assert flaky_started.failure_type == "RuntimeError"
    flaky_done = one(ev, "ActivityTaskCompleted", scheduled_event_id=flaky_scheduled.event_id)
    assert flaky_done.result == f"ok 7 after {FLAKY_FAILURES + 1}"

    marker = one(ev, "MarkerRecorded")
    assert marker.marker_name == "core_local_activity"
    assert 24.6 in marker.details  # add_tax(20.5), the local activity's result

    upsert = one(ev, "UpsertWorkflowSearchAttributes")
    assert upsert.search_attributes == {"WbKeyword": "approved-wait"}

    signal = one(ev, "WorkflowExecutionSignaled")
    assert signal.signal_name == "approve"
    assert signal.input == ["ada", {"note": "rush"}]
    assert signal.header == {TRACE_HEADER: TRACE_VALUE}

    accepted = one(ev, "WorkflowExecutionUpdateAccepted")
    assert accepted.update_name == "set_discount"
    assert accepted.input == [0.1]
    assert accepted.header == {TRACE_HEADER: TRACE_VALUE}
    update_done = one(ev, "WorkflowExecutionUpdateCompleted")
    assert update_done.update_id == accepted.update_id and isinstance(accepted.update_id, str)
    assert update_done.result == {"discount": 0.1, "accepted": True}

    child_wid = f"{scenario.workflow_id}-child"
    initiated = one(ev, "StartChildWorkflowExecutionInitiated", child_workflow_id=child_wid)
    assert initiated.workflow_type == "ChildWorkflow"
    assert initiated.input == [{"sku": "A-1"}]
    child_done = one(ev, "ChildWorkflowExecutionCompleted", child_workflow_id=child_wid)
    assert child_done.result == {"sku": "A-1", "reserved": True}
    assert child_done.initiated_event_id == initiated.event_id
    assert isinstance(child_done.child_run_id, str) and len(child_done.child_run_id) == 36

    child_failed = one(ev, "ChildWorkflowExecutionFailed")
    assert child_failed.child_workflow_id == f"{scenario.workflow_id}-child-fail"
    assert child_failed.failure_message == "child rejected item"
    assert child_failed.failure_type == "ChildRejected"
    assert child_failed.failure_details == [{"sku": "B-2", "fail": True}]
    assert child_failed.retry_state == "RetryPolicyNotSet"

    can = one(ev, "WorkflowExecutionContinuedAsNew")
    assert can.new_run_id == scenario.run2
    (carried,) = can.input
    assert carried == {
        **ORDER,
        "stage": 2,
        "carry": {
            "charged": {"order_id": "o-1", "charged": 20.5, "currency": "EUR"},
            "flaky": f"ok 7 after {FLAKY_FAILURES + 1}",
            "taxed": 24.6,
            "child": {"sku": "A-1", "reserved": True},
            "approval": {"by": "ada", "note": {"note": "rush"}},
            "discount": 0.1,
        },
    }


def test_payloads_frame_paths_encodings_and_rotated_key_ids(
    session: workbench.Session, scenario: Scenario
) -> None:
    h = session.history(scenario.workflow_id, run_id=scenario.run1)
    p = h.payloads
    assert list(p.columns) == [c for c, _ in History.PAYLOAD_COLUMNS]
    assert p.error.isna().all(), p[p.error.notna()]
    assert (p.size_bytes > 0).all()
    assert p.raw.isna().all()  # raw payloads are kept only for rows that failed
    paths = set(p.path)
    for path in (
        "workflow_execution_started_event_attributes.input[0]",
        'workflow_execution_started_event_attributes.memo.fields["customer"]',
        f'workflow_execution_started_event_attributes.header.fields["{TRACE_HEADER}"]',
        'workflow_execution_started_event_attributes.search_attributes.indexed_fields["WbInt"]',
        "activity_task_scheduled_event_attributes.input[0]",
        "activity_task_completed_event_attributes.result[0]",
        "activity_task_started_event_attributes.last_failure.encoded_attributes",
        'marker_recorded_event_attributes.details["result"][0]',
        "workflow_execution_signaled_event_attributes.input[1]",
        "workflow_execution_update_accepted_event_attributes.accepted_request.input.args[0]",
        "workflow_execution_update_completed_event_attributes.outcome.success[0]",
        "child_workflow_execution_failed_event_attributes.failure.encoded_attributes",
        "child_workflow_execution_failed_event_attributes.failure.application_failure_info.details[0]",
        "workflow_execution_continued_as_new_event_attributes.input[0]",
    ):
        assert path in paths, path

    sa = p[p.path.str.contains(".search_attributes.")]
    assert set(sa.encodings) == {"json/plain"} and sa.key_id.isna().all()
    coded = p[p.key_id.notna()]
    assert set(coded.encodings) == {ENCRYPTED}
    # Rotation: key-a up to the local activity, key-b from the signal on.
    signal_id = one(h.events, "WorkflowExecutionSignaled").event_id
    assert set(coded[coded.event_id < signal_id].key_id) == {"key-a"}
    carried_memo = coded.path.str.contains("continued_as_new_event_attributes.memo")
    after = coded[(coded.event_id >= signal_id) & ~carried_memo]
    assert set(after.key_id) == {"key-b"}
    # Continue-as-new carries the memo over as it was stored: still under key-a.
    assert set(coded[carried_memo].key_id) == {"key-a"}
    assert one(h.events, "WorkflowExecutionContinuedAsNew").memo == MEMO
    # Everything the codec wrote is encrypted; only search attributes and the SDK's own
    # local-activity marker data are plain.
    plain = p[p.key_id.isna()]
    assert set(plain.path) - set(sa.path) == {'marker_recorded_event_attributes.details["data"][0]'}

    child_failure = "child_workflow_execution_failed_event_attributes.failure"
    failure = p[p.path == f"{child_failure}.encoded_attributes"]
    assert failure.value.iloc[0]["message"] == "child rejected item"
    details = p[p.path == f"{child_failure}.application_failure_info.details[0]"]
    assert details.value.iloc[0] == {"sku": "B-2", "fail": True}


def test_latest_run_by_default_with_failure_causes_decoded(
    session: workbench.Session, scenario: Scenario
) -> None:
    h = session.history(scenario.workflow_id)
    assert h.run_id == scenario.run2
    ev = h.events
    started = one(ev, "WorkflowExecutionStarted")
    assert started.input[0]["stage"] == 2

    failed_activity = one(ev, "ActivityTaskFailed")
    assert failed_activity.failure_message == "charge declined"
    assert failed_activity.failure_type == "Declined"
    assert failed_activity.failure_cause == "card of o-1 expired"
    assert failed_activity.retry_state == "NonRetryableFailure"

    failed = one(ev, "WorkflowExecutionFailed")
    assert failed.failure_message == "order failed"
    assert failed.failure_type == "OrderFailed"
    assert failed.failure_cause == "card of o-1 expired"

    # Every level of the cause chain was encoded and is decoded, one row each.
    p = h.payloads
    chain_rows = p[
        (p.event_id == failed.event_id) & p.path.str.endswith("encoded_attributes")
    ].sort_values("path", key=lambda s: s.str.len())
    messages = [v["message"] for v in chain_rows.value]
    assert messages[0] == "order failed"
    assert messages[-1] == "card of o-1 expired"
    assert "charge declined" in messages
    assert chain_rows.path.iloc[-1].endswith(".failure.cause.cause.cause.encoded_attributes")
    details_path = (
        "activity_task_failed_event_attributes.failure.application_failure_info.details[0]"
    )
    details = p[(p.event_id == failed_activity.event_id) & (p.path == details_path)]
    assert details.value.iloc[0] == {"order_id": "o-1", "code": 42}
    # The same details in the events frame, beside the message; the workflow's failure carries
    # its own details and, down its causes, the activity's.
    assert failed_activity.failure_details == [{"order_id": "o-1", "code": 42}]
    assert failed.failure_details == [{"order_id": "o-1"}, {"order_id": "o-1", "code": 42}]
    assert one(ev, "WorkflowExecutionStarted").failure_details is None


def test_heartbeat_details_of_a_timed_out_activity(scenario: Scenario) -> None:
    """The issue's "heartbeat details": an activity that timed out on its heartbeat carries
    its last heartbeat in the timeout failure."""
    wid = f"heartbeat-{uuid.uuid4().hex[:8]}"

    async def run() -> str:
        client = await Client.connect(scenario.address)
        queue = f"wb-heartbeat-{uuid.uuid4().hex[:8]}"
        async with Worker(
            client, task_queue=queue, workflows=[HeartbeatWorkflow], activities=[beats_then_stalls]
        ):
            return await client.execute_workflow(HeartbeatWorkflow.run, id=wid, task_queue=queue)

    loop = LoopThread()
    try:
        assert loop.run(run()) == "timed out"
    finally:
        loop.close()
    with workbench.connect(scenario.address, "default", env={}) as s:
        h = s.history(wid)
    timed_out = one(h.events, "ActivityTaskTimedOut")
    assert timed_out.failure_type == "TimeoutFailure"
    assert timed_out.failure_details == [{"last": "beat-1"}]
    assert h.payloads.error.isna().all()


def test_child_history_has_its_result(session: workbench.Session, scenario: Scenario) -> None:
    h = session.history(f"{scenario.workflow_id}-child")
    done = one(h.events, "WorkflowExecutionCompleted")
    assert done.result == {"sku": "A-1", "reserved": True}
    started = one(h.events, "WorkflowExecutionStarted")
    assert started.input == [{"sku": "A-1"}]


# -- codec= in its forms ----------------------------------------------------------------------


def test_codec_per_call_and_temporalio_payload_codec(scenario: Scenario) -> None:
    with workbench.connect(scenario.address, "default", env={}) as s:
        assert s.codec is codecs.DEFAULT
        # The user's own PayloadCodec (the samples' chain), per call.
        sample = SampleChain(
            SampleZlibCodec(), SampleEncryptionCodec({"key-a": KEY_A, "key-b": KEY_B})
        )
        h = s.history(scenario.workflow_id, run_id=scenario.run1, codec=sample)
        assert h.payloads.error.isna().all()
        assert one(h.events, "WorkflowExecutionStarted").input == [ORDER]
        # Without a codec: encrypted payloads are shown, not fatal; search attributes still read.
        with pytest.warns(UserWarning, match="payloads of workflow .* could not be decoded"):
            bare = s.history(scenario.workflow_id, run_id=scenario.run1)
    p = bare.payloads
    assert len(p) == len(h.payloads)
    encrypted = p[p.key_id.notna()]
    assert encrypted.value.isna().all()
    assert encrypted.error.str.contains("binary/encrypted").all()
    assert encrypted.error.str.contains("AesGcm").all()
    assert (encrypted.encodings == "binary/encrypted").all()
    started = one(bare.events, "WorkflowExecutionStarted")
    assert started.search_attributes == SEARCH_ATTRIBUTES
    assert started.payload_errors >= 3
    # A failure whose encoded attributes stay encrypted says so beside the SDK's placeholder.
    retried = bare.events[bare.events.failure_message.notna()]
    assert len(retried) and retried.failure_message.str.contains("not decoded").all()
    assert not h.events.failure_message.dropna().str.contains("not decoded").any()
    assert "undecodable" in repr(bare)
    with workbench.connect(
        scenario.address, "default", env={}, codec=codecs.AesGcm({"key-a": KEY_A})
    ) as s2:
        assert isinstance(s2.codec, codecs.Chain)
    with pytest.raises(workbench.CodecError, match="codec="):
        workbench.connect(scenario.address, "default", env={}, codec=42)


class Shout(str):
    """A value the user's own converter writes in an encoding of its own."""


class ShoutConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return "text/shout"

    def to_payload(self, value: Any) -> Payload | None:
        if not isinstance(value, Shout):
            return None
        return Payload(metadata={"encoding": b"text/shout"}, data=value.upper().encode())

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        return payload.data.decode().lower() + "!"


class ShoutPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            ShoutConverter(), *DefaultPayloadConverter.default_encoding_payload_converters
        )


class ShoutingConverter(PayloadConverter):
    """Not a composite: the chain cannot list the encodings it reads, so it asks it."""

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        return ShoutPayloadConverter().to_payloads(values)

    def from_payloads(self, payloads: Sequence[Payload], type_hints: Any = None) -> list[Any]:
        return ShoutPayloadConverter().from_payloads(payloads, type_hints)


def test_a_custom_payload_converter_reads_its_own_encoding(scenario: Scenario) -> None:
    """The issue's "a custom PayloadConverter": values the SDK wrote with it (here an encoding
    of its own, encrypted or not) decode through it; without it they are shown, not fatal."""
    shouting = DataConverter(payload_converter_class=ShoutPayloadConverter)
    encrypting = dataclasses.replace(
        shouting, payload_codec=SampleEncryptionCodec({"key-a": KEY_A})
    )
    wid = f"shout-{uuid.uuid4().hex[:8]}"

    async def start() -> None:
        for suffix, converter in (("plain", shouting), ("sealed", encrypting)):
            client = await Client.connect(scenario.address, data_converter=converter)
            handle = await client.start_workflow(
                "NobodyRunsThis",
                args=[Shout("hello"), {"n": 1}],
                id=f"{wid}-{suffix}",
                task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
            )
            await handle.terminate()

    loop = LoopThread()
    try:
        loop.run(start())
    finally:
        loop.close()
    with workbench.connect(scenario.address, "default", env={}) as s:
        for converter in (ShoutPayloadConverter(), ShoutPayloadConverter, shouting):
            h = s.history(f"{wid}-plain", converter=converter)
            assert one(h.events, "WorkflowExecutionStarted").input == ["hello!", {"n": 1}]
            assert h.payloads.error.isna().all()
        sealed = s.history(
            f"{wid}-sealed",
            converter=ShoutPayloadConverter(),
            codec=SampleEncryptionCodec({"key-a": KEY_A}),  # a codec that passes others through
        )
        assert one(sealed.events, "WorkflowExecutionStarted").input == ["hello!", {"n": 1}]
        aes = s.history(
            f"{wid}-sealed",
            converter=ShoutPayloadConverter(),
            codec=codecs.AesGcm({"key-a": KEY_A}),
        )
        started = aes.payloads[aes.payloads.path.str.contains("started_event_attributes.input")]
        assert started.encodings.tolist() == [
            "binary/encrypted → text/shout",
            "binary/encrypted → json/plain",
        ]
        assert started.value.tolist() == ["hello!", {"n": 1}]
        with pytest.raises(workbench.ArgumentError, match="converter"):
            s.history(f"{wid}-plain", converter=42)
        opaque = s.history(f"{wid}-plain", converter=ShoutingConverter())
        assert one(opaque.events, "WorkflowExecutionStarted").input == ["hello!", {"n": 1}]
        # Ciphertext is never handed to a converter: the error still names the codec to add.
        with pytest.warns(UserWarning, match="could not be decoded"):
            sealed_opaque = s.history(f"{wid}-sealed", converter=ShoutingConverter())
        bad_sealed = sealed_opaque.payloads[sealed_opaque.payloads.error.notna()]
        assert len(bad_sealed) >= 2 and bad_sealed.error.str.contains("codecs.AesGcm").all()
        with pytest.warns(UserWarning, match="could not be decoded"):
            default = s.history(f"{wid}-plain")
    bad = default.payloads[default.payloads.error.notna()]
    assert len(bad) == 1 and "text/shout" in bad.error.iloc[0]
    assert one(default.events, "WorkflowExecutionStarted").input == [None, {"n": 1}]


# -- bad input: shown, never fatal -----------------------------------------------------------


def test_columns_of_values_stay_objects_when_every_value_is_text() -> None:
    """pandas makes an array of nothing but strings a "str" column, with NaN for None: the
    value columns must stay objects, None where there is no value (as documented)."""
    from temporalio.api.history.v1 import (
        WorkflowExecutionCompletedEventAttributes,
        WorkflowExecutionStartedEventAttributes,
    )

    to = DataConverter.default.payload_converter.to_payloads
    corrupt = Payload(metadata={"encoding": b"json/plain"}, data=b'"unterminated')
    proto = HistoryProto(
        events=[
            HistoryEvent(
                event_id=1,
                event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
                workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                    input={"payloads": [*to(["hello"]), corrupt]}
                ),
            ),
            HistoryEvent(
                event_id=2,
                event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
                workflow_execution_completed_event_attributes=WorkflowExecutionCompletedEventAttributes(
                    result={"payloads": to(["done"])}
                ),
            ),
        ]
    )
    with pytest.warns(UserWarning, match="could not be decoded"):
        h = workbench.History.from_proto(proto)
    assert h.payloads.value.dtype == object and h.events.result.dtype == object
    assert h.payloads.value.tolist() == ["hello", None, "done"]
    assert h.payloads.value.iloc[1] is None and h.payloads.error.iloc[1]
    assert h.events.result.tolist() == [None, "done"]
    assert h.events.input.tolist() == [["hello", None], None]


def test_unknown_key_id_fails_only_those_payloads(scenario: Scenario) -> None:
    only_a = codecs.Chain(codecs.AesGcm({"key-a": KEY_A}), codecs.Zlib())
    with (
        workbench.connect(scenario.address, "default", env={}, codec=only_a) as s,
        pytest.warns(UserWarning, match="unknown encryption key id 'key-b'") as caught,
    ):
        h = s.history(scenario.workflow_id, run_id=scenario.run1)
    assert caught[0].filename == __file__  # points at the user's line, not at workbench
    p = h.payloads
    bad = p[p.error.notna()]
    good = p[p.error.isna()]
    assert set(bad.key_id) == {"key-b"}
    assert set(good.key_id.dropna()) == {"key-a"}
    assert bad.error.str.contains("unknown encryption key id 'key-b'").all()
    assert bad.value.isna().all()
    assert all(
        isinstance(r, Payload) and r.metadata["encryption-key-id"] == b"key-b" for r in bad.raw
    )
    # The rest still decodes: the start and the first activities are key-a.
    assert one(h.events, "WorkflowExecutionStarted").input == [ORDER]
    signal = one(h.events, "WorkflowExecutionSignaled")
    assert signal.input == [None, None] and signal.payload_errors == 3  # two args + header
    assert len(h.events) == int(h.events.event_id.max())


def test_wrong_key_is_a_tag_mismatch_naming_the_key_id(scenario: Scenario) -> None:
    wrong = codecs.Chain(codecs.AesGcm({"key-a": os.urandom(32), "key-b": KEY_B}), codecs.Zlib())
    with (
        workbench.connect(scenario.address, "default", env={}, codec=wrong) as s,
        pytest.warns(UserWarning, match="tag mismatch"),
    ):
        h = s.history(scenario.workflow_id, run_id=scenario.run1)
    p = h.payloads
    bad = p[p.error.notna()]
    assert set(bad.key_id) == {"key-a"}
    assert bad.error.str.contains("tag mismatch for encryption key id 'key-a'").all()
    assert p[p.key_id == "key-b"].error.isna().all()


def test_tampered_data_and_unknown_encoding_keep_their_rows(
    session: workbench.Session, scenario: Scenario
) -> None:
    good = session.history(scenario.workflow_id, run_id=scenario.run1)
    raw = HistoryProto()
    raw.CopyFrom(good.raw)
    scheduled = next(
        e for e in raw.events if e.HasField("activity_task_scheduled_event_attributes")
    )
    tampered = scheduled.activity_task_scheduled_event_attributes.input.payloads[0]
    data = bytearray(tampered.data)
    data[20] ^= 0x01
    tampered.data = bytes(data)
    signaled = next(
        e for e in raw.events if e.HasField("workflow_execution_signaled_event_attributes")
    )
    mystery = signaled.workflow_execution_signaled_event_attributes.input.payloads[1]
    mystery.metadata["encoding"] = b"binary/mystery"
    with pytest.warns(UserWarning, match="2 of .* payloads") as caught:
        h = History.from_proto(raw, codec=full_chain(), workflow_id=scenario.workflow_id)
    assert caught[0].filename == __file__
    p = h.payloads
    bad = p[p.error.notna()]
    assert len(bad) == 2 and len(p) == len(good.payloads)
    by_path = dict(zip(bad.path, bad.error, strict=True))
    assert "tag mismatch" in by_path["activity_task_scheduled_event_attributes.input[0]"]
    unknown = by_path["workflow_execution_signaled_event_attributes.input[1]"]
    assert "unknown encoding 'binary/mystery'" in unknown
    assert list(bad.encodings) == ["binary/encrypted", "binary/mystery"]
    mystery_row = bad[bad.path.str.startswith("workflow_execution_signaled")].iloc[0]
    assert mystery_row.raw.data == mystery.data  # the raw bytes stay available
    # Everything else decodes as before.
    ok = p.error.isna()
    assert p[ok].value.tolist() == good.payloads[ok].value.tolist()
    assert one(h.events, "WorkflowExecutionSignaled").input == ["ada", None]


def test_deeply_nested_payload_is_an_error_row_not_a_crash(
    session: workbench.Session, scenario: Scenario
) -> None:
    good = session.history(scenario.workflow_id, run_id=scenario.run1)
    raw = HistoryProto()
    raw.CopyFrom(good.raw)
    # Valid JSON nested deeper than Python's recursion limit: plain, encrypted (the
    # single-pass path), and compressed then encrypted as the scenario writes (general path).
    deep = Payload(metadata={"encoding": b"json/plain"}, data=b"[" * 100_000 + b"]" * 100_000)
    started = raw.events[0].workflow_execution_started_event_attributes
    del started.input.payloads[:]
    started.input.payloads.extend(
        [deep, *codecs.AesGcm({"key-a": KEY_A}).encode([deep]), *full_chain().encode([deep])]
    )
    with pytest.warns(UserWarning, match="3 of .* nested too deeply"):
        h = History.from_proto(raw, codec=full_chain())
    p = h.payloads
    bad = p[p.error.notna()]
    assert list(bad.path) == [
        f"workflow_execution_started_event_attributes.input[{i}]" for i in range(3)
    ]
    assert bad.error.str.startswith("json/plain payload is nested too deeply").all()
    assert list(bad.encodings) == [
        "json/plain",
        "binary/encrypted → json/plain",
        "binary/encrypted → binary/zlib → json/plain",
    ]
    assert all(r.data == deep.data for r in bad.raw)
    assert one(h.events, "WorkflowExecutionStarted").input == [None, None, None]
    # The rest of the history decodes as before.
    g = good.payloads
    rest = g[g.path != "workflow_execution_started_event_attributes.input[0]"]
    assert p[p.error.isna()].value.tolist() == rest.value.tolist()


class _GcProbe(PayloadCodec):
    """The scenario's codec, as a user's PayloadCodec, noting whether the garbage collector
    is on while it runs (a codec server or a KMS call may wait for seconds)."""

    def __init__(self) -> None:
        self.inner = SampleChain(
            SampleZlibCodec(), SampleEncryptionCodec({"key-a": KEY_A, "key-b": KEY_B})
        )
        self.collector_on: list[bool] = []

    async def encode(self, payloads: Any) -> list[Payload]:
        return await self.inner.encode(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        self.collector_on.append(gc.isenabled())
        return await self.inner.decode(payloads)


def test_codecs_that_wait_do_not_pause_the_garbage_collector(scenario: Scenario) -> None:
    assert full_chain().pauses_gc  # CPU-only codecs: paused per batch, as before
    probe = _GcProbe()
    assert not codecs.as_chain(probe).pauses_gc
    assert not codecs.Chain(codecs.Remote("http://127.0.0.1:1")).pauses_gc
    assert gc.isenabled()
    with workbench.connect(scenario.address, "default", env={}) as s:
        h = s.history(scenario.workflow_id, run_id=scenario.run1, codec=probe)
    assert h.payloads.error.isna().all()
    assert probe.collector_on and all(probe.collector_on)
    raw_probe = _GcProbe()
    History.from_proto(h.raw, codec=raw_probe)
    assert raw_probe.collector_on and all(raw_probe.collector_on)
    assert gc.isenabled()


def test_a_reset_run_reports_its_own_run_id(scenario: Scenario) -> None:
    workflow_id = f"reset-{uuid.uuid4().hex[:8]}"

    async def run_and_reset() -> tuple[str, str]:
        client = scenario.client
        handle = await client.start_workflow(
            ChildWorkflow.run, {"sku": "R-1"}, id=workflow_id, task_queue=scenario.task_queue
        )
        await handle.result()
        history = await handle.fetch_history()
        completed = next(
            e.event_id
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        )
        reset = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(
                    workflow_id=workflow_id, run_id=handle.result_run_id or ""
                ),
                reason="workbench test",
                workflow_task_finish_event_id=completed,
                request_id=str(uuid.uuid4()),
            )
        )
        await client.get_workflow_handle(workflow_id, run_id=reset.run_id).result()
        return handle.result_run_id or "", reset.run_id

    first, reset = scenario.loop.run(run_and_reset())
    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        h = s.history(workflow_id)  # the latest run: the reset one
        h_first = s.history(workflow_id, run_id=first)
    assert h.run_id == reset != first
    # Why the started event alone cannot say: a reset copies it, run id of its time included.
    started = h.raw.events[0].workflow_execution_started_event_attributes
    assert started.original_execution_run_id == first
    assert one(h.events, "WorkflowExecutionCompleted").result == {"sku": "R-1", "reserved": True}
    # A history without a server-given run id reads it from its events.
    assert History.from_proto(h.raw, codec=full_chain()).run_id == reset
    assert History.from_json(h.to_json(), codec=full_chain()).run_id == reset
    assert History.from_proto(h_first.raw, codec=full_chain()).run_id == first
    assert History.from_json(h.to_json(), run_id="given", codec=full_chain()).run_id == "given"


def test_frames_and_exports_never_hold_key_material(
    session: workbench.Session, scenario: Scenario
) -> None:
    h = session.history(scenario.workflow_id)
    texts = [
        repr(h),
        repr(session),
        repr(session.codec),
        h.events.to_string(),
        h.payloads.to_string(),
        h.to_decoded_json(),
        h.to_json(),
    ]

    for key in (KEY_A, KEY_B):
        for spelling in (key.hex(), base64.b64encode(key).decode(), repr(key)):
            assert not any(spelling in t for t in texts)
    for cell in h.payloads.raw.dropna():
        assert KEY_A not in cell.SerializeToString() and KEY_B not in cell.SerializeToString()


def test_not_found_names_the_workflow_and_run(session: workbench.Session) -> None:
    with pytest.raises(NotFound, match="'no-such-order'") as err:
        session.history("no-such-order")
    assert err.value.workflow_id == "no-such-order" and err.value.run_id is None
    missing_run = str(uuid.uuid4())
    with pytest.raises(NotFound, match=missing_run) as err2:
        session.history("no-such-order", run_id=missing_run)
    assert err2.value.run_id == missing_run
    with pytest.raises(NotFound, match="not-a-uuid"):
        session.history("no-such-order", run_id="not-a-uuid")


# -- descriptor-driven: every payload field of every event type is found ----------------------

_PATH_STEP = re.compile(r'\.?([a-z_0-9]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def _fill(message: Any, marker: list[int], choice: int, depth: int = 0) -> None:
    """Set every payload reachable in ``message`` (recursive types to depth 3) to a unique
    marker; of each oneof, only member ``choice`` (modulo its size) is filled, since filling a
    member clears the others. Independent of workbench.payloads: its own descriptor walk."""
    chosen = {
        oneof.name: oneof.fields[choice % len(oneof.fields)].name
        for oneof in message.DESCRIPTOR.oneofs
    }
    for field in message.DESCRIPTOR.fields:
        mt = field.message_type
        if mt is None or mt.full_name.startswith("google.protobuf.") or depth > 3:
            continue
        oneof = field.containing_oneof
        if oneof is not None and chosen.get(oneof.name) != field.name:
            continue

        def payload(p: Payload) -> None:
            marker[0] += 1
            p.metadata["encoding"] = b"json/plain"
            p.data = str(marker[0]).encode()

        container = getattr(message, field.name)
        if mt.GetOptions().map_entry:
            value_type = mt.fields_by_name["value"].message_type
            if value_type is None:
                continue
            if value_type.full_name == "temporal.api.common.v1.Payload":
                payload(container["k"])
            else:
                _fill_one(container["k"], payload, marker, choice, depth)
        elif field.is_repeated:
            if mt.full_name == "temporal.api.common.v1.Payload":
                payload(container.add())
            else:
                _fill_one(container.add(), payload, marker, choice, depth)
        elif mt.full_name == "temporal.api.common.v1.Payload":
            payload(container)
        else:
            _fill_one(container, payload, marker, choice, depth)


def _fill_one(message: Any, payload: Any, marker: list[int], choice: int, depth: int) -> None:
    if message.DESCRIPTOR.full_name == "temporal.api.common.v1.Payloads":
        payload(message.payloads.add())
        payload(message.payloads.add())
    else:
        _fill(message, marker, choice, depth + 1)


def _markers(doc: Any) -> list[bytes]:
    """The marker payloads visible in an event's proto3 JSON (what the server would store)."""
    if isinstance(doc, list):
        return [m for item in doc for m in _markers(item)]
    if not isinstance(doc, dict):
        return []
    if set(doc) == {"metadata", "data"} and doc["metadata"].get("encoding") == "anNvbi9wbGFpbg==":
        return [base64.b64decode(doc["data"])]
    return [m for value in doc.values() for m in _markers(value)]


def _resolve(message: Any, path: str) -> Any:
    """Follow a path as workbench writes it (``a.b[0]``, ``fields["k"]``) through the proto."""
    node = message
    for name, index, key in _PATH_STEP.findall(path):
        if name:
            node = getattr(node, name)
            if getattr(node, "DESCRIPTOR", None) is not None and (
                node.DESCRIPTOR.full_name == "temporal.api.common.v1.Payloads"
            ):
                node = node.payloads
        elif index:
            node = node[int(index)]
            if getattr(node, "DESCRIPTOR", None) is not None and (
                node.DESCRIPTOR.full_name == "temporal.api.common.v1.Payloads"
            ):
                node = node.payloads
        else:
            node = node[json.loads(f'"{key}"')]
            if getattr(node, "DESCRIPTOR", None) is not None and (
                node.DESCRIPTOR.full_name == "temporal.api.common.v1.Payloads"
            ):
                node = node.payloads
    return node


def test_every_payload_field_of_every_event_type_is_found() -> None:
    attributes = HistoryEvent.DESCRIPTOR.oneofs_by_name["attributes"].fields
    with_payloads = set()
    for choice in range(12):  # rotates through the members of every oneof (Failure has 10)
        for field in attributes:
            event = HistoryEvent(event_id=1)
            getattr(event, field.name).SetInParent()
            _fill(getattr(event, field.name), [0], choice)
            _fill(event.user_metadata, [1000], choice)
            doc = MessageToDict(event)
            refs = find_payloads(event)
            assert sorted(r.payload.data for r in refs) == sorted(_markers(doc)), field.name
            assert len({r.path for r in refs}) == len(refs)
            for ref in refs:
                assert ref.path.startswith((field.name + ".", "user_metadata."))
                assert _resolve(event, ref.path) == ref.payload, ref.path
            # The JSON locations lead to the same payloads in MessageToDict's form.
            locations = list(iter_payload_locations(event))
            assert len(locations) == len(refs)
            for (keys, payload), ref in zip(locations, refs, strict=True):
                node: Any = doc
                for key in keys:
                    node = node[key]
                assert node == MessageToDict(payload) and payload == ref.payload
            if any(r.path.startswith(field.name) for r in refs):
                with_payloads.add(field.name)
    assert len(with_payloads) >= 30  # most event types carry payloads somewhere

"""History JSON in and out: the SDK's Replayer, the CLI's output, the Web UI's download, files.

Uses the order scenario of test_history.py (its session fixture is imported, so the workflows
run once per test session).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from google.protobuf.json_format import MessageToDict
from rig import DevServer
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.common import HeaderCodecBehavior
from temporalio.worker import Replayer
from test_history import _PATH_STEP, KEY_B, ORDER, Scenario, full_chain, one, scenario
from workflows_history import ChildWorkflow, OrderWorkflow, TraceInterceptor

import workbench
from workbench import History, HistoryFormatError, codecs
from workbench.history_frames import json_default

__all__ = ["scenario"]  # the imported session fixture


@pytest.fixture
def fetched(scenario: Scenario) -> History:
    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        return s.history(scenario.workflow_id, run_id=scenario.run1)


def assert_same_history(loaded: History, fetched: History) -> None:
    pd.testing.assert_frame_equal(loaded.events, fetched.events)
    pd.testing.assert_frame_equal(
        loaded.payloads.drop(columns=["raw"]), fetched.payloads.drop(columns=["raw"])
    )
    assert loaded.run_id == fetched.run_id


def test_to_json_replays_in_the_sdk_replayer(scenario: Scenario) -> None:
    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        runs = [s.history(scenario.workflow_id, run_id=r) for r in (scenario.run1, scenario.run2)]
    replayer = Replayer(
        workflows=[OrderWorkflow, ChildWorkflow],
        data_converter=scenario.converter,
        interceptors=[TraceInterceptor()],
        header_codec_behavior=HeaderCodecBehavior.CODEC,
    )
    for h in runs:
        exported = WorkflowHistory.from_json(scenario.workflow_id, h.to_json())
        assert len(exported.events) == len(h.events)
        result = asyncio.run(replayer.replay_workflow(exported))
        assert result.replay_failure is None


def test_offline_decode_of_a_downloaded_file(
    fetched: History, scenario: Scenario, tmp_path: Path
) -> None:
    path = tmp_path / "order.json"
    fetched.to_json(path)
    # No session, no server: the file and the keys are enough.
    loaded = History.from_json(path, codec=full_chain(), workflow_id=scenario.workflow_id)
    assert_same_history(loaded, fetched)
    assert loaded.workflow_id == scenario.workflow_id
    assert one(loaded.events, "WorkflowExecutionStarted").input == [ORDER]
    # Also from text, bytes and a parsed dict, and with a temporalio PayloadCodec.
    text = path.read_text()
    assert_same_history(History.from_json(text, codec=full_chain()), fetched)
    assert_same_history(History.from_json(text.encode(), codec=full_chain()), fetched)
    assert_same_history(History.from_json(json.loads(text), codec=full_chain()), fetched)
    # A user's PayloadCodec peels both layers in one call, so only the outer one is seen.
    user = History.from_json(str(path), codec=scenario.converter.payload_codec)
    assert user.payloads.value.tolist() == fetched.payloads.value.tolist()
    assert set(user.payloads.encodings) == {"binary/encrypted → json/plain", "json/plain"}


def test_cli_workflow_show_output(
    fetched: History, scenario: Scenario, dev_server: DevServer
) -> None:
    out = dev_server.cli(
        "workflow",
        "show",
        "--workflow-id",
        scenario.workflow_id,
        "--run-id",
        scenario.run1,
        "--output",
        "json",
    ).stdout
    loaded = History.from_json(out, codec=full_chain())
    assert_same_history(loaded, fetched)


_LEGACY_ENUMS = {
    "eventType": "EVENT_TYPE_",
    "retryState": "RETRY_STATE_",
    "kind": "TASK_QUEUE_KIND_",
    "initiator": "CONTINUE_AS_NEW_INITIATOR_",
    "parentClosePolicy": "PARENT_CLOSE_POLICY_",
    "workflowIdReusePolicy": "WORKFLOW_ID_REUSE_POLICY_",
}


def _legacy(node: Any) -> Any:
    """The Web UI's older download spelling: ``EVENT_TYPE_ACTIVITY_TASK_SCHEDULED`` becomes
    ``ActivityTaskScheduled`` (and likewise for the other enums SDKs accept in that form)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            prefix = _LEGACY_ENUMS.get(key)
            if prefix and isinstance(value, str) and value.startswith(prefix):
                value = "".join(p.capitalize() for p in value[len(prefix) :].split("_"))
            out[key] = _legacy(value)
        return out
    if isinstance(node, list):
        return [_legacy(v) for v in node]
    return node


def test_web_ui_download_with_legacy_enum_names(
    fetched: History, scenario: Scenario, tmp_path: Path
) -> None:
    doc = _legacy(MessageToDict(fetched.raw))
    text = json.dumps(doc)
    assert '"eventType": "ActivityTaskScheduled"' in text
    assert "EVENT_TYPE_" not in text
    path = tmp_path / f"{scenario.workflow_id}.json"
    path.write_text(text)
    loaded = History.from_json(path, codec=full_chain())
    assert_same_history(loaded, fetched)
    assert "ActivityTaskScheduled" in set(loaded.events.event_type)


def test_decoded_json_is_readable(fetched: History, scenario: Scenario) -> None:
    doc = json.loads(fetched.to_decoded_json())
    first = doc["events"][0]["workflowExecutionStartedEventAttributes"]
    assert first["input"]["payloads"][0] == {
        "value": ORDER,
        "encodings": ["binary/encrypted", "binary/zlib", "json/plain"],
        "keyId": "key-a",
    }
    assert first["memo"]["fields"]["priority"]["value"] == 2
    assert first["searchAttributes"]["indexedFields"]["WbDatetime"]["value"] == (
        "2026-01-02T03:04:05+00:00"
    )
    # An undecodable payload says why and keeps its stored form.
    only_a = codecs.Chain(codecs.AesGcm({"key-a": bytes(32)}), codecs.Zlib())
    with pytest.warns(UserWarning, match="could not be decoded"):
        partial = History.from_proto(fetched.raw, codec=only_a)
    bad = json.loads(partial.to_decoded_json())["events"][0][
        "workflowExecutionStartedEventAttributes"
    ]["input"]["payloads"][0]
    assert "tag mismatch" in bad["error"] and bad["keyId"] == "key-a"
    assert set(bad["payload"]) == {"metadata", "data"}
    assert "value" not in bad


def _json_keys(event: HistoryEvent, path: str) -> list[str | int]:
    """The keys leading to a payload in ``MessageToDict(event)``, from a ``path`` as the
    payloads frame spells it (proto field names); worked out here from the descriptors."""
    node: Any = event
    keys: list[str | int] = []
    for name, index, key in _PATH_STEP.findall(path):
        if name:
            keys.append(node.DESCRIPTOR.fields_by_name[name].json_name)
            node = getattr(node, name)
        elif index:
            keys.append(int(index))
            node = node[int(index)]
        else:
            keys.append(json.loads(f'"{key}"'))
            node = node[keys[-1]]
        descriptor = getattr(node, "DESCRIPTOR", None)
        if descriptor is not None and descriptor.full_name == "temporal.api.common.v1.Payloads":
            keys.append("payloads")
            node = node.payloads
    return keys


def _entries(doc: Any) -> int:
    """How many decoded payload objects a decoded-JSON document holds."""
    if isinstance(doc, list):
        return sum(_entries(item) for item in doc)
    if not isinstance(doc, dict):
        return 0
    if "encodings" in doc and ("value" in doc or "error" in doc):
        return 1
    return sum(_entries(value) for value in doc.values())


def test_every_payload_row_lands_at_its_path_in_the_decoded_json(
    fetched: History, scenario: Scenario
) -> None:
    with workbench.connect(scenario.address, "default", env={}, codec=full_chain()) as s:
        second = s.history(scenario.workflow_id, run_id=scenario.run2)  # failure causes
    wrong_a = codecs.Chain(codecs.AesGcm({"key-a": bytes(32), "key-b": KEY_B}), codecs.Zlib())
    with pytest.warns(UserWarning, match="could not be decoded"):
        partial = History.from_proto(fetched.raw, codec=wrong_a)  # error rows too
    for h in (fetched, second, partial):
        doc = json.loads(h.to_decoded_json())
        position = {event.event_id: n for n, event in enumerate(h.raw.events)}
        for row in h.payloads.itertuples():
            n = position[row.event_id]
            node: Any = doc["events"][n]
            for key in _json_keys(h.raw.events[n], row.path):
                node = node[key]
            assert node["encodings"] == row.encodings.split(" → "), row.path
            assert node.get("keyId") == (row.key_id if isinstance(row.key_id, str) else None)
            if isinstance(row.error, str):
                assert node["error"] == row.error and "value" not in node
            else:
                want = json.loads(json.dumps(row.value, default=json_default))
                assert node["value"] == want, row.path
        assert _entries(doc) == len(h.payloads)
    assert partial.payloads.error.notna().any() and partial.payloads.error.isna().any()


def test_decoded_json_matches_payloads_by_path_not_by_position(fetched: History) -> None:
    def with_payloads(payloads: pd.DataFrame) -> History:
        return History(
            fetched.raw,
            fetched.events,
            payloads,
            workflow_id=fetched.workflow_id,
            run_id=fetched.run_id,
            codec=fetched.codec,
        )

    shuffled = with_payloads(fetched.payloads.sample(frac=1, random_state=7))
    assert list(shuffled.payloads.path) != list(fetched.payloads.path)
    assert shuffled.to_decoded_json() == fetched.to_decoded_json()
    # A payload without a row (the frame was filtered) stays encoded and says so.
    first = fetched.payloads.iloc[0]
    missing = with_payloads(fetched.payloads.iloc[1:])
    doc = json.loads(missing.to_decoded_json())
    node: Any = doc["events"][0]
    for key in _json_keys(fetched.raw.events[0], first.path):
        node = node[key]
    assert node["error"] == f"no row for {first.path} of event 1 in History.payloads"
    assert set(node["payload"]) == {"metadata", "data"}
    assert (
        json.loads(missing.to_decoded_json())["events"][1:]
        == json.loads(fetched.to_decoded_json())["events"][1:]
    )


def test_bad_history_json_raises_history_format_error(tmp_path: Path, fetched: History) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(HistoryFormatError, match=re.escape(str(missing))):
        History.from_json(missing)
    with pytest.raises(HistoryFormatError, match="not a workflow history"):
        History.from_json("{not json")
    with pytest.raises(HistoryFormatError, match="not a workflow history"):
        History.from_json({"workflowId": "x"})  # no events
    with pytest.raises(HistoryFormatError, match="not a workflow history"):
        History.from_json({"events": [{"eventId": "one"}]})
    with pytest.raises(HistoryFormatError, match="not a workflow history"):
        History.from_json('{"events": ' + "[" * 100_000 + "]" * 100_000 + "}")  # too deep
    with pytest.raises(HistoryFormatError, match="from_json takes"):
        History.from_json(42)  # type: ignore[arg-type]
    with pytest.raises(HistoryFormatError, match="taken for a path"):
        History.from_json("not json")
    with pytest.raises(HistoryFormatError, match="to_decoded_json"):
        History.from_json(fetched.to_decoded_json())
    decoded_file = tmp_path / "decoded.json"
    fetched.to_decoded_json(decoded_file)
    with pytest.raises(HistoryFormatError, match="readable export"):
        History.from_json(decoded_file)
    # A memo field named "encodings" is not the readable export's list of that name.
    from temporalio.api.history.v1 import History as HistoryProto

    proto = HistoryProto()
    proto.events.add().CopyFrom(fetched.raw.events[0])
    memo = proto.events[0].workflow_execution_started_event_attributes.memo.fields["encodings"]
    memo.metadata["encoding"] = b"json/plain"
    memo.data = b'["zlib"]'
    own = History.from_proto(proto, codec=full_chain()).to_json()
    assert History.from_json(own, codec=full_chain()).events.memo.iloc[0]["encodings"] == ["zlib"]
    with pytest.warns(UserWarning, match="1 of the 1 events .* event type"):
        bogus = History.from_json('{"events":[{"eventId":"1","eventType":"EVENT_TYPE_BOGUS"}]}')
    assert bogus.events.event_id.tolist() == [1] and pd.isna(bogus.events.event_type.iloc[0])
    empty = History.from_json('{"events": []}')
    assert len(empty.events) == 0 and list(empty.events.columns) == [
        c for c, _ in History.EVENT_COLUMNS
    ]

"""workbench.read_export: Temporal Cloud export objects and archival filestore files written from
histories that real workers produced on the dev server, read back offline; truncated and foreign
files are named with their byte offset while the other files load."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import pandas as pd
import pytest
from google.protobuf.json_format import MessageToJson
from many_codec_server import CodecServer
from many_seed import KEY, KEY_ID, Seeded, shared_orders
from rig import DevServer
from temporalio.api.export.v1 import WorkflowExecution, WorkflowExecutions
from temporalio.api.history.v1 import History as HistoryProto

import workbench
from workbench import ExportFormatError, ExportProblem, Histories, codecs, read_export


@pytest.fixture(scope="module")
def seeded(dev_server: DevServer) -> Seeded:
    return shared_orders(dev_server.address)


@pytest.fixture(scope="module")
def live(seeded: Seeded) -> Histories:
    with workbench.connect(
        seeded.address, "default", env={}, codec=codecs.AesGcm({KEY_ID: KEY})
    ) as s:
        return s.histories(seeded.query, progress=False)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["workflow_id", "event_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def export_dir(live: Histories, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs as Cloud's export lays them out: a folder tree of WorkflowExecutions objects."""
    root = tmp_path_factory.mktemp("export")
    hs = live.histories
    chunks = [hs[0:10], hs[10:20], hs[20:]]
    for k, chunk in enumerate(chunks):
        folder = root / "export" / "default" / "2026" / "12" / "05" / "01" / f"{10 + k:02d}"
        folder.mkdir(parents=True)
        message = WorkflowExecutions(items=[WorkflowExecution(history=h.raw) for h in chunk])
        (folder / f"part-{k}").write_bytes(message.SerializeToString())
    return root


def test_a_cloud_export_tree_reads_back_as_the_live_histories(
    export_dir: Path, live: Histories
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs = read_export(export_dir, codec=codecs.AesGcm({KEY_ID: KEY}))
    assert isinstance(hs, Histories) and hs.problems.empty
    assert set(hs.runs.workflow_id) == set(live.runs.workflow_id)
    runs = hs.runs.set_index("workflow_id").sort_index()
    want = live.runs.set_index("workflow_id").sort_index()
    assert runs.run_id.equals(want.run_id)  # read from the events
    assert runs.status.equals(want.status)  # read from the last event
    assert runs.workflow_type.equals(want.workflow_type)
    assert _sorted(hs.events).equals(_sorted(live.events))
    card = "4111-1111-0000-0003"
    assert set(hs.search(card).workflow_id) == set(live.search(card).workflow_id) != set()


def test_one_file_a_list_and_gzip(export_dir: Path, live: Histories, tmp_path: Path) -> None:
    files = sorted(p for p in export_dir.rglob("part-*"))
    one = read_export(files[0], codec=codecs.AesGcm({KEY_ID: KEY}))
    assert len(one.runs) == 10
    two = read_export(files[:2], codec=codecs.AesGcm({KEY_ID: KEY}))
    assert len(two.runs) == 20
    packed = tmp_path / "part.gz"
    packed.write_bytes(gzip.compress(files[0].read_bytes()))
    assert _sorted(read_export(packed, codec=codecs.AesGcm({KEY_ID: KEY})).events).equals(
        _sorted(one.events)
    )
    # Without the key the runs still load; the payloads say why they are not decoded.
    with pytest.warns(UserWarning):
        locked = read_export(files[0])
    assert locked.runs.undecodable.gt(0).all()
    assert locked.errors.error.str.contains(KEY_ID).all()


def test_an_archival_filestore_file_reads_back(live: Histories, tmp_path: Path) -> None:
    h = live.histories[0]
    # The filestore archiver writes a JSON array of history batches (several events each).
    events = list(h.raw.events)
    batches = [HistoryProto(events=events[i : i + 3]) for i in range(0, len(events), 3)]
    path = tmp_path / "1234567890_0.history"
    path.write_text("[" + ",".join(MessageToJson(b, indent=None) for b in batches) + "]")
    hs = read_export(path, codec=codecs.AesGcm({KEY_ID: KEY}))
    assert len(hs.runs) == 1 and hs.runs.workflow_id[0] == h.workflow_id
    mine = hs.events.drop(columns=["workflow_id", "run_id"])
    assert mine.equals(h.events)


def test_truncated_and_foreign_files_are_named_with_their_offset_and_the_rest_loads(
    export_dir: Path, tmp_path: Path
) -> None:
    files = sorted(p for p in export_dir.rglob("part-*"))
    data = files[1].read_bytes()
    cut = tmp_path / "truncated"
    cut.write_bytes(data[: len(data) // 2])
    foreign = tmp_path / "picture.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    bad_json = tmp_path / "cut.history"
    bad_json.write_text('[{"events": [{"eventId": "1", "eventTy')

    with pytest.warns(ExportProblem, match="3 of 4 export files") as caught:
        hs = read_export([files[0], cut, foreign, bad_json], codec=codecs.AesGcm({KEY_ID: KEY}))
    message = str(caught[0].message)
    assert str(cut) in message and str(foreign) in message
    problems = hs.problems.set_index("file")
    assert problems.offset[str(cut)] == len(data) // 2  # where the file ends mid-execution
    assert "truncated" in problems.error[str(cut)]
    assert 0 < problems.runs_read[str(cut)] < 10  # the executions before the cut are kept
    assert (
        problems.offset[str(foreign)] == 0 and "not an export file" in problems.error[str(foreign)]
    )
    assert (
        problems.offset[str(bad_json)] > 0 and "not complete JSON" in problems.error[str(bad_json)]
    )
    assert len(hs.runs) == 10 + problems.runs_read[str(cut)]
    assert hs.runs.undecodable.eq(0).all()

    with pytest.raises(ExportFormatError, match=r"not an export file: at byte offset 0") as err:
        read_export(foreign)
    assert err.value.source == str(foreign) and err.value.offset == 0
    with pytest.raises(workbench.HistoryFormatError, match="no export file or folder"):
        read_export(tmp_path / "missing")


def test_a_codec_server_decodes_an_export_in_batches_across_runs(export_dir: Path) -> None:
    server = CodecServer({KEY_ID: KEY}).start()
    try:
        hs = read_export(export_dir, codec=codecs.Remote(server.url))
    finally:
        server.stop()
    assert hs.runs.undecodable.eq(0).all() and len(hs.runs) == 24
    assert server.requests < 24 / 2, server.batch_sizes

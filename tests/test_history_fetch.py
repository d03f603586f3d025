"""Session.history's progress hooks: on_page, stop, Ctrl-C and the progress bar, against the
real dev server with runs written by a real worker (encrypted like the samples)."""

from __future__ import annotations

import itertools
import signal
import threading
import warnings

import pytest
from many_seed import KEY, KEY_ID, Seeded, shared_orders
from rig import DevServer

import workbench
from workbench import HistoryInterrupted, codecs


@pytest.fixture(scope="module")
def seeded(dev_server: DevServer) -> Seeded:
    return shared_orders(dev_server.address)


@pytest.fixture
def s(seeded: Seeded) -> workbench.Session:
    with workbench.connect(
        seeded.address, "default", env={}, codec=codecs.AesGcm({KEY_ID: KEY})
    ) as session:
        yield session


def _wid(seeded: Seeded) -> str:
    return sorted(seeded.orders)[0]


def test_on_page_reports_pages_and_events_and_history_is_complete(
    s: workbench.Session, seeded: Seeded
) -> None:
    wid = _wid(seeded)
    whole = s.history(wid)
    calls: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete fetch warns nothing
        h = s.history(wid, page_size=2, on_page=lambda p, e: calls.append((p, e)))
    assert h.complete is True and whole.complete is True
    assert len(h.events) == len(whole.events) >= 10
    assert [p for p, _ in calls] == list(range(1, len(calls) + 1))
    # The server cuts pages at event batches near page_size (its last page may be empty).
    assert len(calls) >= 3
    assert calls[-1][1] == len(h.events)
    assert all(b >= a for (_, a), (_, b) in itertools.pairwise(calls))
    assert h.events.input.iloc[0] == [seeded.orders[wid]]
    assert h.events.equals(whole.events)


def _pages(s: workbench.Session, wid: str) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    s.history(wid, page_size=2, on_page=lambda p, e: calls.append((p, e)))
    return calls


def test_stop_keeps_the_pages_received(s: workbench.Session, seeded: Seeded) -> None:
    wid = _wid(seeded)
    kept = _pages(s, wid)[1][1]  # events of the first two pages
    stop = threading.Event()

    def on_page(pages: int, events: int) -> None:
        if pages == 2:
            stop.set()

    with pytest.warns(HistoryInterrupted, match=rf"the {kept} events of the 2 pages"):
        h = s.history(wid, page_size=2, on_page=on_page, stop=stop)
    assert h.complete is False
    assert list(h.events.event_id) == list(range(1, kept + 1))
    assert h.events.input.iloc[0] == [seeded.orders[wid]]  # decoded, as a whole history
    assert "(incomplete)" in repr(h)


def test_stop_already_set_returns_an_empty_incomplete_history(
    s: workbench.Session, seeded: Seeded
) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.warns(HistoryInterrupted):
        h = s.history(_wid(seeded), stop=stop)
    assert h.complete is False and len(h.events) == 0
    assert list(h.events.columns) == [c for c, _ in workbench.History.EVENT_COLUMNS]


def test_ctrl_c_keeps_what_arrived_and_the_session_still_works(
    s: workbench.Session, seeded: Seeded
) -> None:
    wid = _wid(seeded)
    kept = _pages(s, wid)[1][1]

    def on_page(pages: int, events: int) -> None:
        if pages == 2:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C / Jupyter's Stop delivers

    with pytest.warns(HistoryInterrupted):
        h = s.history(wid, page_size=2, on_page=on_page)
    assert h.complete is False
    assert list(h.events.event_id) == list(range(1, kept + 1))  # each event once
    assert len(h.payloads) == h.payloads[["event_id", "path"]].drop_duplicates().shape[0]
    assert s.history(wid).complete  # the channel is not left locked


def test_progress_bar_fetch_equals_plain_fetch(
    s: workbench.Session, seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    wid = _wid(seeded)
    plain = s.history(wid)
    shown = s.history(wid, progress=True, page_size=1)
    assert shown.events.equals(plain.events)
    assert shown.payloads.drop(columns="raw").equals(plain.payloads.drop(columns="raw"))

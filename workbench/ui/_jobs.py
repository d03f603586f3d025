"""Run one long call at a time off the kernel's main thread, with Stop, for a panel.

A panel's button starts a :class:`Job`; while it runs, the panel's buttons are disabled (a
second click does nothing), and they are enabled again in ``finally`` whatever happens. The
work gets a ``threading.Event`` to honour Stop. Results and errors come back through callbacks,
so a failure always reaches the panel's status line instead of vanishing in a thread. What is
asked for while a job runs can be queued with :meth:`Job.then` (the last request wins).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Job"]

T = TypeVar("T")


class Job(Generic[T]):
    """One background task of a panel at a time.

    Args:
        on_busy: Called with ``True`` when work starts and ``False`` when it ends (in
            ``finally``), to disable and enable the panel's controls.
        name: Thread name, for debugging.
    """

    def __init__(self, on_busy: Callable[[bool], None], *, name: str = "workbench-panel") -> None:
        self._on_busy = on_busy
        self._name = name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = False
        self._then: Callable[[], Any] | None = None
        self.last_error: BaseException | None = None
        """The last failure (for tests and debugging); the panel shows it in words."""

    @property
    def busy(self) -> bool:
        """Whether work is running (or queued to run next)."""
        return self._running or self._then is not None

    @property
    def queued(self) -> bool:
        """Whether something waits to run once the current work ends (see :meth:`then`)."""
        return self._then is not None

    @property
    def stop_event(self) -> threading.Event:
        """The event the running work checks to stop."""
        return self._stop

    def then(self, next_: Callable[[], Any]) -> None:
        """Run ``next_()`` once the current work has ended (replacing what was queued)."""
        with self._lock:
            if self._running:
                self._then = next_
                return
        next_()

    def start(
        self,
        work: Callable[[threading.Event], T],
        *,
        done: Callable[[T], None],
        failed: Callable[[BaseException], None],
        inline: bool = False,
    ) -> bool:
        """Run ``work(stop_event)`` on a thread; ``done(result)`` or ``failed(error)`` after.

        Returns ``False`` (and does nothing) if work is already running.
        With ``inline=True`` the work runs on the calling thread (for quick calls).
        """
        with self._lock:
            if self._running:
                return False
            self._running = True
            self._stop = threading.Event()
            stop = self._stop
            self.last_error = None
        self._on_busy(True)

        def run() -> None:
            try:
                try:
                    result = work(stop)
                except BaseException as e:  # shown in the panel, never swallowed
                    self.last_error = e
                    _call_safely(failed, e)
                else:
                    _call_safely(done, result)
            finally:
                with self._lock:
                    self._running = False
                    next_, self._then = self._then, None
                _call_safely(self._on_busy, False)
                if next_ is not None:
                    _call_safely(next_)

        if inline:
            run()
            return True
        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Ask the running work to stop (it keeps what it has)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running work (and what was queued after it) to end.

        Returns ``True`` if nothing is running any more.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy:
            thread = self._thread
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if thread is not None and thread.is_alive():
                thread.join(min(left, 0.1) if left is not None else 0.1)
            else:
                time.sleep(0.01)
        return not self.busy


def _call_safely(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception as e:  # a broken callback must not kill the thread silently
        import sys

        print(f"workbench panel callback failed: {type(e).__name__}: {e}", file=sys.stderr)

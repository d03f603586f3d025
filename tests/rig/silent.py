"""Port helpers and a TCP server that accepts connections and never answers.

``SilentServer`` is for testing "the server accepts TCP but never says anything" timeouts: the
TCP handshake completes (so the client does not see ``Connection refused``) but no byte is ever
sent back, so a TLS or HTTP/2 handshake hangs until the client's deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from workbench.devserver import free_port, free_port_block, port_is_free

__all__ = ["SilentServer", "free_port", "free_port_block", "port_is_free"]

_HOST = "127.0.0.1"


class SilentServer:
    """Accepts TCP connections on 127.0.0.1:<free port> and never sends a byte.

    Accepted sockets stay open until :meth:`stop`. ``accepted`` counts the connections so far.
    """

    def __init__(self, host: str = _HOST) -> None:
        self.host = host
        self.port = 0
        self.accepted = 0
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        if not self.port:
            raise RuntimeError("SilentServer is not started")
        return f"{self.host}:{self.port}"

    def start(self) -> SilentServer:
        if self._sock is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(128)
        sock.settimeout(0.1)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="silent-server", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.close()

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""The demo: a local Temporal dev server holding a small shop's encrypted workflows.

``make demo`` (or ``workbench demo``) starts it; the tutorial notebooks read it::

    import workbench.demo
    s = workbench.demo.connect()         # the demo server, with the demo key ring as codec
    s.workflows("WorkflowType='OrderWorkflow'")

The demo's payloads are encrypted with AES-GCM under two key ids (key rotation) and large ones
compressed with zlib first: :func:`codec` reads them. Its keys (:data:`DEMO_KEYS`) are public,
DEMO KEYS: never protect real data with them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..codecs import AesGcm, Chain, Zlib
from ..errors import ConnectError, NamespaceNotFound, SettingsError, WorkbenchError
from ..session import Session
from ..session import connect as _connect
from .keys import CURRENT_KEY_ID, DEMO_KEYS, OLD_KEY_ID
from .seed import is_seeded

__all__ = [
    "CURRENT_KEY_ID",
    "DEFAULT_ADDRESS",
    "DEMO_KEYS",
    "OLD_KEY_ID",
    "DemoNotRunning",
    "codec",
    "connect",
    "keys",
]

DEFAULT_ADDRESS = "127.0.0.1:7233"
"""Where ``make demo`` puts the dev server unless told another port."""

START_HINT = (
    "Start the demo in a terminal, at the root of the repository:\n\n"
    "    make demo                 # dev server + demo data + worker + JupyterLab\n"
    "    make demo PORT=7300       # the same if port 7233 is taken\n\n"
    "or, with the workbench installed: workbench demo --no-lab\n"
    "Then run this notebook from JupyterLab started by `make demo` (it sets TEMPORAL_ADDRESS), "
    "or set TEMPORAL_ADDRESS to the address it prints."
)


class DemoNotRunning(WorkbenchError):
    """The demo server does not answer (or holds no demo data); the message says how to start
    it. In Jupyter it is shown as its message alone, without a traceback."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a stack of frames a newcomer need not read.
        return [f"DemoNotRunning: {self}"]


def keys() -> dict[str, bytes]:
    """The demo key ring (key id -> 32-byte key). DEMO KEYS, public: never use them for real."""
    return dict(DEMO_KEYS)


def codec() -> Chain:
    """The codec chain that reads the demo's payloads: AES-GCM (both key ids), then zlib."""
    return Chain(AesGcm(keys(), encrypt_key_id=CURRENT_KEY_ID), Zlib())


def connect(
    *, env: Mapping[str, str] | None = None, wait: float | None = None, **kwargs: Any
) -> Session:
    """Connect to the demo server with the demo codec, or say how to start it.

    The address is ``TEMPORAL_ADDRESS`` (``make demo`` sets it for JupyterLab), else
    :data:`DEFAULT_ADDRESS`; the namespace ``TEMPORAL_NAMESPACE``, else ``default``.

    Args:
        env: Environment to read instead of ``os.environ``.
        wait: Seconds to wait for the server (and, when ``WORKBENCH_DEMO_DATA`` names its data
            folder, for its first seeding to finish): ``WORKBENCH_DEMO_WAIT``, else 0. Binder's
            ``start`` sets both, since notebooks may open while the demo is still starting.
        **kwargs: Passed on to :func:`workbench.connect`.

    Returns:
        A :class:`workbench.Session`.

    Raises:
        DemoNotRunning: Nothing answers at the address, or it holds no demo orders (after
            ``wait`` seconds).
        SettingsError: ``WORKBENCH_DEMO_WAIT`` is not a number of seconds.
    """
    environ = dict(os.environ if env is None else env)
    environ.setdefault("TEMPORAL_ADDRESS", DEFAULT_ADDRESS)
    kwargs.setdefault("connect_timeout", 5.0)
    kwargs.setdefault("codec", codec())
    if wait is None:
        text = environ.get("WORKBENCH_DEMO_WAIT", "").strip() or "0"
        try:
            wait = float(text)
        except ValueError:
            raise SettingsError(
                f"WORKBENCH_DEMO_WAIT={text!r} is not a number of seconds; set it to e.g. 120, "
                "or unset it"
            ) from None
    data_dir = environ.get("WORKBENCH_DEMO_DATA")
    deadline = time.monotonic() + wait
    while True:
        try:
            session = _connect_once(environ, kwargs)
            if not data_dir or is_seeded(Path(data_dir)):
                return session
            session.close()
            problem = DemoNotRunning(
                f"the demo server at {environ['TEMPORAL_ADDRESS']} is still seeding its data "
                f"(no marker in {data_dir} yet); run this cell again in a minute"
            )
        except DemoNotRunning as err:
            problem = err
        if time.monotonic() >= deadline:
            raise problem
        time.sleep(1.0)


def _connect_once(environ: dict[str, str], kwargs: dict[str, Any]) -> Session:
    address = environ["TEMPORAL_ADDRESS"]
    try:
        session = _connect(env=environ, **kwargs)
    except (ConnectError, NamespaceNotFound) as err:
        raise DemoNotRunning(
            f"no demo server answers at {address} ({err})\n\n{START_HINT}"
        ) from None
    if session.count("WorkflowType='OrderWorkflow'") == 0:
        session.close()
        raise DemoNotRunning(
            f"the Temporal server at {address} holds no demo orders: it is not the demo "
            f"server, or its seeding has not started.\n\n{START_HINT}"
        )
    return session

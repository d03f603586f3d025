"""Codec server: the notebook's codec chain served to the Temporal Web UI and CLI, and a doctor
that checks any codec server the way those clients call it.

>>> srv = workbench.serve_codec(chain, port=8081, origins=["http://localhost:8233"])
>>> print(srv.ui_instructions())          # what to paste into the Web UI's codec settings
>>> workbench.check_codec_server(srv.url, origin="http://localhost:8233")

The server runs on aiohttp's web server, an optional dependency (``pip install
'temporal-workbench[server]'``); the doctor needs only the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .doctor import CodecCheck, CodecReport, check_codec_server

if TYPE_CHECKING:
    from ._app import CodecServerStats
    from ._runner import CodecServer, serve_codec

__all__ = [
    "CodecCheck",
    "CodecReport",
    "CodecServer",
    "CodecServerStats",
    "check_codec_server",
    "serve_codec",
]

_NEEDS_AIOHTTP = {"CodecServer": "_runner", "serve_codec": "_runner", "CodecServerStats": "_app"}


def __getattr__(name: str) -> Any:
    # The serving half imports aiohttp, which is optional: only asking for it needs it.
    module = _NEEDS_AIOHTTP.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.server' has no attribute {name!r}")
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        from ..errors import SettingsError

        raise SettingsError(
            "serving a codec needs aiohttp: pip install 'temporal-workbench[server]'",
            setting="aiohttp",
        ) from None
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

"""Test rig for Temporal Workbench: real dev server, TLS/mTLS and API-key fronts, a silent server.

Import as ``rig`` inside pytest (``tests/`` is on ``sys.path`` via the rootdir conftest) or as
``tests.rig`` from the repository root (benchmarks, notebooks). Do not mix both in one process:
the classes would be imported twice.
"""

from __future__ import annotations

from workbench.devserver import (
    BENCHMARK_DYNAMIC_CONFIG,
    DevServer,
    DevServerError,
    find_temporal_binary,
)

from .apikey_front import ApiKeyFront
from .certs import SERVER_NAME, TestCerts, generate_certs
from .silent import SilentServer, free_port, free_port_block, port_is_free
from .slow_link import SlowLink
from .tls_front import TlsFront

API_KEY = "wb-test-key-123"

# Registered on the session dev server (tests/conftest.py).
DEV_SEARCH_ATTRIBUTES: dict[str, str] = {
    "WbKeyword": "Keyword",
    "WbText": "Text",
    "WbInt": "Int",
    "WbDouble": "Double",
    "WbBool": "Bool",
    "WbDatetime": "Datetime",
    "WbKeywordList": "KeywordList",
}
DEV_NAMESPACES: tuple[str, ...] = ("orders",)

__all__ = [
    "API_KEY",
    "BENCHMARK_DYNAMIC_CONFIG",
    "DEV_NAMESPACES",
    "DEV_SEARCH_ATTRIBUTES",
    "SERVER_NAME",
    "ApiKeyFront",
    "DevServer",
    "DevServerError",
    "SilentServer",
    "SlowLink",
    "TestCerts",
    "TlsFront",
    "find_temporal_binary",
    "free_port",
    "free_port_block",
    "generate_certs",
    "port_is_free",
]

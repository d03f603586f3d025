"""The demo's encryption keys. DEMO KEYS: they are public (in this repository); never use them,
or anything derived from them, to protect real data.

Two key ids show key rotation: the oldest demo orders were encrypted under
:data:`OLD_KEY_ID`, the rest (and everything the worker writes now) under :data:`CURRENT_KEY_ID`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["CURRENT_KEY_ID", "DEMO_KEYS", "OLD_KEY_ID"]

CURRENT_KEY_ID: Final = "demo-key-2026"
OLD_KEY_ID: Final = "demo-key-2025"

DEMO_KEYS: Final = MappingProxyType(
    {
        # DEMO ONLY, published with the source code: not a secret.
        CURRENT_KEY_ID: bytes.fromhex(
            "e926f2ad6d9e95c10e77ea069c7f520945cc14635bb1c886c1e14f30818760a0"
        ),
        # DEMO ONLY, published with the source code: not a secret.
        OLD_KEY_ID: bytes.fromhex(
            "4f030d121531f64d76670abd7c765e2174511aae636537357b9fecb82a127095"
        ),
    }
)
"""Key id -> 32-byte AES-256 key, the demo's whole key ring. DEMO KEYS, public."""

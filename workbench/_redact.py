"""Keep secrets out of text: every message, repr and log line passes through here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

REDACTED = "<redacted>"

# Metadata keys whose values are credentials whatever their name's case, and the words of a
# key's name (split at '-', '_' and '.') that make its value count as one (``x-auth-token``,
# ``x-temporal-secret``; not ``x-routing-key`` or ``x-author``).
SECRET_METADATA_KEYS = frozenset({"authorization", "x-api-key", "api-key", "cookie"})
_SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "token",
        "secret",
        "password",
        "passwd",
        "cookie",
        "credential",
        "credentials",
        "apikey",
        "session",
        "jwt",
        "bearer",
    }
)
_WORD = re.compile(r"[-_.]+")


def is_secret_metadata(key: str) -> bool:
    """Whether the value of gRPC metadata ``key`` is (or may be) a credential."""
    name = key.lower()
    words = _WORD.split(name)
    pairs = {f"{a}{b}" for a, b in itertools.pairwise(words)}  # "api-key" -> "apikey"
    return name in SECRET_METADATA_KEYS or not _SECRET_WORDS.isdisjoint({*words, *pairs})


def redact(text: str, secrets: Iterable[str | bytes | None]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``<redacted>``.

    Secrets shorter than 4 characters are ignored: replacing them would mangle ordinary words
    and they cannot be meaningful credentials.
    """
    for secret in secrets:
        if secret is None:
            continue
        value = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
        value = value.strip()
        if len(value) < 4:
            continue
        text = text.replace(value, REDACTED)
        # "Bearer <key>" is sent, so the bare key and the header value both count.
        if value.lower().startswith("bearer "):
            text = text.replace(value[7:].strip(), REDACTED)
    return text


def redact_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """A copy of gRPC metadata with credential values replaced."""
    return {k: (REDACTED if is_secret_metadata(k) else v) for k, v in metadata.items()}

"""Keep secrets out of text: every message, repr and log line passes through here."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "<redacted>"

# Metadata keys whose values are credentials whatever their name's case. Any other key counts
# as one by the words of its name (split at '-', '_' and '.'): a word naming a credential
# (``x-auth-token``, ``x-accesstoken``, ``x-temporal-secret``), or a key (``x-private-key``,
# ``x-passkey``) unless an ordinary word qualifies it (``x-routing-key``, ``x-idempotency-key``).
# Too much redacted hides a value in messages; too little shows a secret: when unsure, redact.
SECRET_METADATA_KEYS = frozenset({"authorization", "x-api-key", "api-key", "cookie"})
_SECRET_WORDS = frozenset({"auth", "authn", "authz", "authorization", "jwt", "bearer", "session"})
_SECRET_ENDINGS = ("token", "secret", "password", "passwd", "cookie", "credential", "credentials")
_ORDINARY_KEYS = frozenset(
    {
        "cache",
        "correlation",
        "dedup",
        "deduplication",
        "group",
        "idempotency",
        "lookup",
        "message",
        "partition",
        "primary",
        "request",
        "routing",
        "shard",
        "sort",
        "tenant",
        "trace",
    }
)
_WORD = re.compile(r"[-_.]+")


def is_secret_metadata(key: str) -> bool:
    """Whether the value of gRPC metadata ``key`` is (or may be) a credential."""
    name = key.lower()
    if name in SECRET_METADATA_KEYS:
        return True
    words = [w for w in _WORD.split(name) if w]
    for i, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS):
            return True
        if word.endswith("key") and (word != "key" or i == 0 or words[i - 1] not in _ORDINARY_KEYS):
            return True
    return False


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

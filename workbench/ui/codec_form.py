"""What the converter panel holds and does, as plain Python (tested without Jupyter).

A :class:`CodecForm` is an ordered list of :class:`CodecEntry` (outermost encoding first, as in
:class:`~workbench.codecs.Chain`). An entry keeps the text a person typed only until it is
built: once built, it holds the codec object and forgets the key text, so keys do not stay in
widgets (or in a saved notebook's widget state).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from temporalio.api.common.v1 import Payload

from .. import codecs
from ..codecs import Chain, Codec, as_chain
from ..errors import CodecError

__all__ = ["KINDS", "CodecEntry", "CodecForm", "find_user_codec", "test_chain"]

KINDS: dict[str, str] = {
    "aes-gcm": "AES-GCM encryption (key ring)",
    "zlib": "zlib compression",
    "gzip": "gzip compression",
    "snappy": "snappy compression",
    "remote": "remote codec server",
    "user": "my codec (a PayloadCodec in the notebook)",
}


def snappy_available() -> bool:
    """Whether the ``snappy`` extra (cramjam) is installed."""
    try:
        importlib.import_module("cramjam")
    except ImportError:
        return False
    return True


@dataclass
class CodecEntry:
    """One codec of the chain being built.

    Attributes:
        kind: One of :data:`KINDS`.
        keys: AES-GCM: ``[(key_id, key)]`` where a key is base64/hex text or a key file's path
            (cleared once built).
        endpoint, auth, headers: Remote codec server (``auth`` cleared once built).
        target: "my codec": a name in the notebook's namespace, or ``module:attr``.
        codec: The built codec (set by :meth:`build`).
    """

    kind: str
    keys: list[tuple[str, str]] = field(default_factory=list, repr=False)
    endpoint: str = ""
    auth: str = field(default="", repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    target: str = ""
    codec: Codec | None = None
    key_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CodecError(f"unknown codec kind {self.kind!r}; choose one of {', '.join(KINDS)}")

    @classmethod
    def of(cls, codec: Codec) -> CodecEntry:
        """An entry for a codec that already exists (e.g. the session's)."""
        kind = {
            codecs.AesGcm: "aes-gcm",
            codecs.Zlib: "zlib",
            codecs.Gzip: "gzip",
            codecs.Snappy: "snappy",
            codecs.Remote: "remote",
        }.get(type(codec), "user")
        entry = cls(kind, codec=codec)
        if isinstance(codec, codecs.AesGcm):
            entry.key_ids = codec.key_ids
        if isinstance(codec, codecs.Remote):
            entry.endpoint = codec.endpoint
        if kind == "user":
            entry.target = getattr(codec, "name", type(codec).__name__)
        return entry

    @property
    def label(self) -> str:
        """A one-line description, without secrets."""
        if self.kind == "aes-gcm":
            ids = self.key_ids or tuple(k for k, _ in self.keys if k)
            return f"AES-GCM, key ids: {', '.join(ids) or '(none yet)'}"
        if self.kind == "remote":
            return f"codec server {self.endpoint or '(no endpoint)'}"
        if self.kind == "user":
            return f"my codec: {self.target or '(no name)'}"
        return KINDS[self.kind]

    def build(self, user_ns: Mapping[str, Any] | None = None, *, namespace: str = "") -> Codec:
        """Build the codec (or return the one built); forget key text once it is built.

        Raises:
            CodecError: What is wrong with this entry, naming the field (never the key).
        """
        if self.codec is not None and not self._pending():
            return self.codec
        codec = self._make(user_ns, namespace)
        self.codec = codec
        if isinstance(codec, codecs.AesGcm):
            self.key_ids = codec.key_ids
        self.keys = [(key_id, "") for key_id, _ in self.keys]
        self.auth = ""
        return codec

    def _pending(self) -> bool:
        """Whether the person typed something not yet built into :attr:`codec`."""
        return any(key for _, key in self.keys) or bool(self.auth)

    def _make(self, user_ns: Mapping[str, Any] | None, namespace: str) -> Codec:
        if self.kind == "aes-gcm":
            ring: dict[str, Any] = {}
            for i, (key_id, key) in enumerate(self.keys, 1):
                key_id = key_id.strip()
                if not key_id and not key.strip():
                    continue
                if not key_id:
                    raise CodecError(
                        f"AES-GCM key {i}: the key id is empty; give the "
                        "encryption-key-id your workers write"
                    )
                if not key.strip():
                    raise CodecError(
                        f"AES-GCM key {key_id!r}: no key given; paste it as "
                        "base64 or hex, or give the path of a key file"
                    )
                # Key text first, then a key file's path: the library's own order (a base64 key
                # may hold '/', so the text cannot be told from a path by its look).
                ring[key_id] = key.strip()
            if not ring:
                raise CodecError("AES-GCM needs at least one key id and key")
            return codecs.AesGcm(ring)
        if self.kind == "zlib":
            return codecs.Zlib()
        if self.kind == "gzip":
            return codecs.Gzip()
        if self.kind == "snappy":
            return codecs.Snappy()
        if self.kind == "remote":
            if not self.endpoint.strip():
                raise CodecError(
                    "codec server: the endpoint is empty; give its base URL, e.g. "
                    "http://localhost:8081/{namespace}"
                )
            remote = codecs.Remote(
                self.endpoint.strip(), auth=self.auth.strip() or None, headers=self.headers
            )
            return probe_remote(remote, namespace)
        return find_user_codec(self.target, user_ns)


def probe_remote(remote: codecs.Remote, namespace: str) -> codecs.Remote:
    """Check that a codec server answers ``/decode`` (with one plain JSON payload).

    Raises:
        CodecError: The server is down or answers wrongly, in the codec's own words.
    """
    bound = remote.with_namespace(namespace) if namespace else remote
    probe = Payload(metadata={"encoding": b"json/plain"}, data=b'"workbench-probe"')
    result = bound.decode([probe])
    if len(result) != 1 or isinstance(result[0], codecs.DecodeFailure):
        reason = str(result[0]) if result else "no answer"
        raise CodecError(f"codec server {remote.endpoint}: {reason}")
    return remote


def find_user_codec(target: str, user_ns: Mapping[str, Any] | None = None) -> Codec:
    """Find "my codec": a name in the notebook's namespace, or ``module:attr``.

    The object may be a workbench codec, a :class:`~workbench.codecs.Chain` (its codecs are
    taken), a ``temporalio.converter.PayloadCodec`` instance, or a class of one taking no
    arguments.

    Raises:
        CodecError: The name finds nothing, or what it finds is not a codec.
    """
    name = target.strip()
    if not name:
        raise CodecError(
            "my codec: give the name of a PayloadCodec in the notebook (e.g. "
            "'codec') or 'module:attribute'"
        )
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name.strip())
        except ImportError as e:
            raise CodecError(
                f"my codec {name!r}: cannot import module {module_name!r} ({e})"
            ) from None
        obj: Any = module
        for part in attr.strip().split("."):
            if not hasattr(obj, part):
                raise CodecError(f"my codec {name!r}: module {module_name!r} has no {attr!r}")
            obj = getattr(obj, part)
    else:
        namespace = user_ns if user_ns is not None else _notebook_namespace()
        head, *rest = name.split(".")
        if head not in namespace:
            raise CodecError(
                f"my codec {name!r}: no variable {head!r} in the notebook; define it in a cell "
                "first (e.g. codec = MyCodec()) or give 'module:attribute'"
            )
        obj = namespace[head]
        for part in rest:
            if not hasattr(obj, part):
                raise CodecError(f"my codec {name!r}: {head!r} has no attribute {part!r}")
            obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as e:
            raise CodecError(
                f"my codec {name!r} is a class that cannot be built without arguments ({e}); "
                "give an instance instead"
            ) from None
    if isinstance(obj, Chain):
        if len(obj.codecs) != 1:
            raise CodecError(
                f"my codec {name!r} is a chain of {len(obj.codecs)} codecs; add "
                "them one by one, or give one codec"
            )
        return obj.codecs[0]
    if isinstance(obj, Codec):
        return obj
    if callable(getattr(obj, "decode", None)) and callable(getattr(obj, "encode", None)):
        return codecs.UserCodec(obj, name=name)
    raise CodecError(
        f"my codec {name!r} is a {type(obj).__name__}, not a codec: give a "
        "temporalio.converter.PayloadCodec (with async encode and decode) or a workbench codec"
    )


def _notebook_namespace() -> Mapping[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        get_ipython = None  # type: ignore[assignment]
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        ns: Mapping[str, Any] = shell.user_ns
        return ns
    import __main__

    return vars(__main__)


class CodecForm:
    """The chain being built in the converter panel."""

    def __init__(self, chain: Chain | None = None) -> None:
        self.entries: list[CodecEntry] = [CodecEntry.of(c) for c in (chain or Chain()).codecs]

    def add(self, kind: str) -> CodecEntry:
        """Append an entry of ``kind`` (see :data:`KINDS`)."""
        entry = CodecEntry(kind)
        if kind == "aes-gcm":
            entry.keys = [("", "")]
        self.entries.append(entry)
        return entry

    def remove(self, index: int) -> None:
        """Remove the entry at ``index``."""
        del self.entries[index]

    def move(self, index: int, step: int) -> None:
        """Move the entry at ``index`` by ``step`` places (clamped)."""
        target = max(0, min(len(self.entries) - 1, index + step))
        if target != index:
            self.entries.insert(target, self.entries.pop(index))

    def build(self, user_ns: Mapping[str, Any] | None = None, *, namespace: str = "") -> Chain:
        """The chain of every entry, in order.

        Raises:
            CodecError: Naming the entry at fault (its position and kind) and why.
        """
        built = []
        for i, entry in enumerate(self.entries, 1):
            try:
                built.append(entry.build(user_ns, namespace=namespace))
            except CodecError as e:
                raise CodecError(f"codec {i} ({KINDS[entry.kind]}): {e}") from None
        return Chain(*built)

    def describe(self) -> list[str]:
        """One label per entry."""
        return [e.label for e in self.entries]


def test_chain(
    session: Any, chain: Chain, *, workflow_id: str | None = None, limit: int = 200
) -> tuple[str, pd.DataFrame]:
    """Decode a recent history's payloads with ``chain``: before and after, per payload.

    Args:
        session: The :class:`~workbench.Session` to read from.
        chain: The candidate chain.
        workflow_id: The workflow to read; the most recently started one if ``None``.
        limit: Most payloads to show.

    Returns:
        ``(summary, frame)``: a sentence (how many decoded, which key ids are missing) and one
        row per payload: ``event_id``, ``path``, ``before`` (encoding, key id, size), ``after``
        (the value as JSON, or the error), ``ok``.

    Raises:
        WorkbenchError: No workflow to test with, or the fetch failed.
    """
    import json

    if not workflow_id:
        recent = session.workflows("", limit=1, progress=False)
        if recent.empty:
            raise CodecError("there is no workflow in this namespace to test the converter on")
        workflow_id = str(recent.iloc[0]["workflow_id"])
    history = session.history(workflow_id, codec=as_chain(chain).with_namespace(session.namespace))
    payloads = history.payloads.head(limit)
    rows = []
    for row in payloads.itertuples(index=False):
        encodings = str(row.encodings).split(" → ") if row.encodings else []
        outer = encodings[0] if encodings else "(no encoding)"
        key = f", key {row.key_id}" if isinstance(row.key_id, str) and row.key_id else ""
        before = f"{outer}{key}, {row.size_bytes:,} bytes"
        ok = not isinstance(row.error, str)
        after = json.dumps(row.value, default=str, ensure_ascii=False) if ok else f"✗ {row.error}"
        rows.append(
            {
                "event_id": row.event_id,
                "path": row.path,
                "before": before,
                "after": after,
                "encodings": row.encodings,
                "ok": ok,
            }
        )
    frame = pd.DataFrame(rows, columns=["event_id", "path", "before", "after", "encodings", "ok"])
    bad = history.payloads[history.payloads["error"].notna()]
    decoded = len(history.payloads) - len(bad)
    summary = f"{workflow_id}: {decoded} of {len(history.payloads)} payloads decoded"
    missing = sorted(
        {
            str(k)
            for k, e in zip(bad["key_id"], bad["error"], strict=True)
            if isinstance(k, str) and k and "key" in str(e)
        }
    )
    if missing:
        summary += f"; missing key id(s): {', '.join(missing)}"
    elif len(bad):
        summary += f"; {len(bad)} could not be decoded (see the rows marked ✗)"
    return summary, frame

"""A stack of codecs applied until none claims a payload, recording the layers it peeled."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from temporalio.api.common.v1 import Payload

from .._gc import gc_paused
from ..errors import CodecError
from ..values import convert_payloads, json_plain_scanner, readable_encodings
from .base import DEFAULT_ENCODINGS_BYTES, ENCODING, Codec, DecodeFailure
from .compression import Zlib, _inflate
from .encryption import ENCRYPTED, KEY_ID, NONCE_SIZE, TAG_SIZE, AesGcm
from .remote import Remote

__all__ = ["DEFAULT", "MAX_DEPTH", "Chain", "CodecLike", "Decoded", "as_chain", "chain"]

MAX_DEPTH = 8
"""Most codec layers peeled from one payload; deeper nesting is reported as an error."""

CHUNK = 4096
"""Payloads decoded per garbage-collector pause (see :meth:`Chain._chunks`)."""

JSON_PLAIN = b"json/plain"
_JSON_STACK = ("json/plain",)
_NO_PAYLOAD = Payload()  # what routing by encoding is given: it reads only the encoding
_ENCRYPTED_STACK = ("binary/encrypted",)
# What codecs write, which no payload converter reads: left to a converter of unknown
# encodings, they would fail with its words instead of the chain's (which codec to add).
_CODEC_ENCODINGS = frozenset((ENCRYPTED, b"binary/zlib", b"binary/gzip", b"binary/snappy"))
_ENCRYPTED_JSON_STACK = ("binary/encrypted", "json/plain")
_ENCRYPTED_ZLIB_JSON_STACK = ("binary/encrypted", "binary/zlib", "json/plain")
ZLIB = b"binary/zlib"


# bytes -> str of encodings met so far: a history repeats a handful of encodings many times.
_NAMES: dict[bytes, str] = {}


def _name(raw: bytes) -> str:
    name = _NAMES.get(raw)
    if name is None:
        name = raw.decode("utf-8", "replace")
        if len(_NAMES) < 1024:
            _NAMES[raw] = name
    return name


class Decoded:
    """One payload after the chain has peeled every layer it could.

    Attributes:
        payload: The innermost payload reached: the one to convert to a value when ``error`` is
            ``None``, otherwise the last one peeled before the error (its raw bytes stay
            available).
        encodings: The encodings met, outermost first, including the final one, e.g.
            ``("binary/encrypted", "binary/zlib", "json/plain")``.
        key_id: The ``encryption-key-id`` of the outermost encrypted layer, if any.
        error: Why the payload could not be fully decoded, in words a user can act on, or
            ``None``.
    """

    __slots__ = ("_payload", "_serialized", "encodings", "error", "key_id")

    def __init__(
        self,
        payload: Payload | None,
        encodings: tuple[str, ...],
        key_id: str | None = None,
        error: str | None = None,
        _serialized: bytes | None = None,
    ) -> None:
        # The fast path keeps the decrypted bytes and parses them into a Payload only when
        # asked: a history's thousands of Payload objects would cost more to keep than to make.
        self._payload = payload
        self._serialized = _serialized
        self.encodings = encodings
        self.key_id = key_id
        self.error = error

    @property
    def payload(self) -> Payload:
        """The innermost payload reached (see the class docstring)."""
        payload = self._payload
        if payload is None:
            payload = self._payload = Payload.FromString(self._serialized or b"")
            self._serialized = None
        return payload

    @payload.setter
    def payload(self, payload: Payload) -> None:
        self._payload = payload
        self._serialized = None

    @property
    def encoding(self) -> str | None:
        """The innermost encoding reached (the last of :attr:`encodings`)."""
        return self.encodings[-1] if self.encodings else None

    @property
    def ok(self) -> bool:
        """True when the payload was decoded down to a default-converter encoding."""
        return self.error is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decoded):
            return NotImplemented
        return (self.encodings, self.key_id, self.error, self.payload) == (
            other.encodings,
            other.key_id,
            other.error,
            other.payload,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq

    def __repr__(self) -> str:
        payload, serialized = self._payload, self._serialized
        size = payload.ByteSize() if payload is not None else len(serialized or b"")
        return (
            f"Decoded(encodings={self.encodings!r}, key_id={self.key_id!r}, "
            f"error={self.error!r}, payload=<{size} bytes>)"
        )


def _unknown(encoding: bytes | None, key_id: str | None, by: Codec | None = None) -> str:
    if encoding is None:
        what = "payload has no encoding metadata"
    else:
        what = f"unknown encoding {_name(encoding)!r}"
    if by is not None:
        reason = f"the {by.name} codec returned it unchanged"
    else:
        reason = "no codec in the chain decodes it"
    hint = (
        "add the codec that wrote it (codecs.AesGcm, codecs.Zlib, codecs.Gzip, codecs.Snappy, "
        "codecs.UserCodec) or the codec server that reads it (codecs.Remote)"
    )
    if encoding == ENCRYPTED:
        shown = repr(key_id or "key-id")
        if by is None:
            hint = (
                f"add codecs.AesGcm({{{shown}: key}}) or the codec server that holds the key "
                "(codecs.Remote)"
            )
        else:
            # A codec that could decrypt was asked and gave the payload back: naming the codec
            # again would send the user in a circle; the key is what is missing.
            who = "the codec server" if isinstance(by, Remote) else f"the {by.name} codec"
            hint = (
                f"{who} does not decode key id {shown}: give it that key, or add "
                f"codecs.AesGcm({{{shown}: key}}) before it"
            )
    return (
        f"{what}: {reason} and the default converter does not read it; left encoded; raw "
        f"bytes available in the payload ({hint})"
    )


class Chain:
    """Codecs applied in turn until none claims a payload.

    Decoding looks at each payload's ``encoding`` and hands it to the first codec that claims
    it, batching all payloads a codec claims in a round, and repeats on what comes out (at most
    :data:`MAX_DEPTH` layers). Encoding applies the codecs in reverse order, so
    ``Chain(AesGcm(...), Zlib())`` decodes ``binary/encrypted -> binary/zlib -> json/plain``
    and encodes by compressing, then encrypting -- the order of Temporal's Go sample.

    Args:
        *codecs: The codecs, outermost first (nested chains are flattened).
        max_depth: Most layers peeled from one payload.
    """

    def __init__(self, *codecs: Codec | Chain, max_depth: int = MAX_DEPTH) -> None:
        flat: list[Codec] = []
        for codec in codecs:
            if isinstance(codec, Chain):
                flat.extend(codec.codecs)
            elif isinstance(codec, Codec):
                flat.append(codec)
            else:
                raise CodecError(
                    f"Chain takes codecs (codecs.AesGcm, codecs.Zlib, codecs.Remote, "
                    f"codecs.UserCodec, ...), got {type(codec).__name__}; wrap a temporalio "
                    "PayloadCodec in codecs.UserCodec(...)"
                )
        self.codecs: tuple[Codec, ...] = tuple(flat)
        """The codecs, outermost first."""
        self.max_depth = max_depth
        # A chain whose codecs all claim by encoding routes each payload with one dict get.
        self._by_encoding = all(type(c).claims is Codec.claims for c in flat)
        self._routes: dict[bytes | None, int] = {}
        # Codecs that wait on I/O (a codec server, a user's coroutine) may take seconds: the
        # collector stays on for those chains.
        self._pause_gc = not any(c.passes_through for c in flat)

    def __repr__(self) -> str:
        return f"Chain({', '.join(repr(c) for c in self.codecs)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chain) and other.codecs == self.codecs

    def __hash__(self) -> int:
        return hash(self.codecs)

    @property
    def pauses_gc(self) -> bool:
        """Whether decoding with this chain pauses the garbage collector (see
        :func:`workbench._gc.gc_paused`): False when a codec may wait on I/O (a codec server, a
        user's coroutine), since the pause is process-wide and would last the whole wait."""
        return self._pause_gc

    @property
    def is_default(self) -> bool:
        """True for the empty chain: payloads are read by the default converter only."""
        return not self.codecs

    def with_namespace(self, namespace: str) -> Chain:
        """This chain with ``namespace`` given to codecs that need one and have none (a
        :class:`~workbench.codecs.Remote` whose endpoint holds ``{namespace}``, or that sends
        ``X-Namespace``). A :class:`~workbench.Session` does this with its own namespace."""
        codecs = []
        changed = False
        for codec in self.codecs:
            bind = getattr(codec, "with_namespace", None)
            bound = bind(namespace) if bind is not None else codec
            changed = changed or bound is not codec
            codecs.append(bound)
        return Chain(*codecs, max_depth=self.max_depth) if changed else self

    def claims(self, payload: Payload) -> bool:
        """Whether some codec of the chain claims ``payload``."""
        return self._route(payload, payload.metadata.get(ENCODING)) >= 0

    def _route(self, payload: Payload, encoding: bytes | None) -> int:
        """Index of the codec that claims ``payload``, or -1."""
        if self._by_encoding:
            index = self._routes.get(encoding)
            if index is not None:
                return index
            index = next((i for i, c in enumerate(self.codecs) if c.claims_encoding(encoding)), -1)
            if len(self._routes) < 1024:
                self._routes[encoding] = index
            return index
        return next((i for i, c in enumerate(self.codecs) if c.claims(payload)), -1)

    def _next_claim(self, after: int, payload: Payload) -> int:
        """Index of the first codec after ``after`` that claims ``payload``, or -1."""
        for j in range(after + 1, len(self.codecs)):
            if self.codecs[j].claims(payload):
                return j
        return -1

    def decode(self, payloads: Sequence[Payload]) -> list[Decoded]:
        """Peel every layer the chain can from each payload.

        Never raises because of a payload: each result carries its own ``error``.

        Args:
            payloads: Payloads as stored in a history (outermost encoding).

        Returns:
            One :class:`Decoded` per payload, in order.
        """
        out: list[Decoded] = []
        for chunk in self._chunks(payloads):
            with gc_paused(self._pause_gc):
                out += self._decode(chunk)[0]
        return out

    def _chunks(self, payloads: Sequence[Payload]) -> Iterator[Sequence[Payload]]:
        """``payloads`` in slices of :data:`CHUNK` when the collector is paused: between
        slices it runs over what the last one made while that is still in cache, which is
        cheaper than one pass over everything at the end."""
        if not self._pause_gc or len(payloads) <= CHUNK:
            yield payloads
            return
        for start in range(0, len(payloads), CHUNK):
            yield payloads[start : start + CHUNK]

    def _decode(
        self,
        payloads: Sequence[Payload],
        stacks: list[tuple[str, ...]] | None = None,
        key_ids: list[str | None] | None = None,
        depths: list[int] | None = None,
        readable: frozenset[bytes] | None = DEFAULT_ENCODINGS_BYTES,
    ) -> tuple[list[Decoded], list[bytes | None]]:
        """:meth:`decode`, plus the raw innermost encoding of each payload (for values).

        ``stacks``, ``key_ids`` and ``depths`` (layers already peeled, counted against
        :attr:`max_depth`) continue the work on payloads already partly peeled. ``readable``
        are the encodings the converter reads (see :func:`_readable`): a payload no codec
        claims is an error unless its encoding is one of them, or ``readable`` is ``None``
        (the converter may read anything: it decides).
        """
        count = len(payloads)
        current = list(payloads)
        if stacks is None:
            stacks = [()] * count
        if key_ids is None:
            key_ids = [None] * count
        errors: list[str | None] = [None] * count
        finals: list[bytes | None] = [None] * count
        codecs = self.codecs
        # Codecs that report the key id they used (AesGcm) spare the chain a metadata read.
        keyed = [getattr(c, "_decode_keyed", None) for c in codecs]
        routes = self._routes if self._by_encoding else None
        route = self._route
        defaults = DEFAULT_ENCODINGS_BYTES if readable is None else readable
        names = _NAMES
        max_depth = self.max_depth
        pending: Iterable[int] = range(count)
        # Payloads a pass-through codec (a user's, a codec server) handed back unchanged go to
        # the next codec of the chain that claims them, at the same layer.
        forced: dict[int, int] = {}
        for depth in range(max_depth + 1):
            groups: dict[int, list[int]] = {}
            for i in pending:
                payload = current[i]
                encoding = payload.metadata.get(ENCODING)
                finals[i] = encoding
                retry = forced.pop(i, None) if forced else None
                if retry is not None:
                    index = retry
                else:
                    if encoding is not None:
                        name = names.get(encoding)
                        stacks[i] += (_name(encoding) if name is None else name,)
                        if encoding in defaults:
                            continue
                    found = routes.get(encoding) if routes is not None else None
                    index = route(payload, encoding) if found is None else found
                if encoding == ENCRYPTED and key_ids[i] is None and (index < 0 or not keyed[index]):
                    raw_id = payload.metadata.get(KEY_ID)
                    if raw_id is not None:
                        key_ids[i] = _name(raw_id)
                if index < 0:
                    if readable is None and encoding not in _CODEC_ENCODINGS and encoding:
                        continue  # the converter is asked; its error if it cannot read it
                    errors[i] = _unknown(encoding, key_ids[i])
                    continue
                if (depth if depths is None else depth + depths[i]) >= max_depth:
                    errors[i] = (
                        f"more than {max_depth} codec layers: stopped at "
                        f"{stacks[i][-1] if stacks[i] else 'a payload without encoding'!r} "
                        "(a codec may be re-encoding what it decodes)"
                    )
                    continue
                group = groups.get(index)
                if group is None:
                    groups[index] = [i]
                else:
                    group.append(i)
            if not groups:
                break
            pending = []
            for index, members in groups.items():
                codec = codecs[index]
                batch = [current[i] for i in members]
                decode_keyed = keyed[index]
                if decode_keyed is not None:
                    results, used_ids = _run_keyed(codec, decode_keyed, batch)
                    for i, raw_id in zip(members, used_ids, strict=True):
                        if raw_id is not None and key_ids[i] is None:
                            name = names.get(raw_id)
                            key_ids[i] = _name(raw_id) if name is None else name
                else:
                    results = _run(codec, batch)
                through = codec.passes_through
                for i, result in zip(members, results, strict=True):
                    if isinstance(result, DecodeFailure):
                        errors[i] = result.error
                    elif not isinstance(result, Payload):
                        errors[i] = _not_a_payload(codec, result)
                    elif through and _unchanged(current[i], result):
                        after = self._next_claim(index, current[i])
                        if after >= 0:
                            forced[i] = after
                            pending.append(i)
                            continue
                        encoding = current[i].metadata.get(ENCODING)
                        if encoding in (readable or ()) or (
                            readable is None and encoding not in _CODEC_ENCODINGS
                        ):
                            continue  # one the user's converter reads (or may): it is final
                        errors[i] = _unknown(encoding, key_ids[i], codec)
                    else:
                        current[i] = result
                        pending.append(i)
        decoded = [Decoded(current[i], stacks[i], key_ids[i], errors[i]) for i in range(count)]
        return decoded, finals

    def memo_plan(self, encoding: bytes, key_id: bytes | None) -> tuple[str, Any] | None:
        """How :meth:`decode_values` (default converter) treats every payload of one shape,
        for callers that decode a column of payloads at once (see
        :data:`workbench.frames.MemoPlan`): ``("json", scan)`` for ``json/plain`` read by the
        SDK's own JSON converter, ``("error", text)`` for an encoding that no codec of the chain
        claims and the converter does not read, ``None`` otherwise."""
        if encoding == JSON_PLAIN:
            scan = json_plain_scanner(None)
            return None if scan is None else ("json", scan)
        if encoding in DEFAULT_ENCODINGS_BYTES or not self._by_encoding:
            return None
        if self._route(_NO_PAYLOAD, encoding) >= 0:
            return None
        key_name = _name(key_id) if encoding == ENCRYPTED and key_id is not None else None
        return ("error", _unknown(encoding, key_name))

    def decode_values(
        self, payloads: Sequence[Payload], converter: Any = None
    ) -> list[tuple[Decoded, Any]]:
        """Decode each payload and convert it to a Python value.

        Args:
            payloads: Payloads as stored in a history.
            converter: A ``temporalio.converter.PayloadConverter`` (the SDK's default if
                ``None``); see :func:`workbench.values.payload_values`.

        Returns:
            ``(decoded, value)`` per payload. The value is ``None`` when decoding or converting
            failed; a conversion failure is recorded in ``decoded.error``.
        """
        plan = self._fused_plan(converter)
        readable = _readable(converter)
        results: list[tuple[Decoded, Any]] = []
        for chunk in self._chunks(payloads):
            with gc_paused(self._pause_gc):
                if plan is not None:
                    results += self._decode_values_fused(chunk, converter, readable, *plan)
                    continue
                decoded, finals = self._decode(chunk, readable=readable)
                out: list[tuple[Decoded, Any]] = [(d, None) for d in decoded]
                self._convert(out, range(len(decoded)), finals, converter)
                results += out
        return results

    @staticmethod
    def _convert(
        out: list[tuple[Decoded, Any]],
        indices: Iterable[int],
        finals: Sequence[bytes | None],
        converter: Any,
    ) -> None:
        """Fill ``out[i]`` with the value of each decoded payload at ``indices`` (whose raw
        innermost encoding is ``finals[k]`` for the k-th index)."""
        good = [(i, final) for i, final in zip(indices, finals, strict=True) if out[i][0].ok]
        values = convert_payloads(
            [out[i][0].payload for i, _ in good], [final for _, final in good], converter
        )
        for (i, _), (value, error) in zip(good, values, strict=True):
            decoded = out[i][0]
            if error is not None:
                decoded.error = error
            out[i] = (decoded, value)

    def _fused_plan(
        self, converter: Any
    ) -> tuple[Mapping[bytes, Any] | None, Any, Callable[[bytes], bytes] | None] | None:
        """What the single-pass decoder needs, or ``None`` when it does not apply.

        It applies when the chain routes by encoding and ``json/plain`` values come from the
        SDK's own JSON converter. Encrypted payloads are
        decrypted in the same pass only when the codec claiming ``binary/encrypted`` is an
        :class:`~workbench.codecs.AesGcm`.
        """
        if not self._by_encoding:
            return None
        scan = json_plain_scanner(converter)
        if scan is None:
            return None
        index = self._route(Payload(), ENCRYPTED)
        codec = self.codecs[index] if index >= 0 else None
        # Decrypting peels a layer: with max_depth 0 the general path reports it instead.
        usable = type(codec) is AesGcm and self.max_depth >= 1
        decrypters = codec._decrypters if usable else None  # type: ignore[union-attr]
        # zlib inside the encryption (the Go sample's order) is inflated in the same pass when
        # the codec claiming binary/zlib is the plain Zlib codec and two layers may be peeled.
        inflate: Callable[[bytes], bytes] | None = None
        zindex = self._route(Payload(), ZLIB)
        zcodec = self.codecs[zindex] if zindex >= 0 else None
        if usable and type(zcodec) is Zlib and self.max_depth >= 2:
            inflate = partial(_inflate, wbits=15, limit=zcodec.max_size)
        return decrypters, scan, inflate

    def _decode_values_fused(
        self,
        payloads: Sequence[Payload],
        converter: Any,
        readable: frozenset[bytes] | None,
        decrypters: Mapping[bytes, Any] | None,
        scan: Any,
        inflate: Callable[[bytes], bytes] | None = None,
    ) -> list[tuple[Decoded, Any]]:
        """:meth:`decode_values` in one pass for the common shapes -- ``json/plain``, and
        AES-GCM around ``json/plain`` -- with everything else (other encodings, nested codecs,
        any failure) handed to the general path, which gives identical results.

        Histories hold thousands of payloads of one shape; the general path's per-round
        bookkeeping would cost as much as decrypting them.
        """
        out: list[Any] = [None] * len(payloads)
        rest: list[int] = []  # continue with the general path
        rest_payloads: list[Payload] = []
        rest_stacks: list[tuple[str, ...]] = []
        rest_ids: list[str | None] = []
        rest_depths: list[int] = []  # layers the fast path already peeled
        names = _NAMES
        from_string = Payload.FromString
        minimum = NONCE_SIZE + TAG_SIZE
        empty: tuple[str, ...] = ()
        # Decrypted payloads are parsed into one scratch message to read their encoding and
        # data; Decoded keeps the bytes and makes its own Payload only if asked.
        scratch = Payload()
        parse = scratch.ParseFromString
        defaults = DEFAULT_ENCODINGS_BYTES if readable is None else readable
        route = self._route
        # (encoding, key id) -> (encodings, key id, error) of payloads no codec claims: the
        # general path's words, made once (a listing's memos are often all encrypted).
        unclaimed: dict[tuple[bytes | None, bytes | None], tuple[tuple[str, ...], Any, str]] = {}
        for i, payload in enumerate(payloads):
            metadata = payload.metadata
            # .get(), never [key]: subscripting a protobuf map inserts missing keys.
            encoding = metadata.get(ENCODING)
            if encoding == JSON_PLAIN:
                data = payload.data
                keep: Payload | None = payload
                plain: bytes | None = None
                stack: tuple[str, ...] = _JSON_STACK
                key_name = None
            elif encoding == ENCRYPTED and decrypters is not None:
                raw_id = metadata.get(KEY_ID)
                decrypt = decrypters.get(raw_id)  # type: ignore[arg-type]
                data = payload.data
                if decrypt is None or len(data) < minimum:
                    rest.append(i)
                    rest_payloads.append(payload)
                    rest_stacks.append(empty)
                    rest_ids.append(None)
                    rest_depths.append(0)
                    continue
                try:
                    plain = decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], None)
                    parse(plain)
                except Exception:  # tag or protobuf: the general path words the error
                    rest.append(i)
                    rest_payloads.append(payload)
                    rest_stacks.append(empty)
                    rest_ids.append(None)
                    rest_depths.append(0)
                    continue
                key_name = names.get(raw_id)  # type: ignore[arg-type]
                if key_name is None:
                    key_name = _name(raw_id)  # type: ignore[arg-type]
                inner_encoding = scratch.metadata.get(ENCODING)
                stack = _ENCRYPTED_JSON_STACK
                if inner_encoding == ZLIB and inflate is not None:
                    try:
                        inner = inflate(scratch.data)
                        parse(inner)
                        zipped_json = scratch.metadata.get(ENCODING) == JSON_PLAIN
                    except Exception:  # too large, corrupt: the general path words it
                        zipped_json = False
                    if zipped_json:
                        plain = inner
                        inner_encoding = JSON_PLAIN
                        stack = _ENCRYPTED_ZLIB_JSON_STACK
                    else:
                        parse(plain)  # back to the decrypted payload for the general path
                if inner_encoding != JSON_PLAIN:
                    rest.append(i)
                    rest_payloads.append(from_string(plain))
                    rest_stacks.append(_ENCRYPTED_STACK)
                    rest_ids.append(key_name)
                    rest_depths.append(1)
                    continue
                data = scratch.data
                keep = None
            elif readable is not None and encoding not in defaults and route(payload, encoding) < 0:
                raw_id = metadata.get(KEY_ID) if encoding == ENCRYPTED else None
                known = unclaimed.get((encoding, raw_id))
                if known is None:
                    key_name = None if raw_id is None else _name(raw_id)
                    met: tuple[str, ...] = () if encoding is None else (_name(encoding),)
                    known = unclaimed[(encoding, raw_id)] = (
                        met,
                        key_name,
                        _unknown(encoding, key_name),
                    )
                met, key_name, error = known
                out[i] = (Decoded(payload, met, key_name, error), None)
                continue
            else:
                rest.append(i)
                rest_payloads.append(payload)
                rest_stacks.append(empty)
                rest_ids.append(None)
                rest_depths.append(0)
                continue
            try:
                text = data.decode()
                value, end = scan(text, 0)
                whole = end == len(text)
            # UnicodeDecodeError, JSONDecodeError; RecursionError: nested deeper than the
            # interpreter's recursion limit.
            except (ValueError, StopIteration, RecursionError):
                whole = False
            if not whole:
                # Not plain UTF-8 JSON without surrounding space: the SDK converter decides.
                rest.append(i)
                rest_payloads.append(keep if keep is not None else from_string(plain or b""))
                rest_stacks.append(stack[:-1])
                rest_ids.append(key_name)
                rest_depths.append(len(stack) - 1)
                continue
            out[i] = (Decoded(keep, stack, key_name, None, plain), value)
        if rest:
            decoded, finals = self._decode(
                rest_payloads, rest_stacks, rest_ids, rest_depths, readable
            )
            for i, d in zip(rest, decoded, strict=True):
                out[i] = (d, None)
            self._convert(out, rest, finals, converter)
        return out

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encode each payload with every codec, innermost (last) codec first.

        Raises:
            CodecError: A codec could not encode the batch.
        """
        out = list(payloads)
        for codec in reversed(self.codecs):
            out = codec.encode(out)
        return out


def _readable(converter: Any) -> frozenset[bytes] | None:
    """The encodings a payload may end in to be handed to ``converter``: the default
    converter's and those the user's composite converter adds (``None``: a converter that is
    not a composite, which may read any encoding)."""
    own = readable_encodings(converter)
    return None if own is None else DEFAULT_ENCODINGS_BYTES | own


def _run(codec: Codec, batch: list[Payload]) -> list[Payload | DecodeFailure]:
    """``codec.decode(batch)``, turning a codec that raises or miscounts into per-payload
    failures: the chain itself never raises because of a payload."""
    try:
        results = codec.decode(batch)
    except Exception as err:
        return [DecodeFailure(f"the {codec.name} codec failed: {type(err).__name__}: {err}")] * len(
            batch
        )
    if not isinstance(results, (list, tuple)):
        return [
            DecodeFailure(
                f"{codec.name}.decode returned {_a(results)} instead of a list of payloads"
            )
        ] * len(batch)
    if len(results) != len(batch):
        return [
            DecodeFailure(
                f"the {codec.name} codec returned {len(results)} payloads for {len(batch)}"
            )
        ] * len(batch)
    return results


def _run_keyed(
    codec: Codec,
    decode_keyed: Callable[
        [list[Payload]], tuple[list[Payload | DecodeFailure], list[bytes | None]]
    ],
    batch: list[Payload],
) -> tuple[list[Payload | DecodeFailure], list[bytes | None]]:
    try:
        return decode_keyed(batch)
    except Exception:
        return _run(codec, batch), [None] * len(batch)


def _a(value: object) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _not_a_payload(codec: Codec, result: object) -> str:
    return (
        f"{codec.name}.decode returned {_a(result)} instead of a Payload; a codec's decode "
        "must return one temporalio.api.common.v1.Payload per input"
    )


def _unchanged(before: Payload, after: Payload) -> bool:
    return after is before or (
        after.metadata.get(ENCODING) == before.metadata.get(ENCODING) and after.data == before.data
    )


def chain(*codecs: Codec | Chain, max_depth: int = MAX_DEPTH) -> Chain:
    """Build a :class:`Chain`; ``chain()`` is the default converter alone."""
    return Chain(*codecs, max_depth=max_depth)


DEFAULT = Chain()
"""The empty chain: payloads are read by the default converter only."""


CodecLike = Chain | Codec | Any
"""What ``codec=`` accepts: a :class:`Chain`, one codec, or a
``temporalio.converter.PayloadCodec``; ``None`` means :data:`DEFAULT`."""


def as_chain(codec: CodecLike | None) -> Chain:
    """Turn what a user passes as ``codec=`` into a :class:`Chain`.

    Raises:
        CodecError: ``codec`` is neither a chain, a workbench codec nor a ``PayloadCodec``.
    """
    from .user import UserCodec

    if codec is None:
        return DEFAULT
    if isinstance(codec, Chain):
        return codec
    if isinstance(codec, Codec):
        return Chain(codec)
    if callable(getattr(codec, "decode", None)) and callable(getattr(codec, "encode", None)):
        return Chain(UserCodec(codec))
    raise CodecError(
        f"codec= takes a codecs.Chain, a codec (codecs.AesGcm, codecs.Zlib, codecs.Remote, ...) "
        f"or a temporalio.converter.PayloadCodec; got {type(codec).__name__}"
    )

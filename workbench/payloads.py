"""Find every payload in a history event, driven by the protobuf descriptors.

Nothing here knows an event type by name. For each message type a *plan* is computed once, from
its descriptor: the fields that can lead to a ``Payload`` (directly, through ``Payloads``, a map,
a repeated or nested message, a oneof, or a ``Failure`` and its ``cause`` chain). Walking an event
then visits only those fields, so a new event type, or a new payload field on an old one, is found
without code and without reflecting over every field of every event.

Each payload found is reported with its path, in the spelling of the proto field names::

    activity_task_scheduled_event_attributes.input[0]
    activity_task_failed_event_attributes.failure.cause.encoded_attributes
    workflow_execution_started_event_attributes.header.fields["x-trace"]
    marker_recorded_event_attributes.details["result"][0]

and with a *tag* saying what the payload is to a reader (``input``, ``result``, ``details``,
``failure``, ``memo``, ``header``, ``search_attributes``, ``user_metadata`` or ``None``), which
the events frame uses to fill its ``input``/``result``/... columns. Tags come from field *types*
(everything under a ``Failure``, ``Memo``, ``Header``, ``SearchAttributes`` or ``UserMetadata``
keeps that tag) and otherwise from the innermost tagged field *name* (``input``/``args``,
``result``/``success``, ``details``/``last_heartbeat_details``).
"""

from __future__ import annotations

import json
import keyword
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent

__all__ = [
    "PayloadRef",
    "find_payloads",
    "iter_payload_locations",
    "iter_payload_paths",
    "search_attribute_value",
]

PAYLOAD = "temporal.api.common.v1.Payload"
PAYLOADS = "temporal.api.common.v1.Payloads"

# Types whose whole subtree keeps one tag, whatever the field names below them say: a
# ``details`` field inside a Failure is failure detail, not the event's details.
_STICKY_TAGS: dict[str, str] = {
    "temporal.api.failure.v1.Failure": "failure",
    "temporal.api.common.v1.Memo": "memo",
    "temporal.api.common.v1.Header": "header",
    "temporal.api.common.v1.SearchAttributes": "search_attributes",
    "temporal.api.sdk.v1.UserMetadata": "user_metadata",
}

# Field names that say what a payload is; the innermost one wins (``accepted_request.input.args``
# is an input; ``outcome.success`` is a result).
_NAME_TAGS: dict[str, str] = {
    "input": "input",
    "args": "input",
    "result": "result",
    "success": "result",
    "last_completion_result": "result",  # a cron or retried run's previous result
    "details": "details",
    "last_heartbeat_details": "details",
    "heartbeat_details": "details",
}

# Step kinds of a plan.
_MSG = 0  # singular message field -> recurse
_PAYLOAD = 1  # singular Payload field
_PAYLOADS = 2  # singular Payloads field -> name[i]
_REP_PAYLOAD = 3  # repeated Payload -> name[i]
_REP_MSG = 4  # repeated message -> name[i].<sub>
_MAP_PAYLOAD = 5  # map<string, Payload> -> name["k"]
_MAP_PAYLOADS = 6  # map<string, Payloads> -> name["k"][i]
_MAP_MSG = 7  # map<string, message> -> name["k"].<sub>
_ONEOF = 8  # real oneof -> one WhichOneof call, then the chosen field's step


class _Step(NamedTuple):
    kind: int
    name: str  # proto field name (or oneof name for _ONEOF)
    json_name: str
    sub: Any  # sub-plan (list of _Step) for message kinds; {field: _Step} for _ONEOF
    tag: str | None
    sticky: bool


class PayloadRef(NamedTuple):
    """One payload found in an event.

    Attributes:
        path: Where it is, from the event (``activity_task_scheduled_event_attributes.input[0]``).
        payload: The payload as stored in the history (still encoded).
        tag: What it is to a reader: ``input``, ``result``, ``details``, ``failure``, ``memo``,
            ``header``, ``search_attributes``, ``user_metadata`` or ``None``.
        key: The map key for payloads held in a map (memo, header, search attribute, marker
            details), else ``None``.
    """

    path: str
    payload: Payload
    tag: str | None
    key: str | None


# Plans and walkers are built once per type, on first use, possibly from several threads (a
# panel decodes in the background): building takes this lock; using them does not.
_LOCK = threading.RLock()
_plans: dict[str, list[_Step]] = {}


def _is_repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(field, "label", 0) == FieldDescriptor.LABEL_REPEATED)  # protobuf < 5.28


_reach: dict[str, bool] = {}


def _learn_reach(root: Any) -> None:
    """Record, for every message type reachable from ``root``, whether it can hold a payload.

    A fixpoint over the type graph, so recursive types that never hold one
    (``google.protobuf.Struct``/``Value``) are pruned while ``Failure.cause`` is kept.
    """
    graph: dict[str, tuple[Any, list[Any]]] = {}
    stack = [root]
    while stack:
        desc = stack.pop()
        if desc.full_name in graph or desc.full_name in _reach:
            continue
        children = [f.message_type for f in desc.fields if f.type == FieldDescriptor.TYPE_MESSAGE]
        graph[desc.full_name] = (desc, children)
        stack.extend(children)
    reaching = {name for name in graph if name in (PAYLOAD, PAYLOADS)}
    reaching |= {name for name, ok in _reach.items() if ok}
    changed = True
    while changed:
        changed = False
        for name, (_desc, children) in graph.items():
            if name not in reaching and any(c.full_name in reaching for c in children):
                reaching.add(name)
                changed = True
    for name in graph:
        _reach[name] = name in reaching


def _leads_to_payload(desc: Any) -> bool:
    """Whether a message of type ``desc`` can hold a payload, at any depth."""
    if desc.full_name not in _reach:
        _learn_reach(desc)
    return _reach[desc.full_name]


def _field_step(field: Any) -> _Step | None:
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return None
    mt = field.message_type
    sticky_tag = _STICKY_TAGS.get(mt.full_name)
    tag = sticky_tag or _NAME_TAGS.get(field.name)
    sticky = sticky_tag is not None
    name, json_name = field.name, field.json_name
    if mt.GetOptions().map_entry:
        value = mt.fields_by_name["value"]
        if value.type != FieldDescriptor.TYPE_MESSAGE:
            return None
        vt = value.message_type
        if vt.full_name == PAYLOAD:
            return _Step(_MAP_PAYLOAD, name, json_name, None, tag, sticky)
        if vt.full_name == PAYLOADS:
            return _Step(_MAP_PAYLOADS, name, json_name, None, tag, sticky)
        if _leads_to_payload(vt):
            return _Step(_MAP_MSG, name, json_name, _plan(vt), tag, sticky)
        return None
    if _is_repeated(field):
        if mt.full_name == PAYLOAD:
            return _Step(_REP_PAYLOAD, name, json_name, None, tag, sticky)
        if _leads_to_payload(mt):
            return _Step(_REP_MSG, name, json_name, _plan(mt), tag, sticky)
        return None
    if mt.full_name == PAYLOAD:
        return _Step(_PAYLOAD, name, json_name, None, tag, sticky)
    if mt.full_name == PAYLOADS:
        return _Step(_PAYLOADS, name, json_name, None, tag, sticky)
    if _leads_to_payload(mt):
        return _Step(_MSG, name, json_name, _plan(mt), tag, sticky)
    return None


def _plan(desc: Any) -> list[_Step]:
    """The cached plan of ``desc``: the steps that can reach a payload, computed once.

    The list object is registered before it is filled, so a recursive type (``Failure.cause``)
    refers to its own, eventually complete, plan.
    """
    key = desc.full_name
    plan = _plans.get(key)
    if plan is not None:
        return plan
    plan = []
    _plans[key] = plan
    oneofs: dict[str, dict[str, _Step]] = {}
    order: list[_Step | str] = []
    for field in desc.fields:
        step = _field_step(field)
        if step is None:
            continue
        oneof = field.containing_oneof
        # proto3 ``optional`` makes a synthetic oneof of one field: treat it as a plain field.
        if (
            oneof is not None
            and not getattr(oneof, "is_synthetic", False)
            and (len(oneof.fields) > 1)
        ):
            if oneof.name not in oneofs:
                oneofs[oneof.name] = {}
                order.append(oneof.name)
            oneofs[oneof.name][field.name] = step
        else:
            order.append(step)
    for item in order:
        if isinstance(item, str):
            plan.append(_Step(_ONEOF, item, item, oneofs[item], None, False))
        else:
            plan.append(item)
    return plan


def _q(key: str) -> str:
    """A map key as it appears in a path: ``["x-trace"]``."""
    if '"' in key or "\\" in key or not key.isprintable():
        return f"[{json.dumps(key)}]"
    return f'["{key}"]'


# -- compiled walkers --------------------------------------------------------------------------
#
# A history has tens of thousands of events, so the walk must cost little per event. Each plan is
# compiled once into a small Python function (straight-line code: one HasField per candidate
# field, a dict dispatch for a oneof), generated from the plan the descriptors gave. This is what
# dataclasses and attrs do for __init__; it is about three times faster than interpreting the
# plan's steps for every event.

RawRef = tuple[int, str, Payload, "str | None", "str | None"]
"""(row, path, payload, tag, key): what compiled walkers append. ``row`` is passed through
unchanged (the caller's event index); the rest is a :class:`PayloadRef`, without the class
because building named tuples costs per payload."""

Walker = Callable[[Any, str, "str | None", bool, int, Callable[[RawRef], None]], None]

_NS: dict[str, Any] = {"_q": _q, "sorted": sorted, "enumerate": enumerate}
_walkers: dict[int, str] = {}  # id(plan) -> function name in _NS


def _access(obj: str, name: str) -> str:
    return f"getattr({obj}, {name!r})" if keyword.iskeyword(name) else f"{obj}.{name}"


def _step_code(step: _Step, obj: str, lit: str | None, top: bool) -> list[str]:
    """Source lines for one step on the message in variable ``obj``.

    ``lit`` is the path prefix when it is known at compile time (an event's attributes), else
    the generated code reads it from the ``prefix`` argument. ``top`` means the inherited tag is
    known to be ``None`` and not sticky.
    """
    kind, name, _json, sub, stag, ssticky = step
    if top:
        t, st = repr(stag), repr(ssticky)
    elif stag is None:
        t, st = "tag", "sticky"
    else:
        t = f"(tag if sticky else {stag!r})"
        st = "True" if ssticky else "sticky"

    def path(suffix: str) -> str:  # prefix + suffix, as an expression
        return repr(lit + suffix) if lit is not None else f"prefix + {suffix!r}"

    def indexed(suffix: str, var: str) -> str:  # f"{prefix}{suffix}[{var}]"
        head = lit + suffix if lit is not None else "{prefix}" + suffix
        return f'f"{head}[{{{var}}}]"'

    field = _access(obj, name)
    if kind == _PAYLOADS:
        # Nearly always one payload: index it and use a constant path, no iterator.
        return [
            f"if {obj}.HasField({name!r}):",
            f"    ps = {field}.payloads",
            "    if len(ps) == 1:",
            f"        add((row, {path(name + '[0]')}, ps[0], {t}, None))",
            "    else:",
            f"        t = {t}",
            "        for n, p in enumerate(ps):",
            f"            add((row, {indexed(name, 'n')}, p, t, None))",
        ]
    if kind == _MSG:
        return [
            f"if {obj}.HasField({name!r}):",
            f"    {_compile(sub)}({field}, {path(name + '.')}, {t}, {st}, row, add)",
        ]
    if kind == _PAYLOAD:
        return [
            f"if {obj}.HasField({name!r}):",
            f"    add((row, {path(name)}, {field}, {t}, None))",
        ]
    if kind == _MAP_PAYLOAD:
        return [
            f"m = {field}",
            "if m:",
            f"    t = {t}",
            "    for k in sorted(m):",
            f"        add((row, {path(name)} + _q(k), m[k], t, k))",
        ]
    if kind == _MAP_PAYLOADS:
        return [
            f"m = {field}",
            "if m:",
            f"    t = {t}",
            "    for k in sorted(m):",
            f"        base = {path(name)} + _q(k)",
            "        for n, p in enumerate(m[k].payloads):",
            '            add((row, f"{base}[{n}]", p, t, k))',
        ]
    # Repeated fields are usually empty: a length test is cheaper than starting an iterator.
    if kind == _REP_PAYLOAD:
        return [
            f"xs = {field}",
            "if xs:",
            f"    t = {t}",
            "    for n, p in enumerate(xs):",
            f"        add((row, {indexed(name, 'n')}, p, t, None))",
        ]
    if kind == _REP_MSG:
        return [
            f"xs = {field}",
            "if xs:",
            "    for n, x in enumerate(xs):",
            f'        {_compile(sub)}(x, {indexed(name, "n")} + ".", {t}, {st}, row, add)',
        ]
    if kind == _MAP_MSG:
        return [
            f"m = {field}",
            "for k in sorted(m):",
            f'    {_compile(sub)}(m[k], {path(name)} + _q(k) + ".", {t}, {st}, row, add)',
        ]
    raise AssertionError(f"unknown step kind {kind}")  # pragma: no cover


def _define(name: str, args: str, lines: list[str]) -> Any:
    src = f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in (lines or ["pass"]))
    exec(src, _NS)  # source generated from descriptors only (field names are identifiers)
    return _NS[name]


def _compile(plan: list[_Step]) -> str:
    """Name (in ``_NS``) of the compiled walker of ``plan``, compiling it on first use.

    The name is registered before the body is generated, so a recursive plan (``Failure.cause``)
    calls itself by name.
    """
    key = id(plan)
    fname = _walkers.get(key)
    if fname is not None:
        return fname
    fname = f"_walk{len(_walkers)}"
    _walkers[key] = fname
    body: list[str] = []
    for number, step in enumerate(plan):
        if step.kind == _ONEOF:
            # One WhichOneof, then a dict look-up of a one-step walker for the chosen field.
            table = {
                choice: _define(
                    f"{fname}_{number}_{choice}",
                    "msg, prefix, tag, sticky, row, add",
                    _step_code(chosen, "msg", None, False),
                )
                for choice, chosen in step.sub.items()
            }
            _NS[f"{fname}_{number}"] = table
            body += [
                f"f = {fname}_{number}.get(msg.WhichOneof({step.name!r}))",
                "if f is not None:",
                "    f(msg, prefix, tag, sticky, row, add)",
            ]
        else:
            body += _step_code(step, "msg", None, False)
    _define(fname, "msg, prefix, tag, sticky, row, add", body)
    return fname


EventWalker = Callable[[Any, Any, int, Callable[[RawRef], None]], None]

_event_walkers: dict[str | None, EventWalker] = {}


def event_walker(attributes: str | None) -> EventWalker:
    """A walker for history events whose ``attributes`` oneof holds ``attributes`` (a field name
    such as ``"activity_task_scheduled_event_attributes"``, or ``None``).

    ``event_walker(which)(event, getattr(event, which), row, out.append)`` appends the same
    tuples as :func:`walker` for the whole event, in the same order, in one call: the event's
    own payload fields and the chosen attributes' fields, with paths and tags known when it is
    compiled.
    """
    known = _event_walkers.get(attributes)
    if known is not None:
        return known
    with _LOCK:
        return _event_walker(attributes)


def _event_walker(attributes: str | None) -> EventWalker:
    known = _event_walkers.get(attributes)
    if known is not None:  # another thread compiled it while this one waited
        return known
    desc: Any = HistoryEvent.DESCRIPTOR
    lines: list[str] = []
    for step in _plan(desc):
        if step.kind != _ONEOF:
            lines += _step_code(step, "event", "", True)
            continue
        chosen = step.sub.get(attributes) if attributes is not None else None
        if chosen is None:
            continue
        if chosen.kind == _MSG and chosen.tag is None:
            # Inline the attributes' own plan on ``msg``, with a constant path prefix.
            for sub_step in chosen.sub:
                lines += _step_code(sub_step, "msg", f"{chosen.name}.", True)
        else:
            lines += _step_code(chosen, "event", "", True)
    name = f"_event_{attributes or 'none'}"
    fn: EventWalker = _define(name, "event, msg, row, add", lines)
    _event_walkers[attributes] = fn
    return fn


def walker(message_type: type[Message] | Descriptor) -> Walker:
    """The compiled walker of a message type: ``walker(T)(msg, "", None, False, row,
    out.append)`` appends one ``(row, path, payload, tag, key)`` tuple per payload of ``msg``."""
    desc: Any = message_type if isinstance(message_type, Descriptor) else message_type.DESCRIPTOR
    with _LOCK:
        fn: Walker = _NS[_compile(_plan(desc))]
    return fn


def plan_for(message_type: type[Message] | Descriptor) -> list[_Step]:
    """The (cached) walk plan of a message type; exposed for tests and diagnostics."""
    desc: Any = message_type if isinstance(message_type, Descriptor) else message_type.DESCRIPTOR
    with _LOCK:
        return _plan(desc)


def find_payloads(message: Message, out: list[PayloadRef] | None = None) -> list[PayloadRef]:
    """Every payload in ``message`` (a ``HistoryEvent``, or any other API message).

    Args:
        message: The message to search; it is not modified.
        out: A list to append to (lets a caller gather a whole page in one list).

    Returns:
        ``out`` (or a new list) with one :class:`PayloadRef` per payload, in field order;
        map entries in key order.
    """
    raw: list[RawRef] = []
    desc: Any = message.DESCRIPTOR
    walker(desc)(message, "", None, False, 0, raw.append)
    if out is None:
        out = []
    out.extend(PayloadRef(*ref[1:]) for ref in raw)
    return out


def iter_payload_locations(message: Message) -> Iterator[tuple[tuple[str | int, ...], Payload]]:
    """Every payload of ``message`` with its location in the message's proto3 JSON form.

    Yields ``(keys, payload)`` where ``keys`` leads from ``MessageToDict(message)`` to the
    payload's JSON object, e.g. ``("activityTaskScheduledEventAttributes", "input", "payloads",
    0)``. Same order as :func:`find_payloads`.
    """
    for _path, keys, payload in iter_payload_paths(message):
        yield keys, payload


def iter_payload_paths(
    message: Message,
) -> Iterator[tuple[str, tuple[str | int, ...], Payload]]:
    """Every payload of ``message`` as ``(path, keys, payload)``: ``path`` as
    :func:`find_payloads` spells it (the ``path`` column of a history's payloads frame), and
    ``keys`` as :func:`iter_payload_locations` gives them. Used to write the readable decoded
    export, matching each payload to its row by path.
    """
    desc: Any = message.DESCRIPTOR
    with _LOCK:
        plan = _plan(desc)
    yield from _walk_json(message, plan, "", ())


def _walk_json(
    msg: Any, plan: list[_Step], prefix: str, keys: tuple[str | int, ...]
) -> Iterator[tuple[str, tuple[str | int, ...], Payload]]:
    # Paths are built exactly as the compiled walkers build them (see _step_code).
    for step in plan:
        kind, name, jname, sub, _tag, _sticky = step
        if kind == _ONEOF:
            which = msg.WhichOneof(name)
            chosen = sub.get(which) if which is not None else None
            if chosen is None:
                continue
            kind, name, jname, sub, _tag, _sticky = chosen
        if kind == _PAYLOADS:
            if msg.HasField(name):
                for i, p in enumerate(getattr(msg, name).payloads):
                    yield f"{prefix}{name}[{i}]", (*keys, jname, "payloads", i), p
        elif kind == _MSG:
            if msg.HasField(name):
                yield from _walk_json(getattr(msg, name), sub, f"{prefix}{name}.", (*keys, jname))
        elif kind == _PAYLOAD:
            if msg.HasField(name):
                yield prefix + name, (*keys, jname), getattr(msg, name)
        elif kind == _MAP_PAYLOAD:
            m = getattr(msg, name)
            for k in sorted(m):
                yield prefix + name + _q(k), (*keys, jname, k), m[k]
        elif kind == _MAP_PAYLOADS:
            m = getattr(msg, name)
            for k in sorted(m):
                base = prefix + name + _q(k)
                for i, p in enumerate(m[k].payloads):
                    yield f"{base}[{i}]", (*keys, jname, k, "payloads", i), p
        elif kind == _REP_PAYLOAD:
            for i, p in enumerate(getattr(msg, name)):
                yield f"{prefix}{name}[{i}]", (*keys, jname, i), p
        elif kind == _REP_MSG:
            for i, x in enumerate(getattr(msg, name)):
                yield from _walk_json(x, sub, f"{prefix}{name}[{i}].", (*keys, jname, i))
        elif kind == _MAP_MSG:
            m = getattr(msg, name)
            for k in sorted(m):
                yield from _walk_json(m[k], sub, prefix + name + _q(k) + ".", (*keys, jname, k))


# -- search attributes ------------------------------------------------------------------------


def search_attribute_value(value: Any, payload: Payload) -> Any:
    """Shape a search attribute's JSON value by the payload's ``type`` metadata.

    The server stores search attributes unencoded (never through a codec) as ``json/plain``
    with a ``type`` metadata entry (``Keyword``, ``Int``, ``Datetime``, ``KeywordList``, ...).
    Older SDKs wrote every value as a one-element list; that list is unwrapped unless the type
    is ``KeywordList``. ``Datetime`` values become timezone-aware ``datetime`` objects.
    """
    sa_type = payload.metadata.get("type", b"")
    if isinstance(value, list) and sa_type != b"KeywordList" and len(value) == 1:
        value = value[0]
    if sa_type == b"Double" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # JSON writes 1.0 as 1
    if sa_type == b"Datetime" and isinstance(value, str):
        # Python 3.11's fromisoformat reads RFC 3339 with "Z" and nanosecond fractions are cut
        # to microseconds by the server's Go formatter only when present; strip extra digits.
        value = _parse_rfc3339(value)
    return value


def _parse_rfc3339(text: str) -> datetime | str:
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Go writes up to 9 fractional digits; Python's parser takes at most 6.
    dot = s.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(s) and s[end].isdigit():
            end += 1
        frac = s[dot + 1 : end][:6]
        s = s[: dot + 1] + frac + s[end:] if frac else s[:dot] + s[end:]
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return text

"""The codec doctor: call any codec server the way the Web UI and the CLI do, and say what
would break.

Most codec servers fail in the browser, not with curl: a missing preflight route, a missing
``Access-Control-Allow-Origin`` on one answer, a header not allowed. The doctor sends the
browser's preflights for an origin, an ``/encode`` -> ``/decode`` round trip, the CLI's
spellings, a bad body, and reports each finding by name. Standard library only.
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import os
import ssl
import statistics
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._redact import redact

__all__ = ["CodecCheck", "CodecReport", "check_codec_server"]

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"
_NEEDED_HEADERS = ("content-type", "x-namespace")
_TOKEN_HEADERS = ("authorization", "authorization-extras")


@dataclass(frozen=True)
class CodecCheck:
    """One finding of the doctor.

    Attributes:
        name: What was checked, e.g. ``"preflight /encode"``.
        status: ``"ok"``, ``"warn"`` (works, with a caveat), ``"fail"`` (a client breaks) or
            ``"info"``.
        detail: What was seen, and what to change when it is not ok.
    """

    name: str
    status: str
    detail: str


@dataclass
class CodecReport:
    """What :func:`check_codec_server` found.

    Attributes:
        url: The endpoint checked.
        origin: The browser origin the preflights were sent for (``None``: not checked).
        namespace: The namespace sent.
        checks: The findings, in the order they were made.
    """

    url: str
    origin: str | None
    namespace: str
    checks: list[CodecCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return not self.problems

    @property
    def problems(self) -> list[CodecCheck]:
        """The failed checks."""
        return [c for c in self.checks if c.status == FAIL]

    def add(self, name: str, status: str, detail: str) -> None:
        """Record one finding (``status``: ``"ok"``, ``"warn"``, ``"fail"`` or ``"info"``)."""
        self.checks.append(CodecCheck(name, status, detail))

    def __str__(self) -> str:
        head = f"Codec server {self.url}" + (f" for origin {self.origin}" if self.origin else "")
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [head]
        lines += [f"  {c.status.upper():4}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        lines.append(f"Result: {verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colors = {OK: "#1a7f37", WARN: "#9a6700", FAIL: "#cf222e", INFO: "#57606a"}
        rows = "".join(
            f"<tr><td style='color:{colors.get(c.status, '#000')};font-weight:bold'>"
            f"{html.escape(c.status)}</td><td style='text-align:left'>{html.escape(c.name)}</td>"
            f"<td style='text-align:left'>{html.escape(c.detail)}</td></tr>"
            for c in self.checks
        )
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        origin = f" for origin <code>{html.escape(self.origin)}</code>" if self.origin else ""
        return (
            f"<div><b>Codec server</b> <code>{html.escape(self.url)}</code>{origin}: "
            f"<b>{verdict}</b><table><tr><th>status</th><th>check</th><th>detail</th></tr>"
            f"{rows}</table></div>"
        )


@dataclass
class _Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    seconds: float


class _Client:
    def __init__(self, base: str, timeout: float, ssl_context: ssl.SSLContext | None) -> None:
        self.parts = urllib.parse.urlsplit(base)
        self.timeout = timeout
        self.ssl_context = ssl_context

    def request(
        self, method: str, op: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> _Answer:
        parts = self.parts
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            conn = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
        path = parts.path.rstrip("/") + "/" + op
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return _Answer(
            response.status,
            response.reason,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            time.perf_counter() - started,
        )


def _payload_json(encoding: str, data: bytes) -> dict[str, Any]:
    return {
        "metadata": {"encoding": base64.b64encode(encoding.encode()).decode()},
        "data": base64.b64encode(data).decode(),
    }


def _parse(body: bytes) -> list[dict[str, Any]] | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    items = doc.get("payloads", [])
    return items if isinstance(items, list) else None


def _encoding(item: dict[str, Any]) -> str:
    try:
        return base64.b64decode(item.get("metadata", {}).get("encoding", "")).decode()
    except (ValueError, AttributeError):
        return "?"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def norm(item: dict[str, Any]) -> tuple[bytes, dict[str, bytes]]:
        meta = item.get("metadata") or {}
        return (
            base64.b64decode(item.get("data") or ""),
            {k: base64.b64decode(v) for k, v in meta.items()},
        )

    try:
        return norm(a) == norm(b)
    except (ValueError, TypeError, AttributeError):
        return False


def _is_local(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or (host or "").startswith("127.")


def check_codec_server(
    url: str,
    *,
    origin: str | None = None,
    namespace: str = "default",
    auth: str | None = None,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> CodecReport:
    """Check a codec server the way the Temporal Web UI and CLI call it.

    Args:
        url: The codec endpoint, as given to the UI or ``--codec-endpoint`` (``{namespace}`` is
            replaced by ``namespace``).
        origin: The Web UI's origin (``http://localhost:8233``, ``https://cloud.temporal.io``);
            the browser checks are skipped when ``None``.
        namespace: Sent as ``X-Namespace``.
        auth: The ``Authorization`` value to send (never shown in the report).
        timeout: Seconds per request.
        ssl_context: TLS settings for an https endpoint with a private CA.

    Returns:
        A :class:`CodecReport`; ``report.ok`` is False when a client would break.
    """
    endpoint = (
        url.strip().rstrip("/").replace("{namespace}", urllib.parse.quote(namespace, safe=""))
    )
    report = CodecReport(url=url, origin=origin, namespace=namespace)
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        report.add("endpoint", FAIL, f"{url!r} is not an http(s) URL")
        return report
    client = _Client(endpoint, timeout, ssl_context)
    secrets = [auth]
    try:
        _check(report, client, origin, namespace, auth, parts)
    except (OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
        report.add(
            "reachable",
            FAIL,
            redact(f"cannot reach {endpoint}: {type(err).__name__}: {reason}", secrets),
        )
    return report


def _check(
    report: CodecReport,
    client: _Client,
    origin: str | None,
    namespace: str,
    auth: str | None,
    parts: urllib.parse.SplitResult,
) -> None:
    https = parts.scheme == "https"
    # -- transport ---------------------------------------------------------------------------
    if not https and not _is_local(parts.hostname):
        report.add(
            "https",
            WARN,
            "plain http to another machine: decrypted payloads cross the network in clear, and "
            "the Web UI sends access tokens to https:// endpoints only",
        )
    elif not https and auth is not None:
        report.add(
            "https",
            WARN,
            "the Web UI sends access tokens ('pass access token') to https:// endpoints only: "
            "only the CLI can authenticate to this endpoint",
        )
    # -- the browser's preflights ------------------------------------------------------------
    if origin is None:
        report.add(
            "browser",
            INFO,
            "CORS not checked: give the Web UI's origin (origin=, --origin) to check what a "
            "browser needs",
        )
    else:
        origin = origin.rstrip("/")
        wanted = list(_NEEDED_HEADERS) + (list(_TOKEN_HEADERS) if auth is not None else [])
        origin_host = urllib.parse.urlsplit(origin).hostname
        for op in ("decode", "encode"):
            answer = client.request(
                "OPTIONS",
                op,
                {
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": ",".join(wanted),
                    "Access-Control-Request-Private-Network": "true",
                },
            )
            _preflight(report, op, answer, origin, wanted, parts.hostname, origin_host)
    # -- /encode -> /decode round trip ---------------------------------------------------------
    # The round trip is sent as the browser sends it (with Origin); the other probes as the
    # CLI does (no Origin), so that a refused origin, already reported, does not hide them.
    base = {"Content-Type": "application/json", "X-Namespace": namespace}
    headers = dict(base)
    if auth is not None:
        headers["Authorization"] = auth
    browser = dict(headers)
    if origin is not None:
        browser["Origin"] = origin
    marker = f'"workbench-doctor-{os.urandom(4).hex()}"'.encode()
    plain = _payload_json("json/plain", marker)
    body = json.dumps({"payloads": [plain]}).encode()
    encoded: dict[str, Any] | None = None
    answer = client.request("POST", "encode", browser, body)
    _cors_on_answer(report, "POST /encode", answer, origin)
    items = _parse(answer.body) if answer.status == 200 else None
    if answer.status != 200:
        report.add(
            "encode",
            WARN,
            f"/encode answered {answer.status} {answer.reason}: the UI cannot encode (e.g. to "
            "send a signal); round trip skipped",
        )
    elif items is None or len(items) != 1:
        report.add(
            "encode",
            FAIL,
            f"/encode answered 200 without one payload for one sent: {_count(items)}",
        )
    else:
        encoded = items[0]
        how = _encoding(encoded)
        report.add(
            "encode",
            OK if how != "json/plain" else INFO,
            f"/encode wrote {how}" + (" (left it as is: no codec?)" if how == "json/plain" else ""),
        )
    if encoded is not None:
        answer = client.request(
            "POST", "decode", browser, json.dumps({"payloads": [encoded]}).encode()
        )
        _cors_on_answer(report, "POST /decode", answer, origin)
        items = _parse(answer.body) if answer.status == 200 else None
        if answer.status != 200:
            report.add(
                "round trip",
                FAIL,
                f"/decode answered {answer.status} {answer.reason} for what /encode wrote: "
                f"{_excerpt(answer.body, auth)}",
            )
        elif items is None or len(items) != 1 or not _same(items[0], plain):
            report.add(
                "round trip", FAIL, "/decode did not give back what was encoded: " + _count(items)
            )
        else:
            report.add("round trip", OK, "/encode then /decode gives back the value")
    # -- count and order (the UI pairs answers by index; the CLI errors on a different count) --
    batch = [
        _payload_json("json/plain", b'"a"'),
        encoded or plain,
        _payload_json("json/plain", b"2"),
    ]
    answer = client.request("POST", "decode", headers, json.dumps({"payloads": batch}).encode())
    items = _parse(answer.body) if answer.status == 200 else None
    expected = [batch[0], plain, batch[2]]
    if answer.status != 200:
        report.add(
            "count and order",
            FAIL,
            f"/decode of 3 payloads answered {answer.status} {answer.reason}: "
            f"{_excerpt(answer.body, auth)}",
        )
    elif items is None or len(items) != 3:
        report.add(
            "count and order",
            FAIL,
            f"/decode returned {_count(items)} for 3 sent: the CLI fails, the UI mismatches values",
        )
    elif not all(_same(a, b) for a, b in zip(items, expected, strict=True)):
        report.add("count and order", FAIL, "/decode returned 3 payloads but not in the order sent")
    else:
        report.add("count and order", OK, "3 payloads in, the same 3 out in order")
    # -- what the CLI sends: Go encoding/json (empty list as {}, empty fields omitted) --------
    answer = client.request("POST", "decode", headers, b"{}")
    items = _parse(answer.body) if answer.status == 200 else None
    null_item = {"metadata": {"encoding": base64.b64encode(b"binary/null").decode()}}
    answer2 = client.request(
        "POST", "decode", headers, json.dumps({"payloads": [null_item]}).encode()
    )
    items2 = _parse(answer2.body) if answer2.status == 200 else None
    if answer.status != 200 or items != []:
        report.add(
            "CLI body",
            FAIL,
            f"the CLI sends an empty list as {{}}; answered {answer.status} {answer.reason} "
            f"{_count(items) if answer.status == 200 else _excerpt(answer.body, auth)}",
        )
    elif answer2.status != 200 or items2 is None or len(items2) != 1:
        report.add(
            "CLI body",
            FAIL,
            "the CLI omits empty fields (a payload without 'data'); answered "
            f"{answer2.status} {answer2.reason} {_excerpt(answer2.body, auth)}",
        )
    else:
        report.add("CLI body", OK, "{} and a payload without 'data' are read")
    # -- a bad body ------------------------------------------------------------------------------
    answer = client.request("POST", "decode", headers, b"this is not json")
    if answer.status == 400:
        report.add("bad body", OK, f"400 with a reason: {_excerpt(answer.body, auth)}")
    elif answer.status >= 500:
        report.add(
            "bad body",
            WARN,
            f"a body that is not JSON gets {answer.status} {answer.reason} (400 would tell the "
            "client it sent something wrong)",
        )
    elif answer.status == 200:
        report.add("bad body", WARN, "a body that is not JSON is accepted with 200")
    else:
        report.add(
            "bad body", INFO, f"a body that is not JSON gets {answer.status} {answer.reason}"
        )
    # -- auth --------------------------------------------------------------------------------------
    if auth is not None:
        answer = client.request("POST", "decode", base, json.dumps({"payloads": [plain]}).encode())
        if answer.status in (401, 403):
            report.add("auth", OK, f"a request without Authorization gets {answer.status}")
        else:
            report.add(
                "auth",
                WARN,
                f"a request without Authorization gets {answer.status} {answer.reason}: the "
                "server does not check it",
            )
    # -- latency ---------------------------------------------------------------------------------
    one = json.dumps({"payloads": [encoded or plain]}).encode()
    times = [client.request("POST", "decode", headers, one).seconds for _ in range(5)]
    report.add(
        "latency",
        INFO,
        f"one payload: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms over 5 calls",
    )


def _preflight(
    report: CodecReport,
    op: str,
    answer: _Answer,
    origin: str,
    wanted: list[str],
    server_host: str | None,
    origin_host: str | None,
) -> None:
    name = f"preflight /{op}"
    h = answer.headers
    if not 200 <= answer.status < 300:
        hint = ""
        if op == "encode" and answer.status in (404, 405):
            hint = " (servers built from Temporal's Python sample serve OPTIONS on /decode only)"
        missing = ""
        if "access-control-allow-origin" not in h:
            missing = f"; no Access-Control-Allow-Origin for {origin}"
        said = _excerpt(answer.body, None)
        report.add(
            name,
            FAIL,
            f"OPTIONS /{op} answered {answer.status} {answer.reason}{missing}: the browser "
            f"refuses to call /{op}{hint}" + (f" (server says: {said})" if answer.body else ""),
        )
        return
    problems: list[str] = []
    warnings: list[str] = []
    allow_origin = h.get("access-control-allow-origin")
    if allow_origin is None:
        problems.append(f"no Access-Control-Allow-Origin for {origin}")
    elif allow_origin == "*":
        warnings.append(
            "Access-Control-Allow-Origin is '*': works without credentials only ('include "
            "credentials' fails)"
        )
    elif allow_origin.rstrip("/") != origin:
        problems.append(f"Access-Control-Allow-Origin is {allow_origin!r}, not {origin!r}")
    methods = {m.strip().upper() for m in h.get("access-control-allow-methods", "").split(",")}
    if "POST" not in methods and "*" not in methods:
        problems.append(
            "Access-Control-Allow-Methods "
            + (f"({h['access-control-allow-methods']}) lacks POST" if methods - {""} else "missing")
        )
    allowed = {x.strip().lower() for x in h.get("access-control-allow-headers", "").split(",")}
    # "*" allows any header but Authorization (the Fetch standard's rule).
    lacking = [
        x for x in wanted if x not in allowed and ("*" not in allowed or x == "authorization")
    ]
    if lacking:
        problems.append(f"Access-Control-Allow-Headers lacks {', '.join(lacking)}")
    if allow_origin not in (None, "*") and "origin" not in h.get("vary", "").lower():
        warnings.append("no Vary: Origin (a cache may hand one origin's answer to another)")
    if allow_origin not in (None, "*") and h.get("access-control-allow-credentials") != "true":
        warnings.append("no Access-Control-Allow-Credentials: true ('include credentials' fails)")
    if (
        not _is_local(origin_host)
        and _is_local(server_host)
        and h.get("access-control-allow-private-network") != "true"
    ):
        warnings.append(
            "no Access-Control-Allow-Private-Network: Chrome blocks a public page calling localhost"
        )
    if problems:
        report.add(name, FAIL, "; ".join(problems + warnings))
    elif warnings:
        report.add(name, WARN, "; ".join(warnings))
    else:
        report.add(name, OK, f"{answer.status}, allows {origin} with the UI's headers")


def _cors_on_answer(report: CodecReport, name: str, answer: _Answer, origin: str | None) -> None:
    if origin is None:
        return
    allow = answer.headers.get("access-control-allow-origin")
    if allow is None or (allow != "*" and allow.rstrip("/") != origin):
        report.add(
            f"CORS on {name}",
            FAIL,
            f"the {answer.status} answer has no Access-Control-Allow-Origin for {origin}: the "
            "browser hides it (the UI shows 'Codec Server could not connect')",
        )


def _count(items: list[dict[str, Any]] | None) -> str:
    return "not Payloads JSON" if items is None else f"{len(items)} payload(s)"


def _excerpt(body: bytes, auth: str | None) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())[:160]
    return redact(text, [auth]) or "(empty body)"

"""Client of a codec server: the HTTP protocol the Temporal Web UI and CLI speak.

``POST {endpoint}/decode`` (or ``/encode``) with ``Content-Type: application/json`` and the
body ``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`` -- proto3
JSON of ``Payloads``: every bytes value base64, metadata values too. The answer has the same
shape and the same number of payloads. ``X-Namespace`` names the namespace; ``auth`` is sent
verbatim as ``Authorization`` (as the CLI's ``--codec-auth``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from temporalio.api.common.v1 import Payload

from .._redact import REDACTED, redact
from ..errors import CodecError
from .base import Codec, DecodeFailure, claims_non_default

__all__ = ["Remote"]

EXCERPT = 200
"""Most characters of a codec server's error body quoted in a message."""

# Header names whose values are credentials (matched as lower-case substrings). Other header
# values (a tenant, an environment) are ordinary words: redacting them would garble messages.
_SECRET_HEADER_PARTS = (
    "auth",
    "key",
    "token",
    "cookie",
    "secret",
    "passw",
    "credential",
    "session",
    "signature",
)


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_HEADER_PARTS)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would turn the POST into a GET (losing the body) and
    send ``Authorization`` and the other headers on to whatever host the answer names. The
    3xx answer then surfaces as an ``HTTPError`` that :meth:`Remote._post` words."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _RemoteFailure(Exception):
    """A whole request failed; the message is already user-facing and redacted."""


class Remote(Codec):
    """A codec server reached over HTTP (what ``temporal --codec-endpoint`` and the Web UI use).

    Args:
        endpoint: Base URL; ``/decode`` and ``/encode`` are appended. ``{namespace}`` in it is
            replaced by the namespace, e.g. ``"https://codec.example.com/{namespace}"``.
        auth: Sent verbatim as the ``Authorization`` header (e.g. ``"Bearer …"``, or
            ``"Basic "`` + base64 of ``user:password``). Never shown in reprs or messages.
        headers: Extra headers for every request. Values of headers whose names look like
            credentials (``*auth*``, ``*key*``, ``*token*``, ``*cookie*``, ``*secret*``, ...)
            are kept out of messages too.
        namespace: Namespace sent as ``X-Namespace`` and put into ``{namespace}``; a
            :class:`~workbench.Session` fills it in with its own when left ``None``.
        batch_size: Most payloads per request.
        max_batch_bytes: A request is also cut when its payload data passes this size.
        timeout: Seconds each request may take.
        ssl_context: TLS settings for an ``https`` endpoint (e.g. a private CA); the system's
            trust store if ``None``.

    Redirects are not followed (a POST would become a GET and the credentials would go to
    another host): a codec server that answers with one is reported with the URL it names.

    Raises:
        CodecError: The endpoint is not an http(s) URL, holds credentials (``user:pw@``; pass
            them as ``auth=``), or a setting is out of range.
    """

    name = "remote"
    passes_through = True

    def __init__(
        self,
        endpoint: str,
        *,
        auth: str | None = None,
        headers: Mapping[str, str] | None = None,
        namespace: str | None = None,
        batch_size: int = 256,
        max_batch_bytes: int = 4 * 1024 * 1024,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(endpoint, str):
            raise CodecError(f"codec endpoint must be a URL string, got {type(endpoint).__name__}")
        endpoint = endpoint.strip().rstrip("/")
        parts = urllib.parse.urlsplit(endpoint.replace("{namespace}", "ns"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CodecError(
                f"codec endpoint {_safe_url(endpoint)!r} is not an http(s) URL; give the codec "
                "server's base URL, e.g. 'https://codec.example.com/{namespace}' (the /decode "
                "path is appended)"
            )
        if "@" in parts.netloc:
            # urllib would take "user:pw@host" for the host name and never send them.
            raise CodecError(
                f"codec endpoint {_safe_url(endpoint)!r} has credentials in the URL, which are "
                f"never sent; use {_bare_url(endpoint)!r} and pass credentials as auth= (e.g. "
                "auth='Bearer <token>', or 'Basic ' + base64 of 'user:password')"
            )
        if batch_size < 1:
            raise CodecError(f"batch_size must be at least 1, got {batch_size}")
        if timeout <= 0:
            raise CodecError(f"timeout must be a positive number of seconds, got {timeout}")
        self.endpoint = endpoint
        """The base URL as given (``{namespace}`` not yet replaced)."""
        self.namespace = namespace
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.timeout = timeout
        self._auth = auth
        self._headers = dict(headers or {})
        self._ssl_context = ssl_context
        self._secrets: list[str | bytes | None] = [
            auth,
            *(value for name, value in self._headers.items() if _is_secret_header(name)),
        ]
        self._opener = urllib.request.build_opener(
            _RefuseRedirects(), urllib.request.HTTPSHandler(context=ssl_context)
        )

    def __repr__(self) -> str:
        fields = [repr(_safe_url(self.endpoint))]
        if self._auth is not None:
            fields.append(f"auth={REDACTED!r}")
        if self._headers:
            fields.append(f"headers={sorted(self._headers)!r}")
        if self.namespace is not None:
            fields.append(f"namespace={self.namespace!r}")
        return f"Remote({', '.join(fields)})"

    def with_namespace(self, namespace: str) -> Remote:
        """This codec with ``namespace`` set, unless it already has one."""
        if self.namespace is not None:
            return self
        bound = copy.copy(self)
        bound.namespace = namespace
        return bound

    def claims_encoding(self, encoding: bytes | None) -> bool:
        """Claims every encoding the default converter does not read."""
        return claims_non_default(encoding)

    def url(self, operation: str = "decode") -> str:
        """The URL of ``/decode`` or ``/encode`` for this codec's namespace.

        Raises:
            CodecError: The endpoint holds ``{namespace}`` and no namespace is set.
        """
        base = self.endpoint
        if "{namespace}" in base:
            if not self.namespace:
                raise CodecError(
                    f"the codec endpoint {_safe_url(base)!r} contains {{namespace}} but no "
                    "namespace is set: pass namespace= to codecs.Remote, or use the codec "
                    "through a Session, which gives its own"
                )
            base = base.replace("{namespace}", urllib.parse.quote(self.namespace, safe=""))
        return f"{base}/{operation}"

    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        """Send the payloads to ``/decode`` in batches; a failed request fails its batch."""
        out: list[Payload | DecodeFailure] = []
        try:
            url = self.url("decode")
        except CodecError as err:
            return [DecodeFailure(err.message)] * len(payloads)
        for batch in self._batches(payloads):
            try:
                out.extend(self._post(url, batch))
            except _RemoteFailure as err:
                out.extend([DecodeFailure(str(err))] * len(batch))
        return out

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Send the payloads to ``/encode`` in batches.

        Raises:
            CodecError: A request failed (status and an excerpt of the answer in the message).
        """
        url = self.url("encode")
        out: list[Payload] = []
        for batch in self._batches(payloads):
            try:
                out.extend(self._post(url, batch))
            except _RemoteFailure as err:
                raise CodecError(str(err)) from None
        return out

    def _batches(self, payloads: Sequence[Payload]) -> list[Sequence[Payload]]:
        batches: list[Sequence[Payload]] = []
        start = 0
        size = 0
        for i, payload in enumerate(payloads):
            size += len(payload.data)
            if i > start and (i - start >= self.batch_size or size > self.max_batch_bytes):
                batches.append(payloads[start:i])
                start = i
                size = len(payload.data)
        if start < len(payloads):
            batches.append(payloads[start:])
        return batches

    def _request_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.namespace:
            headers["X-Namespace"] = self.namespace
        if self._auth is not None:
            headers["Authorization"] = self._auth
        headers.update(self._headers)
        return headers

    def _post(self, url: str, batch: Sequence[Payload]) -> list[Payload]:
        shown = _safe_url(url)
        request = urllib.request.Request(
            url, data=payloads_to_json(batch), headers=self._request_headers(), method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            if 300 <= err.code < 400:
                location = err.headers.get("Location")
                err.close()
                raise self._failure(_redirected(shown, url, location)) from None
            try:
                text = err.read().decode("utf-8", "replace")
            except Exception:
                text = ""
            # Redact before cutting: a secret the server echoed must not leak by halves.
            excerpt = " ".join(redact(text, self._secrets).split())[:EXCERPT]
            raise self._failure(
                f"remote codec error: HTTP {err.code} {err.reason} from {shown}: "
                f"{excerpt or '(empty body)'}"
            ) from None
        except urllib.error.URLError as err:
            raise self._failure(
                f"remote codec unreachable at {shown}: {err.reason}; check the endpoint and that "
                "the codec server is running"
            ) from None
        except TimeoutError:
            raise self._failure(
                f"remote codec at {shown} did not answer within {self.timeout:g} s; raise "
                "timeout= or check the codec server"
            ) from None
        except OSError as err:
            raise self._failure(f"remote codec unreachable at {shown}: {err}") from None
        try:
            decoded = payloads_from_json(body)
        except (ValueError, RecursionError) as err:  # RecursionError: JSON nested too deeply
            text = redact(body.decode("utf-8", "replace"), self._secrets)
            excerpt = " ".join(text.split())[:EXCERPT]
            raise self._failure(
                f"remote codec at {shown} answered with something that is not Payloads JSON "
                f"({err}): {excerpt}"
            ) from None
        if len(decoded) != len(batch):
            raise self._failure(
                f"remote codec at {shown} returned {len(decoded)} payloads for the {len(batch)} "
                "sent (a different payload count); the whole batch is left encoded"
            )
        return decoded

    def _failure(self, message: str) -> _RemoteFailure:
        return _RemoteFailure(redact(message, self._secrets))


def _redirected(shown: str, url: str, location: str | None) -> str:
    if not location:
        return (
            f"codec server at {shown} answered with a redirect without a Location; check "
            "the endpoint"
        )
    target = _bare_url(urllib.parse.urljoin(url, location.strip()))
    # The redirect names /decode (or /encode); the endpoint is the URL it is appended to.
    operation = url.rsplit("/", 1)[-1]
    path = urllib.parse.urlsplit(target).path
    endpoint = target
    if path.endswith("/" + operation):
        endpoint = urllib.parse.urlunsplit(
            urllib.parse.urlsplit(target)._replace(path=path[: -len(operation) - 1], query="")
        )
    return (
        f"codec server at {shown} redirected to {target}; redirects are not followed (they "
        f"would turn the POST into a GET and send credentials on): use {endpoint!r} as the "
        "endpoint"
    )


def _bare_url(url: str) -> str:
    """``url`` without its ``user:password@`` part."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def _safe_url(url: str) -> str:
    """``url`` without a password in its authority part."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{netloc}"))


def payloads_to_json(payloads: Sequence[Payload]) -> bytes:
    """Proto3 JSON of ``Payloads`` (the codec server body) for ``payloads``."""
    b64 = base64.b64encode
    items = [
        {
            "metadata": {k: b64(v).decode("ascii") for k, v in p.metadata.items()},
            "data": b64(p.data).decode("ascii"),
        }
        for p in payloads
    ]
    return json.dumps({"payloads": items}, separators=(",", ":")).encode()


def payloads_from_json(body: bytes | str) -> list[Payload]:
    """Parse a codec server body (proto3 JSON of ``Payloads``).

    Raises:
        ValueError: The body is not JSON of that shape.
    """
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object with a 'payloads' list")
    items = doc.get("payloads", [])
    if not isinstance(items, list):
        raise ValueError("'payloads' is not a list")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"payload {index} is not an object")
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError(f"payload {index}: 'metadata' is not an object")
        try:
            out.append(
                Payload(
                    metadata={str(k): _b64(v) for k, v in metadata.items()},
                    data=_b64(item.get("data") or ""),
                )
            )
        except (binascii.Error, TypeError, ValueError) as err:
            raise ValueError(f"payload {index}: bad base64 ({err})") from None
    return out


def _b64(value: Any) -> bytes:
    # Proto3 JSON readers accept the standard and URL-safe alphabets, padded or not.
    if not isinstance(value, str):
        raise TypeError(f"expected a base64 string, got {type(value).__name__}")
    text = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)

"""Codec files: the codecs of a codec server (or a notebook) described in TOML, keys kept out.

::

    # keys.toml -- the default codec, for any namespace
    compression = "zlib"                  # zlib | gzip | snappy, inside the encryption

    [encryption]                          # AES-256-GCM, the samples' format
    encrypt_key_id = "key-2026"           # the key /encode uses (default: the first listed)
    [encryption.keys]                     # the key ring: key id = where the key is
    key-2026 = { env = "WB_KEY_2026" }    # an environment variable (hex or base64 text)
    key-2025 = { file = "key-2025.bin" }  # a file: 32 raw bytes, hex or base64 (relative to
                                          # this file's folder)
    key-2024 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # inline

    [remote]                              # a codec server asked for what is left
    endpoint = "https://codec.example.com/{namespace}"
    auth = { env = "CODEC_AUTH" }

    [namespaces.payments]                 # a namespace with codecs of its own (same keys)
    compression = "gzip"
    [namespaces.payments.encryption.keys]
    pay-1 = { file = "/run/secrets/pay-1" }

Every error names the file, the section and the key id -- never a key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CodecError, SettingsError
from .base import Codec
from .chain import Chain
from .compression import Gzip, Snappy, Zlib
from .encryption import AesGcm, _from_text, load_key
from .remote import Remote

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_codec_file", "parse_codec_config"]

_CODEC_KEYS = frozenset(("encryption", "compression", "remote"))
_COMPRESSIONS: dict[str, type[Zlib] | type[Gzip] | type[Snappy]] = {
    "zlib": Zlib,
    "gzip": Gzip,
    "snappy": Snappy,
}


def load_codec_file(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> dict[str | None, Chain]:
    """Read a codec file (format in this module's docstring).

    Args:
        path: The TOML file.
        env: Where ``{ env = "VAR" }`` values are looked up (``os.environ`` if ``None``).

    Returns:
        A chain per namespace; the ``None`` entry (from the top-level section) serves any
        namespace not listed.

    Raises:
        SettingsError: The file cannot be read or is not a valid codec file; the message names
            the file, the section and the key id at fault, never key material.
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text("utf-8")
    except OSError as err:
        raise SettingsError(
            f"cannot read the codec file {str(file)!r}: {err.strerror or err}", setting=str(file)
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(
            f"the codec file {str(file)!r} is not valid TOML: {err}", setting=str(file)
        ) from None
    return parse_codec_config(doc, source=str(file), base_dir=file.parent, env=env)


def parse_codec_config(
    doc: Mapping[str, Any],
    *,
    source: str = "<codec config>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str | None, Chain]:
    """:func:`load_codec_file` on an already parsed document (``source`` names it in errors)."""
    env = os.environ if env is None else env
    reader = _Reader(source, base_dir or Path.cwd(), env)
    known = _CODEC_KEYS | {"namespaces"}
    reader.unknown(doc, known, "top level")
    out: dict[str | None, Chain] = {}
    if any(k in doc for k in _CODEC_KEYS):
        out[None] = reader.chain(doc, "top level")
    namespaces = doc.get("namespaces", {})
    if not isinstance(namespaces, Mapping):
        raise reader.error("[namespaces]", "must be a table of [namespaces.NAME] sections")
    for name, section in namespaces.items():
        where = f"[namespaces.{name}]"
        if not isinstance(section, Mapping):
            raise reader.error(where, "must be a table")
        reader.unknown(section, _CODEC_KEYS, where)
        out[name] = reader.chain(section, where)
    if not out:
        raise reader.error(
            "top level",
            'defines no codec: add [encryption], compression = "zlib", [remote] or '
            "[namespaces.NAME] sections",
        )
    return out


class _Reader:
    def __init__(self, source: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.env = env

    def error(self, where: str, message: str) -> SettingsError:
        return SettingsError(f"{self.source}: {where}: {message}", setting=f"{self.source} {where}")

    def unknown(self, section: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        extra = sorted(set(section) - known)
        if extra:
            raise self.error(
                where, f"unknown setting(s) {', '.join(extra)}; known: {', '.join(sorted(known))}"
            )

    def chain(self, section: Mapping[str, Any], where: str) -> Chain:
        codecs: list[Codec] = []
        if "encryption" in section:
            codecs.append(self.encryption(section["encryption"], where))
        if "compression" in section:
            codecs.append(self.compression(section["compression"], where))
        if "remote" in section:
            codecs.append(self.remote(section["remote"], where))
        return Chain(*codecs)

    def compression(self, value: Any, where: str) -> Codec:
        kind = _COMPRESSIONS.get(value) if isinstance(value, str) else None
        if kind is None:
            raise self.error(
                where, f"compression = {value!r}: use one of {', '.join(_COMPRESSIONS)}"
            )
        try:
            return kind()
        except CodecError as err:  # snappy without cramjam
            raise self.error(where, err.message) from None

    def secret(self, value: Any, where: str, what: str) -> str | Path:
        """Text of an inline value or ``{ env = VAR }``, or the path of ``{ file = PATH }``."""
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str):
            var = value["env"]
            if var not in self.env:
                raise self.error(where, f"{what}: environment variable {var} is not set")
            return self.env[var]
        if isinstance(value, Mapping) and set(value) == {"file"} and isinstance(value["file"], str):
            return self.base_dir / Path(value["file"]).expanduser()
        raise self.error(
            where,
            f'{what}: give a string, {{ env = "VAR" }} or {{ file = "path" }} (got '
            f"{type(value).__name__})",
        )

    def encryption(self, value: Any, where: str) -> AesGcm:
        where = f"{where} [encryption]" if where != "top level" else "[encryption]"
        if not isinstance(value, Mapping):
            raise self.error(where, "must be a table with a [keys] table")
        self.unknown(value, frozenset(("keys", "encrypt_key_id")), where)
        ring = value.get("keys")
        if not isinstance(ring, Mapping) or not ring:
            raise self.error(where, 'needs keys: key-id = { env = "VAR" } (or file, or text)')
        keys: dict[str, bytes] = {}
        for key_id, source in ring.items():
            material = self.secret(source, where, f"key {key_id!r}")
            if isinstance(material, str):
                # Text is hex or base64 only: a path must be spelt { file = ... }, so that a
                # mistyped key is never taken for a file name (or the other way round).
                key = _from_text(material)
                if key is None:
                    raise self.error(
                        where,
                        f"key {key_id!r} is neither 64 hex characters nor base64 of 32 bytes "
                        '(a key file is written { file = "path" })',
                    )
                keys[key_id] = key
                continue
            try:
                keys[key_id] = load_key(key_id, material)
            except CodecError as err:
                raise self.error(where, err.message) from None
        encrypt = value.get("encrypt_key_id")
        if encrypt is not None and encrypt not in keys:
            raise self.error(
                where,
                f"encrypt_key_id {encrypt!r} is not in [keys] ({', '.join(map(repr, keys))})",
            )
        try:
            return AesGcm(keys, encrypt_key_id=encrypt)
        except CodecError as err:
            raise self.error(where, err.message) from None

    def remote(self, value: Any, where: str) -> Remote:
        where = f"{where} [remote]" if where != "top level" else "[remote]"
        if not isinstance(value, Mapping) or not isinstance(value.get("endpoint"), str):
            raise self.error(where, 'needs endpoint = "https://..."')
        self.unknown(value, frozenset(("endpoint", "auth", "timeout")), where)
        auth = value.get("auth")
        auth_text = None if auth is None else self.secret(auth, where, "auth")
        if isinstance(auth_text, Path):
            try:
                auth_text = auth_text.read_text().strip()
            except OSError as err:
                raise self.error(where, f"auth file: {err.strerror or err}") from None
        timeout = value.get("timeout", 30)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise self.error(where, f"timeout = {timeout!r}: give a number of seconds")
        try:
            return Remote(value["endpoint"], auth=auth_text, timeout=float(timeout))
        except CodecError as err:
            raise self.error(where, err.message) from None

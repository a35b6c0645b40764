"""Layered configuration: defaults -> TOML file -> environment.

This module is the one place that reads configuration. Every area of the
product declares its settings as a typed dataclass and asks for it with
``config.section("name", MySettings)``; the values come from the ``[name]``
table of the TOML file, overridden by ``CENTRALINO_NAME__FIELD`` environment
variables. ``DATABASE_URL`` is honoured as the conventional override of
``database.url``.

Secrets are never defaulted: a secret field left empty raises
:class:`ConfigError` naming the file key and the environment variable that
would supply it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "CENTRALINO_"
T = TypeVar("T")


class ConfigError(ValueError):
    """Raised for a missing or invalid setting; the message names it."""


def secret(default: str = "") -> Any:
    """A dataclass field that must be set (from file or env) before use."""
    return field(default=default, metadata={"secret": True})


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(value, args[0], where)
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if typ is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if typ is str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return str(value)
    if typ is Path:
        return Path(str(value)).expanduser()
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type,) = typing.get_args(typ)[:1] or (str,)
        items = [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or typ is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    return value


@dataclass(frozen=True)
class DatabaseSettings:
    # Empty means "SQLite file in the runtime folder" (resolved by Config.database_url).
    url: str = ""
    echo: bool = False


@dataclass(frozen=True)
class PathsSettings:
    # Runtime state: rendered Asterisk config, SQLite file, recordings, logs.
    runtime_dir: Path = Path("var")
    recordings_dir: Path = Path("")


class Config:
    """Parsed configuration source. Build it with :func:`load_config`."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        source: Path | None = None,
    ) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._env: dict[str, str] = dict(os.environ if environ is None else environ)
        self.source = source
        self._cache: dict[tuple[str, type], Any] = {}

    def raw(self, section: str) -> dict[str, Any]:
        value = self._data.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{section}] in {self.source or 'config'} must be a table")
        return dict(value)

    def section(self, name: str, cls: type[T]) -> T:
        """Return section ``name`` parsed into the dataclass ``cls``.

        Unknown keys in the file are an error (a typo must not be silently ignored).
        """
        key = (name, cls)
        if key in self._cache:
            return typing.cast(T, self._cache[key])
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        hints = typing.get_type_hints(cls)
        file_values = self.raw(name)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(file_values) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) in [{name}]: {', '.join(unknown)}"
                f" (known: {', '.join(sorted(known))})"
            )
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env_key = env_name(name, f.name)
            where = f"{name}.{f.name}"
            if env_key in self._env:
                kwargs[f.name] = _coerce(self._env[env_key], hints[f.name], f"{env_key}")
            elif f.name in file_values:
                kwargs[f.name] = _coerce(file_values[f.name], hints[f.name], where)
        try:
            value = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[{name}]: {exc}") from exc
        self._cache[key] = value
        return value

    def require(self, name: str, cls: type[T]) -> T:
        """Like :meth:`section` but every secret field must be non-empty."""
        value = self.section(name, cls)
        for f in dataclasses.fields(value):  # type: ignore[arg-type]
            if f.metadata.get("secret") and not getattr(value, f.name):
                raise ConfigError(
                    f"missing secret setting {name}.{f.name}: set it in "
                    f"{self.source or 'the config file'} or in the environment "
                    f"variable {env_name(name, f.name)}"
                )
        return value

    @property
    def paths(self) -> PathsSettings:
        return self.section("paths", PathsSettings)

    @property
    def runtime_dir(self) -> Path:
        return self.paths.runtime_dir.resolve()

    @property
    def recordings_dir(self) -> Path:
        rec = self.paths.recordings_dir
        if str(rec) in ("", "."):
            return self.runtime_dir / "recordings"
        return rec.resolve()

    @property
    def database_url(self) -> str:
        if self._env.get("DATABASE_URL"):
            return self._env["DATABASE_URL"]
        url = self.section("database", DatabaseSettings).url
        if url:
            return url
        return f"sqlite:///{self.runtime_dir / 'centralino.db'}"

    def with_overrides(self, data: Mapping[str, Any]) -> Config:
        """A copy with some file-level values replaced (tests, CLI flags)."""
        merged = {k: dict(v) if isinstance(v, dict) else v for k, v in self._data.items()}
        for sect, values in data.items():
            if isinstance(values, Mapping):
                merged.setdefault(sect, {}).update(values)
            else:
                merged[sect] = values
        return Config(merged, self._env, self.source)


def default_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if env.get("CENTRALINO_CONFIG"):
        return Path(env["CENTRALINO_CONFIG"])
    for candidate in (Path("var/centralino.toml"), Path("/etc/centralino/centralino.toml")):
        if candidate.exists():
            return candidate
    return None


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any) and return a :class:`Config`."""
    env = os.environ if environ is None else environ
    source = Path(path) if path else default_config_path(env)
    data: dict[str, Any] = {}
    if source is not None:
        if not source.exists():
            raise ConfigError(f"config file {source} does not exist")
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {source} is not valid TOML: {exc}") from exc
    return Config(data, env, source)

"""Runtime configuration: environment variables, and the filters and settings kept in SSM.

The operator edits three parameters under ``FILTERS_PARAMETER_PATH`` (``include``, ``exclude``,
``settings``); they are read with ONE GetParametersByPath call through Powertools' SSMProvider
and cached for ``FILTERS_CACHE_SECONDS`` (60 s), so an edit applies within a minute without a
deploy. Anything malformed raises :class:`ConfigError`; nothing falls back to "match all".
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from soci_index_builder.errors import ConfigError
from soci_index_builder.soci.model import IndexSettings

from .filters import Filters, parse_rules

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

ENV_PARAMETER_PATH = "FILTERS_PARAMETER_PATH"
ENV_CACHE_SECONDS = "FILTERS_CACHE_SECONDS"
ENV_RESULT_EVENT_BUS = "RESULT_EVENT_BUS"
ENV_REGISTRY_ENDPOINT = "REGISTRY_ENDPOINT"
ENV_DEADLINE_MARGIN = "DEADLINE_MARGIN_SECONDS"
DEFAULT_CACHE_SECONDS = 60
DEFAULT_DEADLINE_MARGIN = 30.0

INCLUDE, EXCLUDE, SETTINGS = "include", "exclude", "settings"
_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?")
_SUFFIX_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
#: settings JSON key (an IndexSettings field) -> the JSON type it accepts
_SETTING_KEYS: dict[str, type] = {
    "span_size": int,
    "min_layer_size": int,
    "index_version": str,
    "tag_suffix": str,
    "platforms": list,
    "recompress_zstd": bool,
}


@dataclass(frozen=True)
class Config:
    """What the operator chose: which pushes to index, and how."""

    filters: Filters
    settings: IndexSettings


def env_number(name: str, default: float) -> float:
    """A non-negative number from the environment; a typo is a ConfigError, not the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw[:50]!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"environment variable {name} must be >= 0, got {raw}")
    return value


class ConfigSource:
    """Reads and parses the SSM parameters, with Powertools' TTL cache (one API call per TTL)."""

    def __init__(self, provider: SSMProvider | None = None) -> None:
        self._provider = provider

    def load(self) -> Config:
        path = os.environ.get(ENV_PARAMETER_PATH, "").strip()
        if not path.startswith("/"):
            raise ConfigError(f"{ENV_PARAMETER_PATH} must be an SSM path like /soci-index-builder/")
        ttl = int(env_number(ENV_CACHE_SECONDS, DEFAULT_CACHE_SECONDS))
        values = self._get_provider().get_multiple(path.rstrip("/") or "/", max_age=ttl)
        return parse_config({str(k): str(v) for k, v in values.items()}, path)

    def _get_provider(self) -> SSMProvider:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._provider = SSMProvider()
        return self._provider


def parse_config(values: dict[str, str], path: str) -> Config:
    """Build a Config from ``{name: value}``; no ``include`` is an error (docs/filters.md)."""
    where = path.rstrip("/")
    if INCLUDE not in values:
        raise ConfigError(f"SSM parameter {where}/{INCLUDE} is missing (use *:* to index all)")
    include = parse_rules(values[INCLUDE], f"{where}/{INCLUDE}")
    exclude = parse_rules(values.get(EXCLUDE, ""), f"{where}/{EXCLUDE}")
    settings = parse_settings(values.get(SETTINGS, ""), f"{where}/{SETTINGS}")
    return Config(Filters(include, exclude), settings)


def parse_settings(text: str, name: str) -> IndexSettings:
    """Parse the settings JSON object; absent keys keep the defaults, unknown keys are errors."""
    if not text.strip():
        return IndexSettings()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_SETTING_KEYS))
    if unknown:
        raise ConfigError(f"{name}: unknown keys {unknown}; allowed: {sorted(_SETTING_KEYS)}")
    for key, value in data.items():
        _check_type(name, key, value)
    return _validated(name, replace(IndexSettings(), **_coerce(data)))


def _check_type(name: str, key: str, value: Any) -> None:
    expected = _SETTING_KEYS[key]
    # bool is an int in Python; JSON true is never a size.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{name}: {key} must be a JSON {expected.__name__}, got {value!r}")


def _coerce(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "platforms" in out:
        out["platforms"] = tuple(out["platforms"])
    return out


def _validated(name: str, settings: IndexSettings) -> IndexSettings:
    problems = []
    if settings.span_size < 1 << 16:
        problems.append("span_size must be >= 65536")
    if settings.min_layer_size < 0:
        problems.append("min_layer_size must be >= 0")
    if settings.index_version not in ("v1", "v2"):
        problems.append("index_version must be 'v1' or 'v2'")
    if not _SUFFIX_RE.fullmatch(settings.tag_suffix):
        problems.append("tag_suffix must be 1-32 of A-Za-z0-9_.-")
    bad = [p for p in settings.platforms if not isinstance(p, str) or not _PLATFORM_RE.fullmatch(p)]
    if bad:
        problems.append(f"platforms must be os/arch[/variant] strings, got {bad}")
    if problems:
        raise ConfigError(f"{name}: " + "; ".join(problems))
    return settings


def registry_endpoint(account: str, region: str) -> tuple[str, bool]:
    """``(host, plain_http)``: the event's ECR registry, or ``REGISTRY_ENDPOINT`` if set.

    Plain HTTP only when the override says ``http://`` (tests against a local registry).
    """
    override = os.environ.get(ENV_REGISTRY_ENDPOINT, "").strip()
    if not override:
        from soci_index_builder.store.remote.ecr import ecr_registry_host

        return ecr_registry_host(account, region), False
    scheme, sep, host = override.partition("://")
    if not sep:
        scheme, host = "https", override
    host = host.rstrip("/")
    if scheme not in ("http", "https") or not host or "/" in host:
        raise ConfigError(
            f"{ENV_REGISTRY_ENDPOINT}={override[:100]!r} must be [http[s]://]host[:port]"
        )
    return host, scheme == "http"

"""What the operator chose, read at run time: the filters and settings kept in SSM.

Shared by the Lambdas (indexer, reconciler). The operator edits three parameters under
``FILTERS_PARAMETER_PATH`` (``include``, ``exclude``, ``settings``); they are read with ONE
GetParametersByPath call through Powertools' SSMProvider and cached for
``FILTERS_CACHE_SECONDS`` (60 s), so an edit applies within a minute without a deploy.
Anything malformed raises :class:`ConfigError`; nothing falls back to "match all". The
settings object's rules are the settings model's (``soci_index_builder.soci.settings``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soci_index_builder.errors import ConfigError
from soci_index_builder.filters import Filters, parse_rules
from soci_index_builder.soci.settings import BuilderSettings, FleetSettings, IndexSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

ENV_PARAMETER_PATH = "FILTERS_PARAMETER_PATH"
ENV_CACHE_SECONDS = "FILTERS_CACHE_SECONDS"
DEFAULT_CACHE_SECONDS = 60

INCLUDE, EXCLUDE, SETTINGS = "include", "exclude", "settings"


@dataclass(frozen=True)
class Config:
    """What the operator chose: which pushes to index, how, and how long indexes are kept."""

    filters: Filters
    settings: IndexSettings
    fleet: FleetSettings


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
    """A Config from ``{name: value}``; a missing ``include`` is an error (docs/filters.md)."""
    where = path.rstrip("/")
    if INCLUDE not in values:
        raise ConfigError(f"SSM parameter {where}/{INCLUDE} is missing (use *:* to index all)")
    include = parse_rules(values[INCLUDE], f"{where}/{INCLUDE}")
    exclude = parse_rules(values.get(EXCLUDE, ""), f"{where}/{EXCLUDE}")
    settings = BuilderSettings.from_json(values.get(SETTINGS, ""), f"{where}/{SETTINGS}")
    return Config(Filters(include, exclude), settings.index, settings.fleet)

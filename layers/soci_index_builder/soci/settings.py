"""The settings model: every rule a setting must follow, in one place, checked on construction.

The CLI (flags), the Lambda (the SSM ``settings`` JSON object) and the CDK app (context inputs
that seed that object) all build these records, so a value is accepted or refused the same way
everywhere (docs/filters.md). A refusal is a :class:`SettingError` naming the key; each adapter
renders the key as its user spells it (``--span-size``, ``/stack/settings: span_size``,
``-c tagSuffix``). Pure values, stdlib only: the CDK app imports this module at synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from ..errors import ConfigError
from ..ztoc.model import DEFAULT_BUILD_TOOL_IDENTIFIER, DEFAULT_SPAN_SIZE, WINDOW_SIZE

#: Layers smaller than this (compressed) are not worth lazy loading; soci's default (section 7).
DEFAULT_MIN_LAYER_SIZE = 10 << 20
#: The v2 output tag is ``<source tag><suffix>``; CI pipelines deploy ``<tag>-soci``.
DEFAULT_TAG_SUFFIX = "-soci"
#: Every checkpoint stores a 32 KiB window: a smaller span makes a zTOC bigger than its data.
MIN_SPAN_SIZE = WINDOW_SIZE
#: Reconciler: indexes of images deleted this many days ago are pruned (docs/fleet.md).
DEFAULT_PRUNE_AFTER_DAYS = 7

IndexVersion = Literal["v1", "v2"]

#: A suffix is appended to an OCI tag, so it uses the tag alphabet; 32 keeps room for the tag.
_SUFFIX_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?")


class SettingError(ConfigError):
    """One setting's value breaks its rule; ``key`` is the settings field name."""

    def __init__(self, key: str, problem: str, source: str | None = None) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key} {problem}" if source else f"{key} {problem}")


def _check(key: str, ok: bool, problem: str) -> None:
    if not ok:
        raise SettingError(key, problem)


def _check_types(record: object) -> None:
    """Each field keeps the JSON type of its default (JSON ``true`` is never a size)."""
    for f in fields(record):  # type: ignore[arg-type]
        kind, value = type(f.default), getattr(record, f.name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            name = _JSON_NAMES.get(kind, kind.__name__)
            raise SettingError(f.name, f"must be a JSON {name}, got {value!r}")


_JSON_NAMES: dict[type, str] = {tuple: "list"}


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """Everything that shapes a SOCI index; the same settings always give the same digests."""

    span_size: int = DEFAULT_SPAN_SIZE
    min_layer_size: int = DEFAULT_MIN_LAYER_SIZE
    index_version: IndexVersion = "v2"
    tag_suffix: str = DEFAULT_TAG_SUFFIX
    #: ``os/arch[/variant]`` allow-list; empty means every platform of the image.
    platforms: tuple[str, ...] = ()
    recompress_zstd: bool = False
    #: Move the source tag to the SOCI-enabled index (off: never touch the source tag).
    replace_tag: bool = False
    build_tool_identifier: str = DEFAULT_BUILD_TOOL_IDENTIFIER
    #: Layers built at once (the inflater releases the GIL; 2 suits a 2-vCPU Lambda).
    max_workers: int = 2
    dry_run: bool = False

    def __post_init__(self) -> None:
        _check_types(self)
        _check("span_size", self.span_size >= MIN_SPAN_SIZE, f"must be >= {MIN_SPAN_SIZE}")
        _check("min_layer_size", self.min_layer_size >= 0, "must be >= 0")
        _check("index_version", self.index_version in ("v1", "v2"), "must be 'v1' or 'v2'")
        _check(
            "tag_suffix",
            bool(_SUFFIX_RE.fullmatch(self.tag_suffix)),
            f"must be 1-32 of A-Za-z0-9_.- (got {self.tag_suffix[:40]!r})",
        )
        bad = [p for p in self.platforms if not (isinstance(p, str) and _PLATFORM_RE.fullmatch(p))]
        _check("platforms", not bad, f"must be os/arch[/variant] strings, got {bad}")
        _check("max_workers", self.max_workers >= 1, "must be >= 1")
        _check("build_tool_identifier", bool(self.build_tool_identifier), "must not be empty")


@dataclass(frozen=True, kw_only=True)
class FleetSettings:
    """How the reconciler keeps existing indexes (docs/fleet.md)."""

    #: Delete the SOCI indexes this builder made for images that no longer exist.
    prune: bool = True
    prune_after_days: int = DEFAULT_PRUNE_AFTER_DAYS

    def __post_init__(self) -> None:
        _check_types(self)
        _check("prune_after_days", self.prune_after_days >= 0, "must be >= 0")


@dataclass(frozen=True)
class BuilderSettings:
    """The deployed builder's SSM ``settings`` JSON object: index settings + fleet settings."""

    index: IndexSettings = IndexSettings()
    fleet: FleetSettings = FleetSettings()

    #: The keys an operator may set (the others are per-invocation CLI choices).
    INDEX_KEYS: ClassVar[tuple[str, ...]] = (
        "span_size",
        "min_layer_size",
        "index_version",
        "tag_suffix",
        "platforms",
        "recompress_zstd",
    )
    FLEET_KEYS: ClassVar[tuple[str, ...]] = ("prune", "prune_after_days")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> BuilderSettings:
        """Build from decoded JSON; absent keys keep defaults, unknown keys are errors.

        Every error is a :class:`ConfigError` starting with ``source`` and naming the key.
        """
        allowed = (*cls.INDEX_KEYS, *cls.FLEET_KEYS)
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}; allowed: {sorted(allowed)}")
        values = {key: _from_json(value) for key, value in data.items()}
        try:
            return cls(
                IndexSettings(**{k: v for k, v in values.items() if k in cls.INDEX_KEYS}),
                FleetSettings(**{k: v for k, v in values.items() if k in cls.FLEET_KEYS}),
            )
        except SettingError as exc:
            raise SettingError(exc.key, exc.problem, source) from None

    @classmethod
    def from_json(cls, text: str, source: str) -> BuilderSettings:
        """Parse the SSM value: blank means all defaults; anything else must be a JSON object."""
        if not text.strip():
            return cls()
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must be a JSON object, got {type(data).__name__}")
        return cls.from_mapping(data, source)


def _from_json(value: Any) -> Any:
    """JSON arrays become tuples: settings are hashable values."""
    return tuple(value) if isinstance(value, list) else value

"""Include/exclude rules ``repository-glob:tag-glob``, compatible with the AWS reference builder.

Each rule is matched with :func:`fnmatch.fnmatchcase` against the repository and the tag
separately (``*`` also matches ``/``, as in the reference builder). Exclude wins over include.
A rule that could never match anything ECR accepts (an upper-case repository glob, a stray
``[``, a character no name may contain) is rejected as malformed instead of silently matching
nothing: a typo in a filter must be an error the operator sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .errors import ConfigError, SkipReason

#: The value the CDK stack writes for "no rules" (SSM cannot hold an empty StringList).
NO_RULES = "-"

_GLOB_META = r"*?\[\]!"
_REPOSITORY_GLOB_RE = re.compile(rf"[a-z0-9._/{_GLOB_META}-]+")
_TAG_GLOB_RE = re.compile(rf"[A-Za-z0-9_.{_GLOB_META}-]+")
_BRACKET_RE = re.compile(r"\[!?\]?[^\]]*\]")


@dataclass(frozen=True)
class Rule:
    """One ``repository-glob:tag-glob`` rule."""

    repository: str
    tag: str

    def matches(self, repository: str, tag: str) -> bool:
        return fnmatchcase(repository, self.repository) and fnmatchcase(tag, self.tag)

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Decision:
    """Whether a push is indexed; ``rule`` is the rule that decided (for the log)."""

    included: bool
    reason: SkipReason | None = None
    rule: Rule | None = None


@dataclass(frozen=True)
class Filters:
    """The include and exclude rule lists; exclude wins."""

    include: tuple[Rule, ...]
    exclude: tuple[Rule, ...] = ()

    def decide(self, repository: str, tag: str) -> Decision:
        for rule in self.exclude:
            if rule.matches(repository, tag):
                return Decision(False, SkipReason.EXCLUDED, rule)
        for rule in self.include:
            if rule.matches(repository, tag):
                return Decision(True, None, rule)
        return Decision(False, SkipReason.NOT_INCLUDED)


def parse_rules(value: str, name: str) -> tuple[Rule, ...]:
    """Parse an SSM StringList value (comma-separated); ``-`` or blank means no rules."""
    if value.strip() in ("", NO_RULES):
        return ()
    return tuple(parse_rule(item.strip(), name) for item in value.split(","))


def parse_rule(text: str, name: str) -> Rule:
    """Parse one ``repository-glob:tag-glob``; raise ConfigError saying what is wrong."""
    if text.count(":") != 1:
        raise ConfigError(f"{name}: rule {text[:200]!r} must be repository-glob:tag-glob")
    repository, tag = text.split(":")
    _check_glob(repository, _REPOSITORY_GLOB_RE, name, text, "repository (lower-case a-z0-9._/-)")
    _check_glob(tag, _TAG_GLOB_RE, name, text, "tag (A-Za-z0-9_.-)")
    return Rule(repository, tag)


def _check_glob(glob: str, allowed: re.Pattern[str], name: str, rule: str, what: str) -> None:
    if not allowed.fullmatch(glob):
        raise ConfigError(
            f"{name}: rule {rule[:200]!r}: {what} glob is empty or has characters no name "
            "can contain; use * ? [...] [!...] as wildcards"
        )
    rest = _BRACKET_RE.sub("", glob)
    if any(c in rest for c in "[]") or "!" in rest:
        raise ConfigError(f"{name}: rule {rule[:200]!r}: unbalanced [...] or stray '!'")

"""Inputs of the builder: one typed, validated record, filled from CDK context by the app.

Validation happens at synth time so a typo in ``-c architecture=amd64`` fails with a sentence
naming the context key instead of a CloudFormation rollback twenty minutes later. The values
the stack seeds into the SSM ``settings`` object (``indexVersion``, ``tagSuffix``) are checked
by the settings model the function itself uses (``soci_index_builder.soci.settings``), so the
stack cannot deploy a value the function would refuse (docs/deploy.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from aws_cdk import aws_logs as logs

from soci_index_builder.soci.settings import IndexSettings, IndexVersion, SettingError

if TYPE_CHECKING:
    from aws_cdk import aws_sns as sns

Architecture = Literal["arm64", "x86_64"]

#: SSM refuses empty values; this single-item StringList means "no exclude rule".
EXCLUDE_NOTHING = "-"
#: Two vCPUs start at 3538 MB (Lambda scales CPU with memory); 3584 is the next 64 MB step.
DEFAULT_MEMORY_MB = 3584
_SCHEDULE = re.compile(r"(?:rate|cron)\([^()]+\)")
_ECR_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
#: An AWS Signer profile (or profile version) ARN, as ECR managed signing names it.
_SIGNING_PROFILE_ARN = re.compile(
    r"^arn:aws[a-z-]*:signer:[a-z0-9-]+:[0-9]{12}:/signing-profiles/[A-Za-z0-9_]{2,64}"
    r"(?:/[A-Za-z0-9]{10})?$"
)
#: The retention values CloudWatch Logs accepts, in RetentionDays' declaration order.
_RETENTION_VALUES = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                     1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip
RETENTION_DAYS: Mapping[int, logs.RetentionDays] = dict(
    zip(_RETENTION_VALUES, [r for r in logs.RetentionDays if r.name != "INFINITE"], strict=True)
)


class PropsError(ValueError):
    """A BuilderProps value breaks its rule; ``field`` names the BuilderProps field."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        self.problem = problem
        super().__init__(f"SociIndexBuilder: {field_name} {problem}")


class ContextError(ValueError):
    """A CDK context input that cannot be used; the message names the ``-c`` key."""


@dataclass(frozen=True, kw_only=True)
class BuilderProps:
    """Everything a deployment may choose; defaults suit one account-wide builder."""

    include: Sequence[str] = ("*:*",)
    exclude: Sequence[str] = ()
    architecture: Architecture = "arm64"
    memory_size: int = DEFAULT_MEMORY_MB
    #: None leaves the function on the account's unreserved pool.
    reserved_concurrency: int | None = None
    #: Upper bound of concurrent batches the SQS poller hands to the function (2..1000).
    max_concurrency: int = 10
    #: ECR repository name prefixes the role may touch; empty means every repository.
    repository_prefixes: Sequence[str] = ()
    index_version: IndexVersion = "v2"
    tag_suffix: str = "-soci"
    #: Signer profiles of ECR managed signing: ECR signs what the builder pushes with the
    #: pusher's identity, so the role needs ``signer:SignPayload`` on them (README).
    signing_profile_arns: Sequence[str] = ()
    #: Event bus name or ARN for result events; None sends none.
    result_bus: str | None = None
    #: Managed policy name or ARN applied as permissions boundary to every role.
    permissions_boundary: str | None = None
    max_receive_count: int = 3
    log_retention_days: int = 30
    log_level: str = "INFO"
    #: SSM prefix, starting and ending with "/"; None derives ``/<stack name>/``.
    parameter_prefix: str | None = None
    service_name: str = "soci-index-builder"
    metrics_namespace: str = "SociIndexBuilder"
    #: EventBridge schedule of the fleet reconciler (docs/fleet.md), or ``off``.
    reconcile_schedule: str = "rate(1 day)"
    #: Run the reconciler after each successful deploy (backfill of existing images).
    backfill_on_deploy: bool = True
    alarm_topic: sns.ITopic | None = field(default=None, compare=False)
    #: The DynamoDB zTOC catalogue (docs/reuse.md); off: only the previous output is reused.
    ztoc_catalogue: bool = True
    ztoc_table_pitr: bool = False
    #: Register the indexer's and the reconciler's roles as ECR pull-time update exclusions,
    #: so their reads leave ``lastRecordedPullTime`` alone (docs/ecr.md 2.5).
    exclude_from_pull_times: bool = True

    def __post_init__(self) -> None:
        for field_name, problem in self._problems():
            raise PropsError(field_name, problem)

    def _problems(self) -> list[tuple[str, str]]:
        """Every rule a value must follow, as (field, sentence) (the first one is raised)."""
        checks = [
            ("architecture", self.architecture in ("arm64", "x86_64"), "must be arm64 or x86_64"),
            ("memory_size", 128 <= self.memory_size <= 10240, "must be 128..10240 MB"),
            ("max_receive_count", 1 <= self.max_receive_count <= 1000, "must be 1..1000"),
            ("max_concurrency", 2 <= self.max_concurrency <= 1000, "must be 2..1000"),
            ("log_retention_days", self.log_retention_days in RETENTION_DAYS,
             "is not a CloudWatch Logs retention value"),
            ("include", bool(self.include), "needs at least one rule (e.g. '*:*')"),
            ("reserved_concurrency",
             self.reserved_concurrency is None or self.reserved_concurrency >= 0, "must be >= 0"),
        ]  # fmt: skip
        problems = [(name, message) for name, ok, message in checks if not ok]
        try:  # the function's own rules for the values seeded into its settings object
            IndexSettings(index_version=self.index_version, tag_suffix=self.tag_suffix)
        except SettingError as exc:
            problems.append((exc.key, exc.problem))
        for name, rules in (("include", self.include), ("exclude", self.exclude)):
            problems += [
                (name, f"rule {rule!r} must be non-empty and contain no comma")
                for rule in rules
                if "," in rule or not rule.strip()
            ]
        problems += [
            ("repository_prefixes", f"{prefix!r} is not a valid ECR name start")
            for prefix in self.repository_prefixes
            if not _ECR_PREFIX.match(prefix)
        ]
        problems += [
            ("signing_profile_arns", f"{arn!r} is not a Signer signing-profile ARN")
            for arn in self.signing_profile_arns
            if not _SIGNING_PROFILE_ARN.match(arn)
        ]
        if self.reconcile_schedule != "off" and not _SCHEDULE.fullmatch(self.reconcile_schedule):
            problems.append(("reconcile_schedule", "must be rate(...), cron(...) or off"))
        path = self.parameter_prefix
        if path is not None and not (path.startswith("/") and path.endswith("/")):
            problems.append(("parameter_prefix", "must start and end with '/'"))
        return problems

    @property
    def exclude_value(self) -> list[str]:
        """The exclude StringList as stored: the sentinel stands for an empty list."""
        return list(self.exclude) or [EXCLUDE_NOTHING]

    @property
    def settings_value(self) -> str:
        """The settings JSON the template writes; only keys the stack itself depends on."""
        settings = {"index_version": self.index_version, "tag_suffix": self.tag_suffix}
        return json.dumps(settings, sort_keys=True, separators=(",", ":"))

    @property
    def effective_max_concurrency(self) -> int:
        """Poller concurrency never above reserved concurrency: excess polls would throttle
        and burn receive counts until healthy messages land in the DLQ."""
        if self.reserved_concurrency is None:
            return self.max_concurrency
        return max(2, min(self.max_concurrency, self.reserved_concurrency))


#: CDK context key -> BuilderProps field (documented in docs/deploy.md).
CONTEXT_KEYS: Mapping[str, str] = {
    "include": "include",
    "exclude": "exclude",
    "architecture": "architecture",
    "memorySize": "memory_size",
    "reservedConcurrency": "reserved_concurrency",
    "maxConcurrency": "max_concurrency",
    "repositoryPrefixes": "repository_prefixes",
    "indexVersion": "index_version",
    "tagSuffix": "tag_suffix",
    "resultBus": "result_bus",
    "signingProfileArns": "signing_profile_arns",
    "permissionsBoundary": "permissions_boundary",
    "maxReceiveCount": "max_receive_count",
    "logRetentionDays": "log_retention_days",
    "logLevel": "log_level",
    "reconcileSchedule": "reconcile_schedule",
    "backfillOnDeploy": "backfill_on_deploy",
    "ztocCatalogue": "ztoc_catalogue",
    "ztocTablePitr": "ztoc_table_pitr",
    "excludeFromPullTimes": "exclude_from_pull_times",
}
_LISTS = {"include", "exclude", "repository_prefixes", "signing_profile_arns"}
_INTS = {"memory_size", "max_concurrency", "max_receive_count", "log_retention_days"}
_OPTIONAL_INTS = {"reserved_concurrency"}
_BOOLS = {"backfill_on_deploy", "ztoc_catalogue", "ztoc_table_pitr", "exclude_from_pull_times"}


def props_from_context(context: Mapping[str, Any]) -> BuilderProps:
    """Build props from context values (strings from ``-c k=v`` or JSON from cdk.json).

    Raises :class:`ContextError` naming the context key of the first unusable value.
    """
    known = {f.name for f in fields(BuilderProps)}
    values: dict[str, Any] = {}
    for key, name in CONTEXT_KEYS.items():
        raw = context.get(key)
        if raw is None or raw == "" or name not in known:
            continue
        try:
            values[name] = _convert(name, raw)
        except ValueError as exc:
            raise ContextError(f"context {key}={str(raw)[:100]!r}: {exc}") from None
    try:
        return BuilderProps(**values)
    except PropsError as exc:
        key = next((k for k, name in CONTEXT_KEYS.items() if name == exc.field), exc.field)
        raw = context.get(key)
        raise ContextError(f"context {key}={str(raw)[:100]!r}: {exc.problem}") from None


def _convert(name: str, raw: Any) -> Any:
    """One context value to the field's type; lists accept JSON arrays or comma lists."""
    if name in _LISTS:
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
        return tuple(str(item).strip() for item in raw if str(item).strip())
    if name in _OPTIONAL_INTS and isinstance(raw, str) and raw.lower() in ("none", "null"):
        return None
    if name in _INTS or name in _OPTIONAL_INTS:
        return int(raw)
    if name in _BOOLS:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return str(raw).lower() == "true"
    return str(raw)

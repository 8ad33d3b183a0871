"""Which tags need work: the cheap, listing-only half of reconciling (docs/fleet.md section 1).

A tag needs work when its output ``<tag><suffix>`` is missing, or was pushed before the source.
When the listing has no push times (a plain registry) an existing output is "unverified": the
builder's own up-to-date check decides, so a converged registry still builds nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InvalidReferenceError, SkipReason
from ..oci import mediatypes
from ..oci.mediatypes import SOCI_INDEX_V1
from ..oci.reference import validate_tag
from ..soci.convert import fallback_tag
from ..soci.settings import IndexVersion
from .model import ACTIVE, ImageRecord

#: cosign signatures/attestations/SBOMs (``sha256-<hex>.sig``) and referrers fallback tags.
DIGEST_TAG_RE = re.compile(r"sha256-(?P<hex>[0-9a-f]{64})(?:\.[A-Za-z0-9_.-]+)?")

#: Returns why ``(repository, tag)`` is not selected, or None when the filters select it.
Selector = Callable[[str, str], SkipReason | None]
Why = Literal["no-output", "output-older", "unverified"]


@dataclass(frozen=True)
class Work:
    """A tag to (re)index: its digest and why."""

    repository: str
    tag: str
    digest: str
    why: Why
    manifest_media_type: str | None = None
    artifact_media_type: str | None = None


@dataclass
class RepositoryPlan:
    """The listing-only verdict on one repository."""

    repository: str
    work: list[Work] = field(default_factory=list)
    #: selected tags whose output exists and is not older than the source
    enabled: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def selected(self) -> int:
        return len(self.work) + len(self.enabled)


def is_image(record: ImageRecord) -> bool:
    """False for signatures, SOCI indexes, Helm charts and other non-image artifacts."""
    media_type = record.manifest_media_type
    if media_type is not None and not mediatypes.is_manifest_or_index(media_type):
        return False
    artifact = record.artifact_media_type  # ECR: the config media type, or the artifactType
    return artifact is None or mediatypes.is_image_config(artifact)


def plan_repository(
    repository: str,
    records: Iterable[ImageRecord],
    select: Selector,
    suffix: str,
    index_version: IndexVersion = "v2",
) -> RepositoryPlan:
    """Classify every tag of ``repository``; each tag lands in exactly one bucket."""
    records = list(records)
    by_tag = {tag: record for record in records for tag in record.tags}
    outputs = _outputs(records, by_tag, suffix, index_version)
    plan = RepositoryPlan(repository)
    for record in records:
        for tag in record.tags:
            reason = _skip_reason(record, tag, select, suffix)
            if reason is not None:
                plan.skipped[reason.value] += 1
                continue
            output = outputs(tag, record)
            if output is None and any(t.endswith(suffix) for t in record.tags):
                # another name for one of our outputs (the indexer would skip it: already-soci)
                plan.skipped[SkipReason.ALREADY_SOCI.value] += 1
                continue
            why = _needs_work(record, output)
            if why == "no-output" and index_version == "v1" and _is_index(record):
                why = "unverified"  # v1 binds platform manifests the listing does not show
            if why is None:
                plan.enabled.append(tag)
            else:
                plan.work.append(
                    Work(
                        repository,
                        tag,
                        record.digest,
                        why,
                        record.manifest_media_type,
                        record.artifact_media_type,
                    )
                )
    return plan


def _skip_reason(record: ImageRecord, tag: str, select: Selector, suffix: str) -> SkipReason | None:
    """Cheapest checks first; the filters last (they are the operator's, worth a log line)."""
    if tag.endswith(suffix):
        return SkipReason.OWN_OUTPUT
    if record.status != ACTIVE:
        return SkipReason.ARCHIVED
    if DIGEST_TAG_RE.fullmatch(tag) or not is_image(record):
        return SkipReason.NOT_AN_IMAGE
    if not _valid_tag(tag):  # never sent on: the indexer would drop the event
        return SkipReason.INVALID_NAME
    return select(record.repository, tag)


def _outputs(
    records: list[ImageRecord], by_tag: dict[str, ImageRecord], suffix: str, version: IndexVersion
) -> Callable[[str, ImageRecord], ImageRecord | None]:
    """How a tag's output is found: ``<tag><suffix>`` (v2), or a v1 SOCI index whose subject
    is the image (ECR lists it) or its ``sha256-<hex>`` fallback tag (plain registries). A v1
    multi-platform image binds its platform manifests, which a listing does not show: its
    output is unknown and the builder decides."""
    if version == "v2":
        return lambda tag, _record: by_tag.get(tag + suffix)
    v1 = {r.subject: r for r in records if r.subject and r.artifact_media_type == SOCI_INDEX_V1}
    return lambda _tag, record: v1.get(record.digest) or by_tag.get(fallback_tag(record.digest))


def _is_index(record: ImageRecord) -> bool:
    return record.manifest_media_type is not None and mediatypes.is_index(
        record.manifest_media_type
    )


def _valid_tag(tag: str) -> bool:
    try:
        validate_tag(tag)
    except InvalidReferenceError:
        return False
    return True


def _needs_work(source: ImageRecord, output: ImageRecord | None) -> Why | None:
    if output is None:
        return "no-output"
    if output.pushed_at is None or source.pushed_at is None:
        return "unverified"
    return "output-older" if output.pushed_at < source.pushed_at else None

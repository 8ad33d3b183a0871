"""Which manifests are orphaned outputs, and which of them have been idle long enough to go.

docs/fleet.md section 3. An orphan is a manifest the builder made that no longer serves an
existing source tag: an output index whose source tag moved (untagged now) or was deleted (only
its ``<x><suffix>`` tag is left), the SOCI index manifests and rewritten image manifests only
such indexes reference, and v1 referrers (with their ``sha256-<hex>`` fallback tag) of a
deleted subject. "Made by the builder" is proven from content, never assumed from a name: an
image index counts only when it lists SOCI index descriptors and every one of those index
manifests carries our build-tool annotation.

Safety rules, each checked here: anything reachable from a remaining tag is kept (the live
indexes are read to know what they reference); anything unreadable or not provably ours is
kept; a group (index + its SOCI indexes + rewritten manifests) goes only when all of it has
been idle for the grace period, measured from the last recorded pull, else from the push.
Listings without times (plain registries) prune only with a zero grace period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from ..errors import ManifestError, SociError
from ..oci import mediatypes
from ..oci.model import ImageIndex
from ..soci.constants import ANNOTATION_IMAGE_MANIFEST_DIGEST, ANNOTATION_INDEX_DIGEST
from ..soci.convert import is_soci_descriptor
from ..soci.index import SociIndex, parse_soci_index
from ..store.base import Repository
from .model import ACTIVE, ImageRecord
from .select import DIGEST_TAG_RE

Kind = Literal["output-index", "referrers-index", "soci-index", "image-manifest"]
#: Nested indexes are followed this deep when collecting what live tags reference.
MAX_DEPTH = 4


@dataclass(frozen=True)
class Orphan:
    """One manifest to delete; ``root`` is the digest of the group it belongs to."""

    repository: str
    digest: str
    kind: Kind
    root: str
    tags: tuple[str, ...] = ()
    idle_since: datetime | None = None


@dataclass
class PrunePlan:
    """What pruning one repository would delete (roots first) and why the rest stays."""

    repository: str
    delete: list[Orphan] = field(default_factory=list)
    kept: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PrunePolicy:
    """The operator's choice: our build-tool identifier, the tag suffix, the grace period."""

    suffix: str
    build_tool: str
    prune_after: timedelta
    now: datetime
    #: Read every live index to know what it references (plain registries). Where a read
    #: counts as a pull (ECR), only live outputs (``<x><suffix>``) are read, so users' images
    #: keep their pull times; ECR itself refuses to delete a manifest an index lists.
    read_every_live_index: bool = True


def dangling_output(tag: str, tags: set[str], suffix: str) -> bool:
    """``<x><suffix>`` whose source tag ``<x>`` no longer exists."""
    return tag.endswith(suffix) and len(tag) > len(suffix) and tag[: -len(suffix)] not in tags


def idle_since(records: Iterable[ImageRecord | None]) -> datetime | None:
    """The latest pull (else push) of a group; None when the listing has no times."""
    times = [
        r.last_pulled or r.pushed_at
        for r in records
        if r is not None and (r.last_pulled or r.pushed_at)
    ]
    return max(times) if times else None  # type: ignore[type-var]


def plan_prune(repo: Repository, records: list[ImageRecord], policy: PrunePolicy) -> PrunePlan:
    """Decide, reading manifests through ``repo``; nothing is deleted here."""
    plan = PrunePlan(records[0].repository if records else repo.name)
    tags = {tag for record in records for tag in record.tags}
    live, candidates = [], []
    try:
        for record in records:
            if any(_is_live(repo, tag, tags, policy.suffix) for tag in record.tags):
                live.append(record)
            elif record.status == ACTIVE and _may_be_ours(record):
                candidates.append(record)
    except SociError as exc:  # a fallback tag's subject could not be checked
        plan.notes.append(f"{plan.repository}: {exc}; nothing pruned")
        return plan
    recent = [c for c in candidates if not _old_enough(c, policy)]
    if recent:
        plan.kept["recently-used"] += len(recent)
    candidates = [c for c in candidates if c not in recent]
    if not candidates:
        return plan
    try:  # what a recently used orphan references stays with it
        readable = live if policy.read_every_live_index else [r for r in live if _output(r, policy)]
        keep = {r.digest for r in live} | _referenced(repo, readable + recent)
    except SociError as exc:
        plan.notes.append(f"{plan.repository}: cannot read a live index ({exc}); nothing pruned")
        plan.kept["unreadable"] += len(candidates)
        return plan
    # Indexes first: a SOCI index manifest any index still lists is judged with that index.
    candidates.sort(key=lambda c: not _indexlike(c))
    doomed = _judge(repo, candidates, {r.digest: r for r in records}, policy, keep, plan)
    seen: set[str] = set()
    for group in doomed:  # a member another (kept) group still uses stays
        for orphan in group:
            if orphan.digest not in keep and orphan.digest not in seen:
                seen.add(orphan.digest)
                plan.delete.append(orphan)
    return plan


def _judge(
    repo: Repository,
    candidates: list[ImageRecord],
    by_digest: dict[str, ImageRecord],
    policy: PrunePolicy,
    keep: set[str],
    plan: PrunePlan,
) -> list[list[Orphan]]:
    """The groups that may go; kept groups add their members to ``keep``."""
    doubt = False
    doomed: list[list[Orphan]] = []
    for candidate in candidates:
        if candidate.digest in keep or (doubt and not _indexlike(candidate)):
            plan.kept["referenced" if candidate.digest in keep else "unreadable"] += 1
            continue
        try:
            group = _group(repo, candidate, policy, keep)
        except SociError as exc:
            plan.notes.append(f"{plan.repository}@{candidate.digest}: unreadable ({exc}); kept")
            plan.kept["unreadable"] += 1
            doubt = True  # its children are unknown: no stand-alone SOCI index goes either
            continue
        if isinstance(group, str):
            plan.kept[group] += 1
            continue
        since = idle_since(by_digest.get(o.digest) for o in group)
        if policy.prune_after and not _idle(since, policy):
            plan.kept["recently-used" if since else "no-times"] += 1
            keep.update(o.digest for o in group)
            continue
        doomed.append([_with_time(o, since) for o in group])
    return doomed


def _with_time(orphan: Orphan, since: datetime | None) -> Orphan:
    return Orphan(orphan.repository, orphan.digest, orphan.kind, orphan.root, orphan.tags, since)


def _idle(since: datetime | None, policy: PrunePolicy) -> bool:
    return since is not None and policy.now - since >= policy.prune_after


def _old_enough(record: ImageRecord, policy: PrunePolicy) -> bool:
    """Cheap pre-check from the listing alone, so recently used roots are never even read."""
    since = idle_since([record])
    return not policy.prune_after or since is None or _idle(since, policy)


def _is_live(repo: Repository, tag: str, tags: set[str], suffix: str) -> bool:
    """A tag keeps its manifest unless it is a dangling output or a dead fallback tag."""
    if dangling_output(tag, tags, suffix):
        return False
    match = DIGEST_TAG_RE.fullmatch(tag)
    if match and tag == f"sha256-{match['hex']}":  # referrers fallback tag, not cosign's .sig
        return repo.resolve(f"sha256:{match['hex']}") is not None
    return True


def _may_be_ours(record: ImageRecord) -> bool:
    """Only indexes and SOCI index manifests can be roots (checked again from content)."""
    media_type = record.manifest_media_type
    return (
        media_type is None
        or mediatypes.is_index(media_type)
        or record.artifact_media_type in (mediatypes.SOCI_INDEX_V1, mediatypes.SOCI_INDEX_V2)
    )


def _output(record: ImageRecord, policy: PrunePolicy) -> bool:
    return any(tag.endswith(policy.suffix) for tag in record.tags)


def _indexlike(record: ImageRecord) -> bool:
    return record.manifest_media_type is None or mediatypes.is_index(record.manifest_media_type)


def _referenced(repo: Repository, live: list[ImageRecord]) -> set[str]:
    """Every digest a live tag reaches: the tagged manifests and their index children."""
    keep = {record.digest for record in live}
    pending = [(record.digest, 0) for record in live if _indexlike(record)]
    while pending:
        digest, depth = pending.pop()
        raw = repo.fetch_manifest(digest)
        if not mediatypes.is_index(raw.media_type):
            continue
        if depth >= MAX_DEPTH:
            raise ManifestError(f"index {digest} nests deeper than {MAX_DEPTH}")
        for child in ImageIndex.from_json(raw.raw).manifests:
            if child.digest not in keep:
                keep.add(child.digest)
                if mediatypes.is_index(child.media_type):
                    pending.append((child.digest, depth + 1))
    return keep


def _group(
    repo: Repository, root: ImageRecord, policy: PrunePolicy, keep: set[str]
) -> list[Orphan] | str:
    """The orphan group rooted at ``root``, or why it is kept (``not-ours``, ``live-subject``)."""
    raw = repo.fetch_manifest(root.digest)
    name = root.repository
    if mediatypes.is_index(raw.media_type):
        index = ImageIndex.from_json(raw.raw)
        if any(DIGEST_TAG_RE.fullmatch(tag) for tag in root.tags):
            return _referrers_group(repo, root, index, policy, keep)
        socis = [d for d in index.manifests if is_soci_descriptor(d)]
        if not socis or not all(_ours(repo, d.digest, policy) for d in socis):
            keep.update(d.digest for d in index.manifests)
            return "not-ours"
        bound = {d.digest for d in socis}
        rewritten = [
            d.digest
            for d in index.manifests
            if (d.annotations or {}).get(ANNOTATION_INDEX_DIGEST) in bound and d.digest not in keep
        ]
        children = [Orphan(name, d, "image-manifest", root.digest) for d in rewritten]
        children += [
            Orphan(name, d.digest, "soci-index", root.digest)
            for d in socis
            if d.digest not in keep
            and (d.annotations or {}).get(ANNOTATION_IMAGE_MANIFEST_DIGEST) not in keep
        ]
        return [Orphan(name, root.digest, "output-index", root.digest, root.tags), *children]
    soci = _soci_index(raw.raw)
    if soci is None or soci.build_tool_identifier != policy.build_tool:
        return "not-ours"
    if soci.subject is not None and repo.resolve(soci.subject.digest) is not None:
        return "live-subject"
    return [Orphan(name, root.digest, "soci-index", root.digest, root.tags)]


def _referrers_group(
    repo: Repository, root: ImageRecord, index: ImageIndex, policy: PrunePolicy, keep: set[str]
) -> list[Orphan] | str:
    """A fallback tag index of a deleted subject: ours only if it lists only our v1 indexes."""
    listed = [d.digest for d in index.manifests]
    if not listed or not all(_ours(repo, digest, policy) for digest in listed):
        keep.update(listed)
        return "not-ours"
    name = root.repository
    children = [Orphan(name, d, "soci-index", root.digest) for d in listed if d not in keep]
    return [Orphan(name, root.digest, "referrers-index", root.digest, root.tags), *children]


def _ours(repo: Repository, digest: str, policy: PrunePolicy) -> bool:
    soci = _soci_index(repo.fetch_manifest(digest).raw)
    return soci is not None and soci.build_tool_identifier == policy.build_tool


def _soci_index(raw: bytes) -> SociIndex | None:
    try:
        return parse_soci_index(raw)
    except ManifestError:
        return None

"""Index a whole image: resolve, plan, build zTOCs in parallel, push in order, tag last.

Push order (architecture.md 4.1): zTOC blobs, the ``{}`` config, SOCI index manifests, rewritten
image manifests, the image index, then the tag. Every step before the tag only adds content
addressed by digest, so an interrupted run leaves no tag pointing at a partial result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ..errors import ConfigError, DeadlineExceededError, SkipReason
from ..oci import mediatypes
from ..oci.model import Descriptor
from ..oci.reference import validate_tag
from ..store.base import Repository
from .catalogue import Catalogue, ChainedCatalogue
from .catalogue.previous import previous_output
from .catalogue.reuse import Reuser
from .constants import EMPTY_CONFIG, EMPTY_CONFIG_DIGEST
from .convert import (
    is_soci_enabled,
    manifest_descriptor,
    rewrite_index,
    rewrite_manifest,
    soci_index_descriptor,
)
from .index import SociIndex, ZtocDescriptor, index_version
from .layers import BuiltLayer, build_layers, skipped_result
from .model import (
    BuildResult,
    BuildStatus,
    IndexSettings,
    LayerResult,
    ProgressListener,
)
from .plan import LayerAction, LayerPlan, plan_layers
from .referrers import find_published, publish_referrers
from .source import PlatformImage, SourceImage, load_source
from .tags import move_source_tag, put_tag
from .uptodate import find_up_to_date


@dataclass(frozen=True)
class _Context:
    repo: Repository
    reference: str
    settings: IndexSettings
    output_tag: str | None
    source_tag: str | None
    deadline: float | None
    started: float
    catalogue: Catalogue | None
    reuse: bool


def build_image_index(
    repository: Repository,
    reference: str,
    settings: IndexSettings,
    *,
    source_tag: str | None = None,
    deadline: float | None = None,
    progress: ProgressListener | None = None,
    catalogue: Catalogue | None = None,
    reuse: bool = True,
) -> BuildResult:
    """Build SOCI indexes for every (or each allowed) platform of ``reference`` and push them.

    Parameters
    ----------
    reference: a tag or ``sha256:`` digest in ``repository``.
    source_tag: names the v2 output tag ``<source_tag><suffix>``; defaults to ``reference``
        when it is a tag.
    deadline: a ``time.monotonic()`` value; past it, DeadlineExceededError is raised before
        anything is tagged.
    catalogue: where zTOCs built before are found and new ones recorded (docs/reuse.md); the
        previous output in ``repository`` is always consulted too, unless ``reuse`` is False.

    Raises
    ------
    SociError subclasses: NotFoundError, ManifestError, LayerFormatError, DigestMismatchError,
    ConfigError, DeadlineExceededError, RegistryError.
    """
    ctx = _context(repository, reference, settings, source_tag, deadline, catalogue, reuse)
    source = load_source(repository, reference, settings.platforms)
    if source.not_an_image:
        return _result(ctx, source, "skipped", reason=SkipReason.NOT_AN_IMAGE)
    if source.has_soci_descriptors or is_soci_enabled(None, [i.manifest for i in source.images]):
        return _result(ctx, source, "skipped", reason=SkipReason.ALREADY_SOCI)
    if ctx.source_tag and settings.tag_suffix and ctx.source_tag.endswith(settings.tag_suffix):
        return _result(ctx, source, "skipped", reason=SkipReason.OWN_OUTPUT)  # no -soci-soci
    plans = plan_layers(((img.platform, img.manifest.layers) for img in source.selected), settings)
    if settings.dry_run:
        return _result(ctx, source, "dry-run", layers=_planned_results(plans))
    existing = (
        find_up_to_date(repository, ctx.output_tag, source, plans, settings)
        if ctx.output_tag is not None
        else find_published(repository, source, plans, settings)
    )
    if existing is not None:
        layers = _reused_results(plans, existing.ztocs)
        # An interrupted replace_tag run pushed the output but not the source tag: finish it.
        moved = (
            bool(existing.digest)
            and settings.replace_tag
            and _finish_replace(ctx, source, existing.digest)
        )
        return _result(
            ctx,
            source,
            "built" if moved else "up-to-date",
            output=existing.digest or None,
            indexes=existing.indexes,
            layers=layers,
        )
    return _build_and_push(ctx, source, plans, progress)


def _build_and_push(
    ctx: _Context, source: SourceImage, plans: list[LayerPlan], progress: ProgressListener | None
) -> BuildResult:
    """zTOCs (pushed as built), the {} config, SOCI indexes, then the v1/v2 binding."""
    repo = ctx.repo
    needed = ctx.reuse and any(p.action is not LayerAction.SKIP for p in plans)
    reuser = _reuser(ctx, source) if needed else None
    built = build_layers(
        repo, plans, ctx.settings, deadline=ctx.deadline, progress=progress, reuser=reuser
    )
    layers = tuple(
        built[p.digest].result() if p.digest in built else skipped_result(p) for p in plans
    )
    indexes = _soci_indexes(ctx, source, built)
    if not indexes:
        return _nothing_to_index(ctx, source, layers)
    uploaded = sum(layer.uploads for layer in built.values())
    uploaded += repo.push_blob(EMPTY_CONFIG_DIGEST, EMPTY_CONFIG)
    pushed = {img.descriptor.digest: _push_index(repo, idx) for img, idx in indexes}
    output = None
    if ctx.settings.index_version == "v1":
        _check_deadline(ctx, "publishing referrers")
        publish_referrers(repo, pushed)
    else:
        output = _push_v2(ctx, source, pushed, built)
    return _result(
        ctx,
        source,
        "built",
        output=output,
        layers=layers,
        uploaded=uploaded,
        indexes={_platform_of(source, d): desc.digest for d, desc in pushed.items()},
        processed=sum(b.plan.size for b in built.values() if b.reused_from is None),
    )


def _reuser(ctx: _Context, source: SourceImage) -> Reuser:
    """The previous output in this repository first (no mount needed), then the catalogue."""
    subjects = [img.descriptor.digest for img in source.selected]
    previous = previous_output(ctx.repo, ctx.output_tag, subjects)
    if ctx.catalogue is None:
        return Reuser(ctx.repo, previous)
    return Reuser(ctx.repo, ChainedCatalogue(previous, ctx.catalogue))


def _context(
    repo: Repository,
    reference: str,
    settings: IndexSettings,
    source_tag: str | None,
    deadline: float | None,
    catalogue: Catalogue | None,
    reuse: bool,
) -> _Context:
    is_digest = _is_digest(reference)
    tag = source_tag if source_tag is not None else (None if is_digest else reference)
    output_tag = None
    if settings.index_version == "v2":
        if tag is None:
            raise ConfigError(
                f"{reference}: a digest reference needs a source tag to name the output"
            )
        output_tag = validate_tag(tag + settings.tag_suffix)
        if output_tag == tag:
            raise ConfigError("an empty tag suffix would move the source tag; use replace_tag")
    elif settings.recompress_zstd:
        raise ConfigError("recompressing zstd layers rewrites the image: it needs index version v2")
    return _Context(
        repo, reference, settings, output_tag, tag, deadline, time.monotonic(), catalogue, reuse
    )


def _soci_indexes(
    ctx: _Context, source: SourceImage, built: dict[str, BuiltLayer]
) -> list[tuple[PlatformImage, SociIndex]]:
    """One SOCI index per selected platform with at least one zTOC, layers in image order."""
    version = index_version(ctx.settings.index_version)
    out = []
    for img in source.selected:
        ztocs = tuple(
            ZtocDescriptor(
                b.ztoc_digest,
                b.ztoc_size,
                b.indexed_digest,
                b.indexed_media_type,
                ctx.settings.span_size,
            )
            for b in (built.get(layer.digest) for layer in img.manifest.layers)
            if b is not None
        )
        if ztocs:
            subject = _subject(img) if version.binds_subject else None
            out.append(
                (img, SociIndex(version, ztocs, ctx.settings.build_tool_identifier, subject))
            )
    return out


def _subject(img: PlatformImage) -> Descriptor:
    media_type = img.manifest.media_type or img.descriptor.media_type
    return Descriptor(media_type, img.descriptor.digest, img.descriptor.size)


def _push_index(repo: Repository, index: SociIndex) -> Descriptor:
    manifest = index.to_manifest()
    raw = manifest.to_json()  # what encode_soci_index gives, without building it twice
    digest = repo.push_manifest(raw, mediatypes.OCI_IMAGE_MANIFEST)
    return Descriptor(
        mediatypes.OCI_IMAGE_MANIFEST, digest, len(raw), annotations=manifest.annotations
    )


def _push_v2(
    ctx: _Context, source: SourceImage, pushed: dict[str, Descriptor], built: dict[str, BuiltLayer]
) -> str:
    """Section 5.5 steps 3-5: rewritten manifests, the image index, the tag last."""
    swaps = {d: b.replacement for d, b in built.items() if b.replacement is not None}
    rewritten: dict[str, Descriptor] = {}
    soci: list[Descriptor] = []
    for img in source.images:
        index_desc = pushed.get(img.descriptor.digest)
        manifest = rewrite_manifest(img.manifest, index_desc.digest if index_desc else None, swaps)
        raw = manifest.to_json()
        ctx.repo.push_manifest(raw, mediatypes.OCI_IMAGE_MANIFEST)
        rewritten[img.descriptor.digest] = manifest_descriptor(img.descriptor, manifest, raw)
        if index_desc is not None:
            new_digest = rewritten[img.descriptor.digest].digest
            soci.append(
                soci_index_descriptor(
                    index_desc.digest, index_desc.size, new_digest, img.descriptor.platform
                )
            )
    raw_index = rewrite_index(source.index, rewritten, soci).to_json()
    return _tag(ctx, source, raw_index, mediatypes.OCI_IMAGE_INDEX)


def _tag(ctx: _Context, source: SourceImage, raw: bytes, media_type: str) -> str:
    """The last step: point the output tag (and, if asked, the source tag) at ``raw``."""
    _check_deadline(ctx, "tagging")
    assert ctx.output_tag is not None
    digest = put_tag(ctx.repo, raw, media_type, ctx.output_tag, ctx.settings.tag_suffix)
    if ctx.settings.replace_tag and ctx.source_tag is not None:
        move_source_tag(
            ctx.repo, raw, media_type, ctx.source_tag, source.raw.digest, ctx.settings.tag_suffix
        )
    return digest


def _finish_replace(ctx: _Context, source: SourceImage, output: str) -> bool:
    """Move the source tag to an up-to-date output it does not name yet; True if moved."""
    if ctx.source_tag is None:
        return False
    current = ctx.repo.resolve(ctx.source_tag)
    if current is None or current.digest != source.raw.digest:
        return False  # already moved, or pushed again since: nothing to finish
    _check_deadline(ctx, "tagging")
    raw = ctx.repo.fetch_manifest(output)
    return move_source_tag(
        ctx.repo,
        raw.raw,
        raw.media_type,
        ctx.source_tag,
        source.raw.digest,
        ctx.settings.tag_suffix,
    )


def _check_deadline(ctx: _Context, step: str) -> None:
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        raise DeadlineExceededError(f"deadline passed before {step}; nothing was tagged")


def _nothing_to_index(
    ctx: _Context, source: SourceImage, layers: tuple[LayerResult, ...]
) -> BuildResult:
    """No layer qualifies: v2 tags the original image so ``<tag>-soci`` deployments work."""
    output = None
    if ctx.output_tag is not None:
        current = ctx.repo.resolve(ctx.output_tag)
        if current is not None and current.digest == source.raw.digest:
            output = current.digest  # already there: a re-run writes nothing
        else:
            output = _tag(ctx, source, source.raw.raw, source.raw.media_type)
    return _result(
        ctx, source, "skipped", reason=SkipReason.NOTHING_TO_INDEX, output=output, layers=layers
    )


def _planned_results(plans: list[LayerPlan]) -> tuple[LayerResult, ...]:
    """A dry run's layers: skips as planned, the rest as they would be (``indexed``)."""
    return tuple(
        skipped_result(p) if p.reason else replace(skipped_result(p), status="indexed")
        for p in plans
    )


def _reused_results(
    plans: list[LayerPlan], ztocs: dict[str, ZtocDescriptor]
) -> tuple[LayerResult, ...]:
    """An up-to-date run reports the zTOCs it found instead of building them."""
    results = []
    for plan in plans:
        result = skipped_result(plan)
        ztoc = ztocs.get(plan.digest)
        if ztoc is not None:
            recompressed = ztoc.layer_digest if ztoc.layer_digest != plan.digest else None
            result = replace(
                result,
                status="reused",
                ztoc_digest=ztoc.digest,
                ztoc_size=ztoc.size,
                recompressed_digest=recompressed,
            )
        results.append(result)
    return tuple(results)


def _platform_of(source: SourceImage, digest: str) -> str:
    return next(img.platform for img in source.images if img.descriptor.digest == digest)


def _result(
    ctx: _Context,
    source: SourceImage,
    status: BuildStatus,
    *,
    reason: SkipReason | None = None,
    output: str | None = None,
    indexes: dict[str, str] | None = None,
    layers: tuple[LayerResult, ...] = (),
    uploaded: int = 0,
    processed: int = 0,
) -> BuildResult:
    return BuildResult(
        source=f"{ctx.repo.name}{'@' if _is_digest(ctx.reference) else ':'}{ctx.reference}",
        source_digest=source.raw.digest,
        status=status,
        reason=reason,
        output_tag=ctx.output_tag if output is not None else None,
        output_digest=output,
        index_digests=indexes or {},
        layers=layers,
        bytes_processed=processed,
        seconds=time.monotonic() - ctx.started,
        uploaded_blobs=uploaded,
    )


def _is_digest(reference: str) -> bool:
    return reference.startswith("sha256:")

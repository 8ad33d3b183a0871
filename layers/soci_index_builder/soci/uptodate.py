"""Idempotency: does the output tag already hold a valid SOCI-enabled copy of this image?

A re-run must upload nothing and report the same digests (architecture.md 4.2). The output index
is accepted only if it lists the same image manifests (same config and layers, rewritten as
section 5.5 step 3 says) and each selected platform's SOCI index was built with the same
settings over exactly the layers the current plan would index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ManifestError, NotFoundError
from ..oci import mediatypes
from ..oci.model import ImageIndex, Manifest
from ..store.base import Repository
from .constants import ANNOTATION_INDEX_DIGEST
from .convert import is_attestation, is_soci_descriptor
from .index import SociIndex, ZtocDescriptor, encode_soci_index, parse_soci_index
from .model import IndexSettings
from .plan import LayerAction, LayerPlan
from .source import SourceImage


@dataclass(frozen=True)
class ExistingOutput:
    """The output tag's index digest and its SOCI indexes by platform."""

    digest: str
    indexes: dict[str, str]
    #: source layer digest -> its zTOC descriptor in the existing indexes
    ztocs: dict[str, ZtocDescriptor]


def find_up_to_date(
    repo: Repository,
    output_tag: str,
    source: SourceImage,
    plans: list[LayerPlan],
    settings: IndexSettings,
) -> ExistingOutput | None:
    """The existing output if it matches ``source`` and ``settings``; None means rebuild."""
    info = repo.resolve(output_tag)
    if info is None or not mediatypes.is_index(info.media_type):
        return None
    try:
        raw = repo.fetch_manifest(info.digest)
        index = ImageIndex.from_json(raw.raw)
        found = ExistingOutput(raw.digest, {}, {})
        if not _match_images(repo, index, source, {p.digest: p for p in plans}, settings, found):
            return None
    except (ManifestError, NotFoundError):
        return None  # NotFound: lifecycle rules deleted its untagged SOCI manifests; rebuild
    return found if found.indexes else None


def _match_images(
    repo: Repository,
    index: ImageIndex,
    source: SourceImage,
    plans: Mapping[str, LayerPlan],
    settings: IndexSettings,
    found: ExistingOutput,
) -> bool:
    """Fill ``found`` from ``index``; False at the first mismatch with ``source``."""
    # Entries the source kept aside (attestations, artifacts) are copied to the output as is.
    kept = {d.digest for d in source.index.manifests} - {i.descriptor.digest for i in source.images}
    entries = [
        d
        for d in index.manifests
        if not (is_attestation(d) or is_soci_descriptor(d) or d.digest in kept)
    ]
    if len(entries) != len(source.images):
        return False
    selected = {img.descriptor.digest for img in source.selected}
    for img, desc in zip(source.images, entries, strict=True):
        out = Manifest.from_json(repo.fetch_manifest(desc.digest).raw)
        if not _same_image(img.manifest, out, plans):
            return False
        index_digest = (out.annotations or {}).get(ANNOTATION_INDEX_DIGEST)
        expected = (
            _expected_layers(img.manifest, out, plans) if img.descriptor.digest in selected else []
        )
        if not expected:
            if index_digest is not None:
                return False
            continue
        soci = matching_index(repo, index_digest, [new for _, new in expected], settings)
        if soci is None:
            return False
        found.indexes[img.platform] = str(index_digest)
        found.ztocs.update((old, ztoc) for (old, _), ztoc in zip(expected, soci.ztocs, strict=True))
    return True


def _same_image(src: Manifest, out: Manifest, plans: Mapping[str, LayerPlan]) -> bool:
    """``out`` is ``src`` rewritten: same config and layers (recompressed ones now gzip)."""
    annotations = dict(out.annotations or {})
    annotations.pop(ANNOTATION_INDEX_DIGEST, None)
    if out.config.digest != src.config.digest or annotations != dict(src.annotations or {}):
        return False
    if len(out.layers) != len(src.layers):
        return False
    for old, new in zip(src.layers, out.layers, strict=True):
        plan = plans.get(old.digest)
        if plan is not None and plan.action is LayerAction.RECOMPRESS:
            if mediatypes.layer_compression(new.media_type) != "gzip":
                return False
        elif new.digest != old.digest:
            return False
    return True


def _expected_layers(
    src: Manifest, out: Manifest, plans: Mapping[str, LayerPlan]
) -> list[tuple[str, str]]:
    """(source, output) digests of the layers the current plan indexes, in layer order."""
    return [
        (old.digest, new.digest)
        for old, new in zip(src.layers, out.layers, strict=True)
        if (plan := plans.get(old.digest)) is not None and plan.action is not LayerAction.SKIP
    ]


def matching_index(
    repo: Repository, digest: str | None, expected: list[str], settings: IndexSettings
) -> SociIndex | None:
    """The SOCI index at ``digest`` if built with ``settings`` over exactly ``expected``."""
    if digest is None:
        return None
    raw = repo.fetch_manifest(digest).raw
    index = parse_soci_index(raw)
    ok = (
        encode_soci_index(index) == raw
        and index.version.name == settings.index_version
        and index.build_tool_identifier == settings.build_tool_identifier
        and all(z.span_size == settings.span_size for z in index.ztocs)
        and [z.layer_digest for z in index.ztocs] == expected
        and all(repo.has_blob(z.digest) for z in index.ztocs)
    )
    return index if ok else None

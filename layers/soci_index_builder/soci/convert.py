"""Binding SOCI indexes to images: v2 rewrites (section 5.5 steps 1, 3, 4), v1 subjects (5.6).

Pure transformations of :mod:`oci.model` values; the builder does the I/O. Re-encoding goes
through the models' Go-ordered ``to_json`` so the output equals ``soci convert``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..digest import sha256_digest
from ..oci import mediatypes
from ..oci.model import Descriptor, ImageIndex, Manifest, Platform
from .constants import (
    ANNOTATION_DOCKER_REFERENCE_DIGEST,
    ANNOTATION_DOCKER_REFERENCE_TYPE,
    ANNOTATION_IMAGE_MANIFEST_DIGEST,
    ANNOTATION_INDEX_DIGEST,
    DOCKER_ATTESTATION_TYPE,
    SOCI_INDEX_ARTIFACT_TYPES,
    SOCI_INDEX_V2_ARTIFACT_TYPE,
)

_UNKNOWN = "unknown"


def is_attestation(desc: Descriptor) -> bool:
    """A buildx attestation manifest: never indexed, kept in the output index."""
    annotations = desc.annotations or {}
    if annotations.get(ANNOTATION_DOCKER_REFERENCE_TYPE) == DOCKER_ATTESTATION_TYPE:
        return True
    platform = desc.platform
    return platform is not None and platform.os == _UNKNOWN and platform.architecture == _UNKNOWN


def is_soci_descriptor(desc: Descriptor) -> bool:
    """A SOCI index listed in an image index (v2 appends them; some tools list v1 ones)."""
    return desc.artifact_type in SOCI_INDEX_ARTIFACT_TYPES or bool(
        desc.annotations and ANNOTATION_IMAGE_MANIFEST_DIGEST in desc.annotations
    )


def is_soci_enabled(index: ImageIndex | None, manifests: Sequence[Manifest]) -> bool:
    """True if the image already carries SOCI indexes: converting it again would nest them."""
    if index is not None and any(is_soci_descriptor(d) for d in index.manifests):
        return True
    return any(ANNOTATION_INDEX_DIGEST in (m.annotations or {}) for m in manifests)


def single_manifest_index(desc: Descriptor, platform: Platform) -> ImageIndex:
    """Step 1 for a single-manifest image: a one-entry index with the config's platform."""
    return ImageIndex(manifests=(replace(desc, platform=platform),))


def rewrite_manifest(
    manifest: Manifest,
    index_digest: str | None,
    layer_replacements: Mapping[str, Descriptor] | None = None,
) -> Manifest:
    """Step 3: OCI media types, the index-digest annotation, recompressed layers swapped in."""
    annotations = dict(manifest.annotations or {})
    if index_digest is not None:
        annotations[ANNOTATION_INDEX_DIGEST] = index_digest
    swaps = layer_replacements or {}
    return replace(
        manifest,
        media_type=mediatypes.OCI_IMAGE_MANIFEST,
        config=replace(manifest.config, media_type=mediatypes.OCI_IMAGE_CONFIG),
        layers=tuple(swaps.get(layer.digest, layer) for layer in manifest.layers),
        annotations=annotations or None,
    )


def manifest_descriptor(old: Descriptor, manifest: Manifest, raw: bytes) -> Descriptor:
    """Step 3: the index entry of a rewritten manifest; its annotations mirror the manifest's."""
    return replace(
        old,
        media_type=mediatypes.OCI_IMAGE_MANIFEST,
        digest=sha256_digest(raw),
        size=len(raw),
        annotations=dict(manifest.annotations) if manifest.annotations else None,
    )


def soci_index_descriptor(
    digest: str, size: int, image_manifest_digest: str, platform: Platform | None
) -> Descriptor:
    """Step 4: the descriptor appended to the image index for one SOCI index."""
    return Descriptor(
        mediatypes.OCI_IMAGE_MANIFEST,
        digest,
        size,
        annotations={ANNOTATION_IMAGE_MANIFEST_DIGEST: image_manifest_digest},
        platform=platform,
        artifact_type=SOCI_INDEX_V2_ARTIFACT_TYPE,
    )


def rewrite_index(
    index: ImageIndex, rewritten: Mapping[str, Descriptor], soci_descriptors: Sequence[Descriptor]
) -> ImageIndex:
    """Steps 1 and 4: swap rewritten manifests in, re-point attestations, append SOCI indexes.

    ``rewritten`` maps an original manifest digest to its new descriptor. Attestations keep
    their bytes; only their ``vnd.docker.reference.digest`` follows the manifest they describe.
    """
    replaced_platforms = {str(d.platform) for d in soci_descriptors}
    manifests: list[Descriptor] = []
    for desc in index.manifests:
        if desc.digest in rewritten:
            manifests.append(rewritten[desc.digest])
        elif (
            desc.artifact_type == SOCI_INDEX_V2_ARTIFACT_TYPE
            and str(desc.platform) in replaced_platforms
        ):
            continue
        else:
            manifests.append(_repoint_attestation(desc, rewritten))
    return replace(
        index,
        media_type=mediatypes.OCI_IMAGE_INDEX,
        manifests=(*manifests, *soci_descriptors),
    )


def _repoint_attestation(desc: Descriptor, rewritten: Mapping[str, Descriptor]) -> Descriptor:
    annotations = desc.annotations or {}
    target = rewritten.get(annotations.get(ANNOTATION_DOCKER_REFERENCE_DIGEST, ""))
    if target is None:
        return desc
    return replace(
        desc, annotations={**annotations, ANNOTATION_DOCKER_REFERENCE_DIGEST: target.digest}
    )


def referrer_descriptor(
    digest: str, size: int, artifact_type: str, annotations: Mapping[str, str]
) -> Descriptor:
    """v1: how a SOCI index is listed by the referrers API and its fallback tag index."""
    return Descriptor(
        mediatypes.OCI_IMAGE_MANIFEST,
        digest,
        size,
        annotations=dict(annotations) or None,
        artifact_type=artifact_type,
    )


def add_referrer(fallback: ImageIndex | None, referrer: Descriptor) -> ImageIndex:
    """v1: the referrers tag-schema index (``sha256-<hex>``) with ``referrer`` listed once."""
    existing = fallback.manifests if fallback is not None else ()
    kept = tuple(d for d in existing if d.digest != referrer.digest)
    return ImageIndex(manifests=(*kept, referrer))


def fallback_tag(digest: str) -> str:
    """The referrers tag schema: ``sha256:<hex>`` -> ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)

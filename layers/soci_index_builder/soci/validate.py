"""Structural check of a SOCI-enabled image (soci-format.md section 5.5), collecting every fault.

``validate_soci_image`` returns a list of violations (empty when valid), like ggcr's
``validate.Image``: tests assert on it and ``index --verify`` prints it. It reads manifests
and checks blob presence; it does not re-derive zTOCs (that is ``ztoc verify``'s job).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import SociError
from ..oci import mediatypes
from ..oci.model import Descriptor, ImageIndex, Manifest
from ..store.base import Repository
from .constants import (
    ANNOTATION_BUILD_TOOL,
    ANNOTATION_DOCKER_REFERENCE_DIGEST,
    ANNOTATION_IMAGE_MANIFEST_DIGEST,
    ANNOTATION_INDEX_DIGEST,
    EMPTY_CONFIG_DIGEST,
    SOCI_INDEX_V1_ARTIFACT_TYPE,
    SOCI_INDEX_V2_ARTIFACT_TYPE,
)
from .convert import is_attestation, is_soci_descriptor
from .index import encode_soci_index, parse_soci_index
from .referrers import referrer_digests


def validate_soci_image(repo: Repository, reference: str) -> list[str]:
    """Every violation of section 5.5 found in the image index at ``reference``."""
    try:
        raw = repo.fetch_manifest(reference)
        if raw.media_type != mediatypes.OCI_IMAGE_INDEX:
            return [f"{reference}: media type {raw.media_type}, want an OCI image index"]
        index = ImageIndex.from_json(raw.raw)
    except SociError as exc:
        return [f"{reference}: {exc}"]
    problems: list[str] = []
    images = _check_order(index, problems)
    socis = [d for d in index.manifests if is_soci_descriptor(d)]
    if not socis:
        problems.append("no SOCI index descriptor in the image index")
    manifests = {d.digest: _load(repo, d, problems) for d in images}
    for desc in images:
        _check_image(desc, manifests.get(desc.digest), socis, problems)
    for desc in socis:
        _check_soci(repo, desc, images, manifests, problems)
    for desc in index.manifests:
        target = (desc.annotations or {}).get(ANNOTATION_DOCKER_REFERENCE_DIGEST)
        if is_attestation(desc) and target and target not in manifests:
            problems.append(f"attestation {desc.digest} refers to {target}, not in the index")
    return problems


def _check_order(index: ImageIndex, problems: list[str]) -> list[Descriptor]:
    """Image manifests, then SOCI indexes (containerd keeps the first platform match)."""
    images = [d for d in index.manifests if not is_soci_descriptor(d) and not is_attestation(d)]
    kinds = [is_soci_descriptor(d) for d in index.manifests if not is_attestation(d)]
    if kinds != sorted(kinds):
        problems.append("a SOCI index descriptor precedes an image manifest")
    return images


def _load(repo: Repository, desc: Descriptor, problems: list[str]) -> Manifest | None:
    try:
        return Manifest.from_json(repo.fetch_manifest(desc.digest).raw)
    except SociError as exc:
        problems.append(f"manifest {desc.digest}: {exc}")
        return None


def _check_image(
    desc: Descriptor, manifest: Manifest | None, socis: list[Descriptor], problems: list[str]
) -> None:
    where = f"image manifest {desc.digest}"
    if desc.media_type != mediatypes.OCI_IMAGE_MANIFEST:
        problems.append(f"{where}: descriptor media type {desc.media_type}")
    if manifest is None:
        return
    if manifest.media_type != mediatypes.OCI_IMAGE_MANIFEST:
        problems.append(f"{where}: media type {manifest.media_type}")
    if manifest.config.media_type != mediatypes.OCI_IMAGE_CONFIG:
        problems.append(f"{where}: config media type {manifest.config.media_type}")
    if dict(desc.annotations or {}) != dict(manifest.annotations or {}):
        problems.append(f"{where}: descriptor annotations differ from the manifest's")
    bound = (manifest.annotations or {}).get(ANNOTATION_INDEX_DIGEST)
    if bound is not None and bound not in {s.digest for s in socis}:
        problems.append(f"{where}: index-digest {bound} is not listed in the image index")


def _check_soci(
    repo: Repository,
    desc: Descriptor,
    images: list[Descriptor],
    manifests: dict[str, Manifest | None],
    problems: list[str],
) -> None:
    where = f"SOCI index {desc.digest}"
    target = (desc.annotations or {}).get(ANNOTATION_IMAGE_MANIFEST_DIGEST)
    image = next((d for d in images if d.digest == target), None)
    if desc.artifact_type != SOCI_INDEX_V2_ARTIFACT_TYPE:
        problems.append(f"{where}: artifactType {desc.artifact_type}")
    if desc.media_type != mediatypes.OCI_IMAGE_MANIFEST:
        problems.append(f"{where}: descriptor media type {desc.media_type}")
    if image is None:
        problems.append(f"{where}: image-manifest-digest {target} is not an image in the index")
        return
    if desc.platform != image.platform:
        problems.append(f"{where}: platform {desc.platform} differs from its image's")
    manifest = manifests.get(image.digest)
    if (
        manifest is not None
        and (manifest.annotations or {}).get(ANNOTATION_INDEX_DIGEST) != desc.digest
    ):
        problems.append(f"{where}: image {image.digest} is not annotated with this index")
    _check_soci_content(repo, desc.digest, manifest, problems)


def validate_v1_indexes(repo: Repository, digests: Iterable[str]) -> list[str]:
    """Every violation of section 5.6 in the v1 SOCI indexes ``digests`` (``index --verify``).

    Each must bind its image as ``subject``, index only that image's layers, and be listed by
    the referrers API or its ``sha256-<hex>`` fallback tag (or the snapshotter never finds it).
    """
    problems: list[str] = []
    for digest in digests:
        try:
            subject = parse_soci_index(repo.fetch_manifest(digest).raw).subject
        except SociError as exc:
            problems.append(f"SOCI index {digest}: {exc}")
            continue
        image = _load(repo, subject, problems) if subject is not None else None
        _check_soci_content(repo, digest, image, problems, SOCI_INDEX_V1_ARTIFACT_TYPE)
        if subject is not None and digest not in referrer_digests(repo, subject.digest):
            problems.append(f"SOCI index {digest}: not listed as a referrer of {subject.digest}")
    return problems


def _check_soci_content(
    repo: Repository,
    digest: str,
    image: Manifest | None,
    problems: list[str],
    artifact_type: str = SOCI_INDEX_V2_ARTIFACT_TYPE,
) -> None:
    where = f"SOCI index {digest}"
    try:
        raw = repo.fetch_manifest(digest).raw
        index = parse_soci_index(raw)
    except SociError as exc:
        problems.append(f"{where}: {exc}")
        return
    if encode_soci_index(index) != raw:
        problems.append(f"{where}: bytes are not Go-canonical (the snapshotter would reject it)")
    binds = artifact_type == SOCI_INDEX_V1_ARTIFACT_TYPE
    if index.version.artifact_type != artifact_type or (index.subject is not None) != binds:
        version = "v1" if binds else "v2"
        problems.append(f"{where}: not a {version} index (config type or subject)")
    if not index.build_tool_identifier:
        problems.append(f"{where}: no {ANNOTATION_BUILD_TOOL} annotation")
    if not repo.has_blob(EMPTY_CONFIG_DIGEST):
        problems.append(f"{where}: config blob {{}} is missing")
    layers = {layer.digest: layer.media_type for layer in image.layers} if image else {}
    for ztoc in index.ztocs:
        if not repo.has_blob(ztoc.digest):
            problems.append(f"{where}: zTOC blob {ztoc.digest} is missing")
        if image is not None and layers.get(ztoc.layer_digest) != ztoc.layer_media_type:
            problems.append(
                f"{where}: zTOC {ztoc.digest} names layer {ztoc.layer_digest} not in image"
            )

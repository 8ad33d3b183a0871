"""Media types of OCI and Docker images, SOCI artifacts, and the predicates that classify them.

Layer classification mirrors containerd, which soci uses: ``images.IsLayerType`` for "is this a
layer" and ``images.DiffCompression`` for "how is it compressed" (soci-format.md section 3.1,
section 5.4 steps 2 and 4). The one home of every media and artifact type the project names
(engine, Lambda and CDK app import them from here). Pure constants and string logic: no I/O,
stdlib only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

# --- Manifests and indexes ------------------------------------------------------------------
OCI_IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
#: The short-lived OCI 1.1-rc artifact manifest (oras, cosign experimental): never an image.
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"

# --- Image configs ------------------------------------------------------------------------
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"
#: The OCI 1.1 "empty" descriptor media type (content ``{}``).
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

# --- Layers -------------------------------------------------------------------------------
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
#: Deprecated in image-spec 1.1 but still a containerd layer type.
OCI_LAYER_NONDISTRIBUTABLE_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP = OCI_LAYER_NONDISTRIBUTABLE_TAR + "+gzip"
OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD = OCI_LAYER_NONDISTRIBUTABLE_TAR + "+zstd"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
#: containerd calls its compression "unknown"; soci indexes it as uncompressed (section 3.1).
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_TAR = "application/vnd.docker.image.rootfs.foreign.diff.tar"
#: buildx attestation manifests carry in-toto statements as "layers".
IN_TOTO = "application/vnd.in-toto+json"

# --- SOCI (section 5.1); values are soci's verbatim: a typo changes digests or discovery ----
#: Artifact type (= config media type) of a v1 index, bound to its image by ``subject``.
SOCI_INDEX_V1 = "application/vnd.amazon.soci.index.v1+json"
#: Artifact type (= config media type) of a v2 index, bound by an image-manifest annotation.
SOCI_INDEX_V2 = "application/vnd.amazon.soci.index.v2+json"
#: Both index artifact types: a push of either is this builder's (or soci's) own output.
SOCI_INDEX_ARTIFACT_TYPES = frozenset({SOCI_INDEX_V1, SOCI_INDEX_V2})
#: Media type of a zTOC descriptor in the index ``layers``.
ZTOC = "application/octet-stream"
#: Prefetch artifacts (v0.13.0+): ignored as layers, never produced here.
SOCI_PREFETCH = "application/vnd.amazon.soci.prefetch.v1+json"

LayerCompression = Literal["gzip", "uncompressed", "zstd"]

_IMAGE_CONFIG_TYPES = frozenset({OCI_IMAGE_CONFIG, DOCKER_IMAGE_CONFIG})
_INDEX_TYPES = frozenset({OCI_IMAGE_INDEX, DOCKER_MANIFEST_LIST})
_MANIFEST_TYPES = frozenset({OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_V2})
_OCI_LAYER_PREFIX = "application/vnd.oci.image.layer."
_OCI_LAYER_BASES = frozenset({OCI_LAYER_TAR, OCI_LAYER_NONDISTRIBUTABLE_TAR})
_DOCKER_GZIP_BASES = frozenset({DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_GZIP})
_DOCKER_TAR_BASES = frozenset({DOCKER_LAYER_TAR, DOCKER_FOREIGN_LAYER_TAR})


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list."""
    return media_type in _INDEX_TYPES


def is_image_manifest(media_type: str) -> bool:
    """True for an OCI image manifest or a Docker schema 2 manifest."""
    return media_type in _MANIFEST_TYPES


def is_manifest_or_index(media_type: str) -> bool:
    """True for anything the manifests endpoint of a registry serves (and this tool reads)."""
    return media_type in _INDEX_TYPES or media_type in _MANIFEST_TYPES


def is_image_config(media_type: str) -> bool:
    """True for a runnable image's config (OCI or Docker); anything else marks an artifact."""
    return media_type in _IMAGE_CONFIG_TYPES


def is_non_image_artifact(
    config_media_type: str, artifact_type: str | None, layer_media_types: Sequence[str]
) -> bool:
    """A manifest that is not a runnable image: signatures, attestations, SBOMs, Helm charts.

    image-spec sets ``artifactType`` (or a non-image config: Helm's, OCI 1.1's empty one) for
    artifacts; cosign's classic ``sha256-<hex>.sig`` manifests keep an image config but list only
    non-layer blobs (``application/vnd.dev.cosign.simplesigning.v1+json``). A manifest mixing
    layers and non-layers stays an image, and soci refuses it (section 5.4).
    """
    if artifact_type and not is_image_config(artifact_type):
        return True
    if not is_image_config(config_media_type):
        return True
    return bool(layer_media_types) and not any(
        is_layer(m) or m == SOCI_PREFETCH for m in layer_media_types
    )


def _split(media_type: str) -> tuple[str, list[str]]:
    # containerd parseMediaTypes: base before the first "+", suffixes sorted.
    base, *ext = media_type.split("+")
    return base, sorted(ext)


def is_layer(media_type: str) -> bool:
    """containerd ``images.IsLayerType``: soci refuses to index anything else (section 5.4)."""
    if media_type.startswith(_OCI_LAYER_PREFIX):
        return True
    base, _ = _split(media_type)
    return base in _DOCKER_GZIP_BASES or base in _DOCKER_TAR_BASES


def is_non_distributable(media_type: str) -> bool:
    """OCI non-distributable or Docker foreign layers: their bytes may live only at ``urls``."""
    base, _ = _split(media_type)
    return base in (
        OCI_LAYER_NONDISTRIBUTABLE_TAR,
        DOCKER_FOREIGN_LAYER_GZIP,
        DOCKER_FOREIGN_LAYER_TAR,
    )


def layer_compression(media_type: str) -> LayerCompression | None:
    """How soci reads a layer of this media type; None if it is not a recognised layer.

    containerd ``images.DiffCompression`` mapped as soci does (section 3.1): "" (plain or
    wrapped tar) and "unknown" (Docker's plain tar) both mean the blob is the tar itself.
    """
    base, ext = _split(media_type)
    if base in _OCI_LAYER_BASES:
        last = ext[-1] if ext else ""
        if last == "gzip":
            return "gzip"
        return "zstd" if last == "zstd" else "uncompressed"
    if base in _DOCKER_GZIP_BASES:
        return "uncompressed" if ext else "gzip"
    if base in _DOCKER_TAR_BASES:
        return "uncompressed"
    return None

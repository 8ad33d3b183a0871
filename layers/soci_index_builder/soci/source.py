"""Reading the image to index: the reference's manifest or index, every platform manifest.

A single-manifest image is presented as a one-entry index (section 5.5 step 1), so the rest
of the builder handles one shape. Attestation and SOCI entries are kept aside, never indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import ConfigError, ManifestError, NotFoundError, SourceNotFoundError
from ..oci import mediatypes
from ..oci.model import Descriptor, ImageIndex, Manifest, Platform, load_object
from ..store.base import MAX_MANIFEST_SIZE, RawManifest, Repository
from ..streams import read_exactly
from .convert import is_attestation, is_soci_descriptor, single_manifest_index
from .plan import is_attestation_manifest

#: Image configs are small JSON; refuse to buffer anything absurd.
_MAX_CONFIG_SIZE = MAX_MANIFEST_SIZE


@dataclass(frozen=True)
class PlatformImage:
    """One image manifest of the source, as listed in its (possibly synthesized) index."""

    descriptor: Descriptor
    manifest: Manifest
    raw: bytes

    @property
    def platform(self) -> str:
        """``os/arch[/variant]``, or ``unknown`` when the index gives none."""
        return str(self.descriptor.platform) if self.descriptor.platform else "unknown"


@dataclass(frozen=True)
class SourceImage:
    """The source reference resolved: its bytes, its index view, its image manifests."""

    raw: RawManifest
    index: ImageIndex
    is_index: bool
    #: Every image manifest of the index that is neither an attestation nor a SOCI index.
    images: tuple[PlatformImage, ...]
    #: True if the index already lists SOCI indexes (section 5.5 step 4 output).
    has_soci_descriptors: bool = False
    selected: tuple[PlatformImage, ...] = field(default=())
    #: True for a tagged artifact that is not an image (signature, SBOM, chart): skipped.
    not_an_image: bool = False


def load_source(repo: Repository, reference: str, platforms: tuple[str, ...] = ()) -> SourceImage:
    """Fetch ``reference`` and its platform manifests; ``platforms`` is an allow-list."""
    try:
        raw = repo.fetch_manifest(reference)
    except NotFoundError as exc:
        raise SourceNotFoundError(str(exc), code=exc.code) from exc
    if mediatypes.is_index(raw.media_type):
        index = ImageIndex.from_json(raw.raw)
        images, artifacts = _load_children(repo, index)
        has_soci = any(is_soci_descriptor(d) for d in index.manifests)
        if artifacts and not images:
            return SourceImage(raw, index, True, (), has_soci, not_an_image=True)
        source = SourceImage(raw, index, True, tuple(images), has_soci)
    elif raw.media_type == mediatypes.OCI_ARTIFACT_MANIFEST:
        return SourceImage(raw, ImageIndex(manifests=()), False, (), not_an_image=True)
    elif mediatypes.is_image_manifest(raw.media_type):
        manifest = Manifest.from_json(raw.raw)
        if _is_artifact(manifest):
            return SourceImage(raw, ImageIndex(manifests=()), False, (), not_an_image=True)
        desc = Descriptor(raw.media_type, raw.digest, len(raw.raw))
        platform = _config_platform(repo, manifest.config)
        index = single_manifest_index(desc, platform)
        image = PlatformImage(index.manifests[0], manifest, raw.raw)
        source = SourceImage(raw, index, False, (image,))
    else:
        raise ManifestError(f"{reference}: {raw.media_type!r} is not an image or an image index")
    return _select(source, platforms)


def _load_children(repo: Repository, index: ImageIndex) -> tuple[list[PlatformImage], int]:
    """The index's image manifests, and how many entries were non-image artifacts."""
    images = []
    artifacts = 0
    for desc in index.manifests:
        if is_attestation(desc) or is_soci_descriptor(desc):
            continue
        if desc.media_type == mediatypes.OCI_ARTIFACT_MANIFEST:
            artifacts += 1
            continue
        if not mediatypes.is_image_manifest(desc.media_type):
            raise ManifestError(
                f"index entry {desc.digest}: unsupported media type {desc.media_type!r}"
            )
        child = repo.fetch_manifest(desc.digest)
        manifest = Manifest.from_json(child.raw)
        if _is_artifact(manifest):
            artifacts += 1
        elif not is_attestation_manifest(manifest.layers):
            images.append(PlatformImage(desc, manifest, child.raw))
    return images, artifacts


def _is_artifact(manifest: Manifest) -> bool:
    return mediatypes.is_non_image_artifact(
        manifest.config.media_type,
        manifest.artifact_type,
        [layer.media_type for layer in manifest.layers],
    )


def _config_platform(repo: Repository, config: Descriptor) -> Platform:
    """The platform of a single-manifest image, read from its config (section 5.5 step 1)."""
    if config.size > _MAX_CONFIG_SIZE:
        raise ManifestError(f"image config {config.digest} is {config.size} bytes, too large")
    with repo.open_blob(config.digest, config.size) as stream:
        raw = read_exactly(stream, config.size + 1)  # one past: EOF verifies the digest
    return Platform.from_dict(load_object(raw, f"image config {config.digest}"), "image config")


def _select(source: SourceImage, platforms: tuple[str, ...]) -> SourceImage:
    if not platforms:
        return _with_selected(source, source.images)
    chosen = tuple(
        img
        for img in source.images
        if img.descriptor.platform is not None
        and any(img.descriptor.platform.matches(p) for p in platforms)
    )
    if not chosen:
        available = ", ".join(img.platform for img in source.images) or "none"
        raise ConfigError(
            f"no platform of the image matches {', '.join(platforms)} (has {available})"
        )
    return _with_selected(source, chosen)


def _with_selected(source: SourceImage, chosen: tuple[PlatformImage, ...]) -> SourceImage:
    return replace(source, selected=chosen)

"""The SOCI index manifest (soci-format.md sections 5.2-5.3): model, canonical bytes, parsing.

The snapshotter re-encodes every index it fetches and rejects it unless the bytes match, so
the only way out of this module is :func:`encode_soci_index` (Go ``encoding/json`` order).
Version-dependent choices live in :class:`IndexVersionSpec` values, not in ``if`` chains.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ManifestError
from ..oci.model import Descriptor, Manifest
from .constants import (
    ANNOTATION_BUILD_TOOL,
    ANNOTATION_DISABLE_XATTRS,
    ANNOTATION_LAYER_DIGEST,
    ANNOTATION_LAYER_MEDIA_TYPE,
    ANNOTATION_SPAN_SIZE,
    EMPTY_CONFIG_DIGEST,
    EMPTY_CONFIG_SIZE,
    SOCI_INDEX_V1_ARTIFACT_TYPE,
    SOCI_INDEX_V2_ARTIFACT_TYPE,
    ZTOC_MEDIA_TYPE,
)
from .model import IndexVersion


@dataclass(frozen=True)
class IndexVersionSpec:
    """What differs between index versions: the artifact type and how the image is bound."""

    name: IndexVersion
    artifact_type: str
    #: v1 binds through ``subject`` (referrers); v2 through the image-manifest annotation.
    binds_subject: bool

    def config_descriptor(self) -> Descriptor:
        """The ``{}`` config descriptor, typed with this version's artifact type."""
        return Descriptor(self.artifact_type, EMPTY_CONFIG_DIGEST, EMPTY_CONFIG_SIZE)


INDEX_V1 = IndexVersionSpec("v1", SOCI_INDEX_V1_ARTIFACT_TYPE, binds_subject=True)
INDEX_V2 = IndexVersionSpec("v2", SOCI_INDEX_V2_ARTIFACT_TYPE, binds_subject=False)
_BY_NAME = {spec.name: spec for spec in (INDEX_V1, INDEX_V2)}
_BY_ARTIFACT_TYPE = {spec.artifact_type: spec for spec in (INDEX_V1, INDEX_V2)}


def index_version(name: IndexVersion) -> IndexVersionSpec:
    """The spec of ``"v1"`` or ``"v2"``."""
    return _BY_NAME[name]


@dataclass(frozen=True)
class ZtocDescriptor:
    """One entry of the index ``layers``: a zTOC and the image layer it describes."""

    digest: str
    size: int
    layer_digest: str
    layer_media_type: str
    span_size: int | None = None
    disable_xattrs: bool = False

    def to_descriptor(self) -> Descriptor:
        annotations = {
            ANNOTATION_LAYER_DIGEST: self.layer_digest,
            ANNOTATION_LAYER_MEDIA_TYPE: self.layer_media_type,
        }
        if self.span_size is not None:
            annotations[ANNOTATION_SPAN_SIZE] = str(self.span_size)
        if self.disable_xattrs:
            annotations[ANNOTATION_DISABLE_XATTRS] = "true"
        return Descriptor(ZTOC_MEDIA_TYPE, self.digest, self.size, annotations=annotations)

    @classmethod
    def from_descriptor(cls, desc: Descriptor) -> ZtocDescriptor:
        ann = desc.annotations or {}
        span = ann.get(ANNOTATION_SPAN_SIZE)
        try:
            return cls(
                digest=desc.digest,
                size=desc.size,
                layer_digest=ann[ANNOTATION_LAYER_DIGEST],
                layer_media_type=ann[ANNOTATION_LAYER_MEDIA_TYPE],
                span_size=int(span) if span is not None else None,
                disable_xattrs=ann.get(ANNOTATION_DISABLE_XATTRS) == "true",
            )
        except (KeyError, ValueError) as exc:
            raise ManifestError(f"zTOC descriptor {desc.digest}: bad annotation {exc}") from exc


@dataclass(frozen=True)
class SociIndex:
    """A SOCI index manifest; ``layers`` keeps the image's layer order (section 5.2)."""

    version: IndexVersionSpec
    ztocs: tuple[ZtocDescriptor, ...]
    build_tool_identifier: str
    #: v1 only: the platform image manifest, media type as found.
    subject: Descriptor | None = None

    def __post_init__(self) -> None:
        if not self.ztocs:
            raise ManifestError("a SOCI index needs at least one zTOC (soci's ErrEmptyIndex)")
        if (self.subject is not None) != self.version.binds_subject:
            raise ManifestError(f"SOCI index {self.version.name}: subject mismatch")

    def to_manifest(self) -> Manifest:
        """The OCI image manifest soci's ``MarshalIndex`` builds (no top-level artifactType)."""
        return Manifest(
            config=self.version.config_descriptor(),
            layers=tuple(z.to_descriptor() for z in self.ztocs),
            subject=self.subject,
            annotations={ANNOTATION_BUILD_TOOL: self.build_tool_identifier},
        )


def encode_soci_index(index: SociIndex) -> bytes:
    """The canonical bytes soci writes and the snapshotter re-derives (section 5.3)."""
    return index.to_manifest().to_json()


def parse_soci_index(raw: bytes) -> SociIndex:
    """Parse an index manifest; ManifestError if it is not a v1/v2 SOCI index."""
    manifest = Manifest.from_json(raw)
    version = _BY_ARTIFACT_TYPE.get(manifest.config.media_type)
    if version is None:
        raise ManifestError(f"unknown SOCI index version {manifest.config.media_type!r}")
    return SociIndex(
        version=version,
        ztocs=tuple(
            ZtocDescriptor.from_descriptor(d)
            for d in manifest.layers
            if d.media_type == ZTOC_MEDIA_TYPE
        ),
        build_tool_identifier=(manifest.annotations or {}).get(ANNOTATION_BUILD_TOOL, ""),
        subject=manifest.subject,
    )

"""SOCI annotations (soci-format.md section 5.1) and the defaults of section 7, by soci's names.

Values are soci's verbatim: a typo here changes every digest or breaks discovery.
"""

from __future__ import annotations

from ..oci import mediatypes as mt
from ..ztoc.model import DEFAULT_BUILD_TOOL_IDENTIFIER, DEFAULT_SPAN_SIZE
from .settings import DEFAULT_MIN_LAYER_SIZE, DEFAULT_TAG_SUFFIX

# The SOCI media and artifact types are defined in oci/mediatypes.py; these are their soci names.
SOCI_INDEX_V1_ARTIFACT_TYPE = mt.SOCI_INDEX_V1
SOCI_INDEX_V2_ARTIFACT_TYPE = mt.SOCI_INDEX_V2
SOCI_INDEX_ARTIFACT_TYPES = mt.SOCI_INDEX_ARTIFACT_TYPES
ZTOC_MEDIA_TYPE = mt.ZTOC
PREFETCH_MEDIA_TYPE = mt.SOCI_PREFETCH

ANNOTATION_LAYER_DIGEST = "com.amazon.soci.image-layer-digest"
#: Capital T, as soci spells it.
ANNOTATION_LAYER_MEDIA_TYPE = "com.amazon.soci.image-layer-mediaType"
ANNOTATION_SPAN_SIZE = "com.amazon.soci.span-size"
ANNOTATION_DISABLE_XATTRS = "com.amazon.soci.disable-xattrs"
ANNOTATION_BUILD_TOOL = "com.amazon.soci.build-tool-identifier"
#: On a rewritten image manifest (v2): the digest of its SOCI index; the runtime binding.
ANNOTATION_INDEX_DIGEST = "com.amazon.soci.index-digest"
#: On a SOCI index descriptor in the image index (v2): informational back-pointer.
ANNOTATION_IMAGE_MANIFEST_DIGEST = "com.amazon.soci.image-manifest-digest"

#: The config blob of every SOCI index: two bytes, always the same digest.
EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
EMPTY_CONFIG_SIZE = len(EMPTY_CONFIG)

#: docker buildx attestation manifests: descriptor annotations and their in-toto layers.
ANNOTATION_DOCKER_REFERENCE_DIGEST = "vnd.docker.reference.digest"
ANNOTATION_DOCKER_REFERENCE_TYPE = "vnd.docker.reference.type"
DOCKER_ATTESTATION_TYPE = "attestation-manifest"
IN_TOTO_MEDIA_TYPE = mt.IN_TOTO

__all__ = [
    "ANNOTATION_BUILD_TOOL",
    "ANNOTATION_DISABLE_XATTRS",
    "ANNOTATION_DOCKER_REFERENCE_DIGEST",
    "ANNOTATION_DOCKER_REFERENCE_TYPE",
    "ANNOTATION_IMAGE_MANIFEST_DIGEST",
    "ANNOTATION_INDEX_DIGEST",
    "ANNOTATION_LAYER_DIGEST",
    "ANNOTATION_LAYER_MEDIA_TYPE",
    "ANNOTATION_SPAN_SIZE",
    "DEFAULT_BUILD_TOOL_IDENTIFIER",
    "DEFAULT_MIN_LAYER_SIZE",
    "DEFAULT_SPAN_SIZE",
    "DEFAULT_TAG_SUFFIX",
    "DOCKER_ATTESTATION_TYPE",
    "EMPTY_CONFIG",
    "EMPTY_CONFIG_DIGEST",
    "EMPTY_CONFIG_SIZE",
    "IN_TOTO_MEDIA_TYPE",
    "PREFETCH_MEDIA_TYPE",
    "SOCI_INDEX_ARTIFACT_TYPES",
    "SOCI_INDEX_V1_ARTIFACT_TYPE",
    "SOCI_INDEX_V2_ARTIFACT_TYPE",
    "ZTOC_MEDIA_TYPE",
]

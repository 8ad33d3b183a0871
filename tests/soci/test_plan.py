"""Per-layer decisions of section 5.4 and the pure v2 rewrites of section 5.5."""

from __future__ import annotations

from dataclasses import replace

import pytest

from soci_index_builder.errors import ManifestError, SkipReason
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Descriptor, ImageIndex, Manifest, Platform
from soci_index_builder.soci.constants import (
    ANNOTATION_DOCKER_REFERENCE_DIGEST,
    ANNOTATION_DOCKER_REFERENCE_TYPE,
    ANNOTATION_INDEX_DIGEST,
)
from soci_index_builder.soci.convert import (
    add_referrer,
    fallback_tag,
    is_attestation,
    manifest_descriptor,
    rewrite_index,
    rewrite_manifest,
    soci_index_descriptor,
)
from soci_index_builder.soci.model import IndexSettings
from soci_index_builder.soci.plan import LayerAction, decide_layer, plan_layers
from soci_index_builder.soci.recompress import gzip_media_type

D = "sha256:" + "a" * 64
SETTINGS = IndexSettings(min_layer_size=100)


def _layer(media_type: str, size: int = 100, digest: str = D) -> Descriptor:
    return Descriptor(media_type, digest, size)


@pytest.mark.parametrize(
    ("media_type", "size", "action", "reason"),
    [
        (mt.OCI_LAYER_TAR_GZIP, 100, LayerAction.BUILD, None),  # == min: indexed (strict <)
        (mt.OCI_LAYER_TAR_GZIP, 99, LayerAction.SKIP, SkipReason.BELOW_MIN_SIZE),
        (mt.DOCKER_LAYER_GZIP, 100, LayerAction.BUILD, None),
        (mt.DOCKER_LAYER_TAR, 100, LayerAction.BUILD, None),
        (mt.DOCKER_FOREIGN_LAYER_GZIP, 100, LayerAction.BUILD, None),
        (mt.OCI_LAYER_TAR, 100, LayerAction.BUILD, None),
        (mt.OCI_LAYER_TAR_ZSTD, 100, LayerAction.SKIP, SkipReason.ZSTD),
        (mt.OCI_LAYER_TAR_ZSTD, 99, LayerAction.SKIP, SkipReason.BELOW_MIN_SIZE),
    ],
)
def test_decide_layer(
    media_type: str, size: int, action: LayerAction, reason: SkipReason | None
) -> None:
    plan = decide_layer(_layer(media_type, size), SETTINGS)
    assert plan is not None and (plan.action, plan.reason) == (action, reason)


def test_prefetch_ignored_and_non_layer_fails() -> None:
    assert decide_layer(_layer(mt.SOCI_PREFETCH), SETTINGS) is None
    with pytest.raises(ManifestError):
        decide_layer(_layer("application/json"), SETTINGS)


def test_zstd_recompress_when_asked() -> None:
    plan = decide_layer(_layer(mt.OCI_LAYER_TAR_ZSTD), replace(SETTINGS, recompress_zstd=True))
    assert plan is not None and plan.action is LayerAction.RECOMPRESS
    assert gzip_media_type(mt.OCI_LAYER_TAR_ZSTD) == mt.OCI_LAYER_TAR_GZIP
    assert (
        gzip_media_type(mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD)
        == mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
    )


def test_plan_dedupes_shared_layers_in_first_seen_order() -> None:
    a, b = _layer(mt.OCI_LAYER_TAR_GZIP, digest="sha256:" + "1" * 64), _layer(mt.OCI_LAYER_TAR_GZIP)
    plans = plan_layers([("linux/amd64", [a, b]), ("linux/arm64", [b, b])], SETTINGS)
    assert [p.digest for p in plans] == [a.digest, b.digest]
    assert plans[1].platforms == ("linux/amd64", "linux/arm64")


def test_rewrite_manifest_and_descriptor() -> None:
    src = Manifest(
        media_type=mt.DOCKER_MANIFEST_V2,
        config=Descriptor(mt.DOCKER_IMAGE_CONFIG, D, 10),
        layers=(_layer(mt.DOCKER_LAYER_GZIP),),
    )
    out = rewrite_manifest(src, "sha256:" + "b" * 64)
    assert out.media_type == mt.OCI_IMAGE_MANIFEST and out.config.media_type == mt.OCI_IMAGE_CONFIG
    assert out.layers == src.layers and out.annotations == {
        ANNOTATION_INDEX_DIGEST: "sha256:" + "b" * 64
    }
    old = Descriptor(mt.DOCKER_MANIFEST_V2, D, 1, platform=Platform("linux", "amd64"))
    desc = manifest_descriptor(old, out, out.to_json())
    assert desc.annotations == out.annotations and desc.platform == old.platform
    assert rewrite_manifest(src, None).annotations is None


def test_rewrite_index_repoints_attestations_and_appends_soci() -> None:
    image = Descriptor(mt.OCI_IMAGE_MANIFEST, D, 1, platform=Platform("linux", "amd64"))
    attestation = Descriptor(
        mt.OCI_IMAGE_MANIFEST,
        "sha256:" + "c" * 64,
        1,
        annotations={
            ANNOTATION_DOCKER_REFERENCE_DIGEST: D,
            ANNOTATION_DOCKER_REFERENCE_TYPE: "attestation-manifest",
        },
        platform=Platform("unknown", "unknown"),
    )
    assert is_attestation(attestation) and not is_attestation(image)
    new = replace(image, digest="sha256:" + "d" * 64)
    soci = soci_index_descriptor("sha256:" + "e" * 64, 5, new.digest, image.platform)
    out = rewrite_index(
        ImageIndex(media_type=mt.DOCKER_MANIFEST_LIST, manifests=(image, attestation)),
        {D: new},
        [soci],
    )
    assert out.media_type == mt.OCI_IMAGE_INDEX
    assert out.manifests[0] == new and out.manifests[2] == soci
    assert out.manifests[1].annotations[ANNOTATION_DOCKER_REFERENCE_DIGEST] == new.digest  # type: ignore[index]


def test_referrers_fallback_index() -> None:
    assert fallback_tag(D) == "sha256-" + "a" * 64
    ref = Descriptor(mt.OCI_IMAGE_MANIFEST, D, 3, artifact_type="x")
    once = add_referrer(None, ref)
    assert add_referrer(once, ref).manifests == (ref,)

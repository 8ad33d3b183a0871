"""Media type predicates mirror containerd's IsLayerType/DiffCompression (section 3.1)."""

from __future__ import annotations

import pytest

from soci_index_builder.oci import mediatypes as mt


@pytest.mark.parametrize(
    ("media_type", "compression"),
    [
        (mt.OCI_LAYER_TAR_GZIP, "gzip"),
        (mt.OCI_LAYER_TAR, "uncompressed"),
        (mt.OCI_LAYER_TAR_ZSTD, "zstd"),
        (mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP, "gzip"),
        (mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD, "zstd"),
        (mt.DOCKER_LAYER_GZIP, "gzip"),
        (mt.DOCKER_FOREIGN_LAYER_GZIP, "gzip"),
        (mt.DOCKER_LAYER_TAR, "uncompressed"),  # containerd "unknown"
        (mt.DOCKER_FOREIGN_LAYER_TAR, "uncompressed"),
        (mt.OCI_LAYER_TAR_GZIP + "+encrypted", "gzip"),  # suffixes are sorted, last wins
        (mt.OCI_LAYER_TAR + "+foo", "uncompressed"),
        (mt.DOCKER_LAYER_GZIP + "+encrypted", "uncompressed"),  # wrapped: DiffCompression ""
    ],
)
def test_layer_compression_of_layers(media_type: str, compression: str) -> None:
    assert mt.is_layer(media_type)
    assert mt.layer_compression(media_type) == compression


@pytest.mark.parametrize(
    "media_type",
    [mt.IN_TOTO, mt.OCI_IMAGE_CONFIG, mt.ZTOC, mt.SOCI_PREFETCH, mt.OCI_IMAGE_MANIFEST, ""],
)
def test_non_layers(media_type: str) -> None:
    assert not mt.is_layer(media_type)
    assert mt.layer_compression(media_type) is None


def test_future_oci_layer_type_is_a_layer_without_known_compression() -> None:
    # IsLayerType accepts the whole OCI prefix; DiffCompression does not know v2.
    assert mt.is_layer("application/vnd.oci.image.layer.v2.tar")
    assert mt.layer_compression("application/vnd.oci.image.layer.v2.tar") is None


def test_manifest_and_index_predicates() -> None:
    assert mt.is_index(mt.OCI_IMAGE_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert not mt.is_index(mt.OCI_IMAGE_MANIFEST)
    assert mt.is_image_manifest(mt.OCI_IMAGE_MANIFEST)
    assert mt.is_image_manifest(mt.DOCKER_MANIFEST_V2)
    assert not mt.is_image_manifest(mt.DOCKER_MANIFEST_LIST)
    assert mt.is_manifest_or_index(mt.DOCKER_MANIFEST_LIST)
    assert not mt.is_manifest_or_index(mt.SOCI_INDEX_V2)

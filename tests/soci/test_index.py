"""SOCI index manifests: canonical bytes equal soci's (vectors of soci-format.md section 5.3)."""

from __future__ import annotations

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import ManifestError
from soci_index_builder.oci.model import Descriptor
from soci_index_builder.soci.constants import EMPTY_CONFIG, EMPTY_CONFIG_DIGEST
from soci_index_builder.soci.index import (
    INDEX_V1,
    INDEX_V2,
    SociIndex,
    ZtocDescriptor,
    encode_soci_index,
    index_version,
    parse_soci_index,
)
from tests.golden import GOLDEN_DIR

VECTORS = GOLDEN_DIR
G1 = ZtocDescriptor(
    digest="sha256:cc2bca99bc1cba083681f7066ce57c85218469d0a5e5131a72fb7e0ce2b29812",
    size=792352,
    layer_digest="sha256:beec3a4b05d9b96144a341b0d87b3c8f8b04f9d7ddd6035a6b6db714b8e0f976",
    layer_media_type="application/vnd.oci.image.layer.v1.tar+gzip",
    span_size=1024,
)
SUBJECT = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "0" * 64, 1234)


def test_empty_config_digest() -> None:
    assert sha256_digest(EMPTY_CONFIG) == EMPTY_CONFIG_DIGEST


def test_v2_vector_bytes() -> None:
    raw = encode_soci_index(SociIndex(INDEX_V2, (G1,), "AWS SOCI CLI v0.2"))
    assert raw == (VECTORS / "soci-index-v2.json").read_bytes().rstrip(b"\n")
    assert sha256_digest(raw) == (
        "sha256:456b2287c7e94416910a0cf0eae674b7b3a89eaa0b97d62efb03222ee5ba536a"
    )


def test_v1_vector_bytes() -> None:
    raw = encode_soci_index(SociIndex(INDEX_V1, (G1,), "AWS SOCI CLI v0.2", SUBJECT))
    assert raw == (VECTORS / "soci-index-v1.json").read_bytes().rstrip(b"\n")
    assert len(raw) == 872


@pytest.mark.parametrize("name", ["soci-index-v1.json", "soci-index-v2.json"])
def test_parse_round_trip(name: str) -> None:
    raw = (VECTORS / name).read_bytes().rstrip(b"\n")
    assert encode_soci_index(parse_soci_index(raw)) == raw


def test_disable_xattrs_annotation_sorted_first() -> None:
    ztoc = ZtocDescriptor("sha256:" + "1" * 64, 1, "sha256:" + "2" * 64, "m", None, True)
    keys = list(ztoc.to_descriptor().to_dict()["annotations"])
    assert keys == sorted(keys)


def test_empty_index_refused() -> None:
    with pytest.raises(ManifestError):
        SociIndex(INDEX_V2, (), "x")


def test_subject_required_for_v1_only() -> None:
    with pytest.raises(ManifestError):
        SociIndex(INDEX_V1, (G1,), "x")
    with pytest.raises(ManifestError):
        SociIndex(INDEX_V2, (G1,), "x", SUBJECT)
    assert index_version("v1") is INDEX_V1


def test_unknown_version_rejected() -> None:
    raw = (VECTORS / "soci-index-v2.json").read_bytes().replace(b"index.v2", b"index.v9")
    with pytest.raises(ManifestError):
        parse_soci_index(raw)

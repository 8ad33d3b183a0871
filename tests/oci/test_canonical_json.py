"""Go encoding/json compatibility (soci-format.md section 5.3): vectors, escaping, ordering."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.canonical_json import encode_canonical, encode_string, go_map
from soci_index_builder.oci.model import Descriptor, ImageIndex, Manifest, Platform
from tests.golden import GOLDEN_DIR

VECTORS = GOLDEN_DIR
EMPTY_CONFIG = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
G1_ZTOC = "sha256:cc2bca99bc1cba083681f7066ce57c85218469d0a5e5131a72fb7e0ce2b29812"
G1_LAYER = "sha256:beec3a4b05d9b96144a341b0d87b3c8f8b04f9d7ddd6035a6b6db714b8e0f976"
EXPECTED = {
    "v1": (872, "sha256:ac701b6b8dd4a9a122d77d8e7ce2d93fbe8a4ff67519601a9fc976f427f5d8a0"),
    "v2": (708, "sha256:456b2287c7e94416910a0cf0eae674b7b3a89eaa0b97d62efb03222ee5ba536a"),
}


def soci_index(version: str) -> Manifest:
    """The vector index built from values, annotations deliberately given out of order."""
    ztoc = Descriptor(
        mt.ZTOC,
        G1_ZTOC,
        792352,
        annotations={
            "com.amazon.soci.span-size": "1024",
            "com.amazon.soci.image-layer-mediaType": mt.OCI_LAYER_TAR_GZIP,
            "com.amazon.soci.image-layer-digest": G1_LAYER,
        },
    )
    config_type = mt.SOCI_INDEX_V1 if version == "v1" else mt.SOCI_INDEX_V2
    subject = Descriptor(mt.OCI_IMAGE_MANIFEST, "sha256:" + "0" * 64, 1234)
    return Manifest(
        config=Descriptor(config_type, EMPTY_CONFIG, 2),
        layers=(ztoc,),
        subject=subject if version == "v1" else None,
        annotations={"com.amazon.soci.build-tool-identifier": "AWS SOCI CLI v0.2"},
    )


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_vectors_are_reproduced_byte_for_byte(version: str) -> None:
    raw = soci_index(version).to_json()
    size, digest = EXPECTED[version]
    assert len(raw) == size
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    if (VECTORS / f"soci-index-{version}.json").exists():
        assert raw == (VECTORS / f"soci-index-{version}.json").read_bytes()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_vector_round_trip_is_identity(version: str) -> None:
    path = VECTORS / f"soci-index-{version}.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    raw = path.read_bytes()
    assert Manifest.from_json(raw) == soci_index(version)
    assert Manifest.from_json(raw).to_json() == raw


def test_index_round_trip_keeps_every_known_member_in_go_order() -> None:
    raw = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
        b'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"digest":"sha256:' + b"a" * 64 + b'","size":7,"urls":["https://x/y"],'
        b'"annotations":{"A":"1","a":"2"},"data":"e30=",'
        b'"platform":{"architecture":"arm64","os":"linux","os.version":"10",'
        b'"os.features":["f"],"variant":"v8"},"artifactType":"application/x"}],'
        b'"annotations":{"k":"v"}}'
    )
    index = ImageIndex.from_json(raw)
    assert index.manifests[0].data == b"{}"
    assert index.manifests[0].platform == Platform("linux", "arm64", "v8", "10", ("f",))
    assert index.to_json() == raw


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("<a>&b", '"\\u003ca\\u003e\\u0026b"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\n\r\t\b\f", '"\\n\\r\\t\\b\\f"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x7f", '"\x7f"'),
        ("é日本😀", '"é日本😀"'),
        ("/", '"/"'),
        ("bad\udcff", '"bad\\ufffd"'),
    ],
)
def test_strings_are_escaped_as_go_does(text: str, encoded: str) -> None:
    assert encode_string(text) == encoded
    assert encode_canonical(text) == encoded.encode("utf-8")


def test_structs_keep_order_and_maps_sort_by_utf8_bytes() -> None:
    mapping = go_map({"b": 1, "a": 2, "B": 3, "é": 4, "z": 5})
    assert list(mapping) == ["B", "a", "b", "z", "é"]
    obj = {"z": True, "a": [None, False, 0, -3, 10**20], "m": mapping}
    assert encode_canonical(obj) == (
        b'{"z":true,"a":[null,false,0,-3,100000000000000000000],'
        b'"m":{"B":3,"a":2,"b":1,"z":5,"\xc3\xa9":4}}'
    )


@pytest.mark.parametrize("bad", [1.5, float("nan"), b"bytes", {1: "x"}, object()])
def test_unrepresentable_values_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        encode_canonical({"k": bad})


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_any_string_decodes_back_and_has_no_raw_html_or_controls(text: str) -> None:
    encoded = encode_string(text)
    assert json.loads(encoded) == text
    assert not any(c in encoded for c in "<>&\u2028\u2029")
    assert all(ord(c) >= 0x20 for c in encoded)

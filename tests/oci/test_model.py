"""OCI models: validation errors name the member; decoding drops unknowns like Go does."""

from __future__ import annotations

import json

import pytest

from soci_index_builder.errors import ConfigError, InvalidReferenceError, ManifestError
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import (
    Descriptor,
    ImageIndex,
    Manifest,
    Platform,
    descriptor_for,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def manifest_obj(**overrides: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": {"mediaType": mt.OCI_IMAGE_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mt.OCI_LAYER_TAR_GZIP, "digest": D2, "size": 20}],
    }
    obj.update(overrides)
    return {k: v for k, v in obj.items() if v is not None}


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_manifest_from_json_parses_and_re_encodes_canonically() -> None:
    m = Manifest.from_json(raw(manifest_obj()))
    assert m.config == Descriptor(mt.OCI_IMAGE_CONFIG, D1, 10)
    assert m.layers == (Descriptor(mt.OCI_LAYER_TAR_GZIP, D2, 20),)
    assert m.to_json() == json.dumps(manifest_obj(), separators=(",", ":")).encode()


def test_unknown_members_are_dropped_on_re_encoding() -> None:
    obj = manifest_obj(extra={"x": 1}, artifactType="application/x")
    obj["config"] = {**obj["config"], "zzz": 1}  # type: ignore[dict-item]
    m = Manifest.from_json(raw(obj))
    encoded = json.loads(m.to_json())
    assert "extra" not in encoded and "zzz" not in encoded["config"]
    assert encoded["artifactType"] == "application/x"


def test_docker_manifest_keeps_its_media_type() -> None:
    m = Manifest.from_json(raw(manifest_obj(mediaType=mt.DOCKER_MANIFEST_V2)))
    assert m.media_type == mt.DOCKER_MANIFEST_V2


def test_manifest_without_media_type_stays_without() -> None:
    m = Manifest.from_json(raw(manifest_obj(mediaType=None)))
    assert m.media_type is None
    assert b'mediaType":"application/vnd.oci.image.manifest' not in m.to_json()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"schemaVersion":2,"config":{},"layers":[],"x":NaN}', "not valid JSON"),
        (raw(manifest_obj(schemaVersion=1)), "schemaVersion must be 2"),
        (raw(manifest_obj(schemaVersion="2")), "schemaVersion: expected int"),
        (raw(manifest_obj(mediaType=mt.OCI_IMAGE_INDEX)), "unexpected mediaType"),
        (raw(manifest_obj(config=None)), "missing required member 'config'"),
        (raw(manifest_obj(layers=None)), "missing required member 'layers'"),
        (raw(manifest_obj(layers={})), "layers: expected list"),
        (raw(manifest_obj(layers=[1])), "layers[0]: expected an object"),
        (raw(manifest_obj(layers=[{"mediaType": "x", "size": 1}])), "layers[0]: missing"),
        (raw(manifest_obj(layers=[{"mediaType": "x", "digest": "md5:00", "size": 1}])), "digest"),
        (raw(manifest_obj(layers=[{"mediaType": "x", "digest": D1, "size": "1"}])), "size"),
        (raw(manifest_obj(layers=[{"mediaType": "x", "digest": D1, "size": True}])), "size"),
        (raw(manifest_obj(layers=[{"mediaType": "x", "digest": D1, "size": -1}])), ">= 0"),
        (raw(manifest_obj(annotations={"a": 1})), "annotations: values must be strings"),
        (raw(manifest_obj(subject="x")), "subject: expected an object"),
    ],
)
def test_malformed_manifests_raise_manifest_error(document: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=None) as info:
        Manifest.from_json(document)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("descriptor", "message"),
    [
        ({"mediaType": "x", "digest": D1, "size": 1, "platform": {"os": "linux"}}, "architecture"),
        ({"mediaType": "x", "digest": D1, "size": 1, "urls": [1]}, "urls"),
        ({"mediaType": "x", "digest": D1, "size": 1, "data": "!!"}, "base64"),
        ({"mediaType": "x", "digest": D1.upper(), "size": 1}, "digest"),
    ],
)
def test_malformed_index_descriptors_raise_manifest_error(
    descriptor: dict[str, object], message: str
) -> None:
    with pytest.raises(ManifestError) as info:
        ImageIndex.from_json(raw({"schemaVersion": 2, "manifests": [descriptor]}))
    assert message in str(info.value) and "manifests[0]" in str(info.value)


def test_docker_manifest_list_decodes_into_an_index() -> None:
    obj = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST_V2,
                "digest": D1,
                "size": 5,
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7", "features": []},
            }
        ],
    }
    index = ImageIndex.from_json(raw(obj))
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    assert index.manifests[0].platform == Platform("linux", "arm", "v7")
    assert b"features" not in index.to_json()


def test_index_rejects_a_manifest_media_type() -> None:
    with pytest.raises(ManifestError, match="unexpected mediaType"):
        ImageIndex.from_json(
            raw({"schemaVersion": 2, "mediaType": mt.OCI_IMAGE_MANIFEST, "manifests": []})
        )


def test_descriptor_validates_digest_when_constructed() -> None:
    with pytest.raises(InvalidReferenceError):
        Descriptor(mt.ZTOC, "sha256:abc", 1)


def test_descriptor_for_hashes_content() -> None:
    d = descriptor_for(b"{}", mt.OCI_EMPTY, annotations={"k": "v"})
    assert d.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert d.size == 2 and d.annotations == {"k": "v"}


def test_empty_optional_members_are_omitted() -> None:
    d = Descriptor(mt.ZTOC, D1, 3, annotations={}, urls=(), data=b"", artifact_type="")
    assert d.to_dict() == {"mediaType": mt.ZTOC, "digest": D1, "size": 3}


@pytest.mark.parametrize("text", ["linux/arm64/v8", "linux/amd64", "windows/amd64"])
def test_platform_parse_and_str_round_trip(text: str) -> None:
    assert str(Platform.parse(text)) == text


def test_platform_parse_fields() -> None:
    assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64", "v8")


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "a/b/c/d", ""])
def test_platform_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(ConfigError):
        Platform.parse(text)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/aarch64", "linux/arm64/v8", True),
        ("linux/x86_64", "linux/amd64", True),
        ("linux/arm", "linux/arm/v7", True),
        ("linux/arm/7", "linux/arm/v7", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/amd64", "windows/amd64", False),
        ("linux/arm64", "linux/amd64", False),
    ],
)
def test_platform_matches_after_normalization(a: str, b: str, same: bool) -> None:
    assert Platform.parse(a).matches(b) is same
    assert Platform.parse(b).matches(Platform.parse(a)) is same


def test_platform_to_dict_field_order() -> None:
    p = Platform("windows", "amd64", "v2", "10.0.1", ("win32k",))
    assert list(p.to_dict()) == ["architecture", "os", "os.version", "os.features", "variant"]

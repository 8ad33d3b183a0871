"""Interoperability: skopeo copies the SOCI-enabled index (all platforms) and back."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace

import pytest

from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from tests.fixtures.images import push_multi_platform_image
from tests.fixtures.registry import LocalRegistry

from .conftest import SETTINGS, big_gzip, small

pytestmark = [
    pytest.mark.registry,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed"),
]


def _skopeo_copy(src: str, dest: str) -> None:
    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{src}",
            f"docker://{dest}",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def _without_artifact_types(index: ImageIndex) -> ImageIndex:
    return replace(index, manifests=tuple(replace(d, artifact_type=None) for d in index.manifests))


@pytest.mark.parametrize("media_types", ["oci", "docker"])
def test_skopeo_round_trip(registry: LocalRegistry, media_types: str) -> None:
    """skopeo 1.9 keeps every manifest byte for byte but drops ``artifactType`` from index
    entries (it predates OCI 1.1); the runtime binding (the image-manifest annotation) and
    the SOCI indexes survive. (Uncompressed layers are left out: skopeo gzips them on push,
    which would change layer digests under any SOCI index.)"""
    name = f"skopeo/{media_types}"
    repo = registry.client().repository(name)
    push_multi_platform_image(
        repo,
        "1.0",
        {"linux/amd64": [big_gzip(1), small(1)], "linux/arm64": [big_gzip(2)]},
        attestations=True,
        media_types=media_types,  # type: ignore[arg-type]
    )
    result = build_image_index(repo, "1.0", SETTINGS)
    ours = ImageIndex.from_json(repo.fetch_manifest("1.0-soci").raw)
    host = registry.host
    _skopeo_copy(f"{host}/{name}:1.0-soci", f"{host}/{name}-copy:1.0")
    copy = registry.client().repository(f"{name}-copy")
    copied = ImageIndex.from_json(copy.fetch_manifest("1.0").raw)
    assert copied == _without_artifact_types(ours)
    for desc in ours.manifests:
        assert copy.fetch_manifest(desc.digest).raw == repo.fetch_manifest(desc.digest).raw
    assert set(result.index_digests.values()) <= {d.digest for d in copied.manifests}
    _skopeo_copy(f"{host}/{name}-copy:1.0", f"{host}/{name}:back")
    back = ImageIndex.from_json(repo.fetch_manifest("back").raw)
    assert back == copied

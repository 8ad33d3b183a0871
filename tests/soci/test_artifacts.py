"""Tagged artifacts that are not images are skipped with a reason (docs/ecr.md "Artifacts").

GIVEN a cosign signature (classic ``sha256-<hex>.sig`` and OCI 1.1), an SBOM, a Helm chart or an
index of artifacts under a tag, THEN the build reports ``skipped (not-an-image)``, pushes nothing,
and the CLI exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import SkipReason
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import ImageIndex, Manifest, Platform, descriptor_for
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.store.base import Repository
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image

from .conftest import SETTINGS, Recording, big_gzip

_COSIGN_CONFIG = b'{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{}}'
_EMPTY = b"{}"


def _blob(repo: Repository, data: bytes, media_type: str) -> object:
    repo.push_blob(sha256_digest(data), data)
    return descriptor_for(data, media_type)


def _manifest(
    repo: Repository,
    config: tuple[bytes, str],
    layers: list[tuple[bytes, str]],
    artifact_type: str | None = None,
) -> Manifest:
    return Manifest(
        config=_blob(repo, *config),  # type: ignore[arg-type]
        layers=tuple(_blob(repo, *layer) for layer in layers),  # type: ignore[misc]
        artifact_type=artifact_type,
    )


_ARTIFACTS = {
    # cosign sign (classic): an image config, one "simple signing" payload as its only layer
    "cosign-signature": (
        (_COSIGN_CONFIG, mt.OCI_IMAGE_CONFIG),
        [(b'{"critical":{}}', "application/vnd.dev.cosign.simplesigning.v1+json")],
        None,
    ),
    # cosign attest: a DSSE envelope
    "cosign-attestation": (
        (_COSIGN_CONFIG, mt.OCI_IMAGE_CONFIG),
        [(b'{"payloadType":"x"}', "application/vnd.dsse.envelope.v1+json")],
        None,
    ),
    # OCI 1.1 referrer-style signature / SBOM: artifactType and the empty config
    "oci-1.1-sbom": (
        (_EMPTY, mt.OCI_EMPTY),
        [(b'{"spdxVersion":"SPDX-2.3"}', "text/spdx+json")],
        "application/spdx+json",
    ),
    # helm push: the chart config and a tar+gzip "layer" that is not an image layer
    "helm-chart": (
        (b'{"name":"app","version":"1.0.0"}', "application/vnd.cncf.helm.config.v1+json"),
        [(b"\x1f\x8b chart", "application/vnd.cncf.helm.chart.content.v1.tar+gzip")],
        None,
    ),
}


@pytest.mark.parametrize("kind", sorted(_ARTIFACTS))
def test_tagged_artifact_is_skipped_with_a_reason(repo: Repository, kind: str) -> None:
    config, layers, artifact_type = _ARTIFACTS[kind]
    raw = _manifest(repo, config, layers, artifact_type).to_json()
    digest = repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST)
    tag = digest.replace(":", "-") + ".sig"
    repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, tag)
    recording = Recording(repo)
    result = build_image_index(recording, tag, SETTINGS)  # type: ignore[arg-type]
    assert (result.status, result.reason) == ("skipped", SkipReason.NOT_AN_IMAGE)
    assert recording.events == [] and repo.resolve(tag + "-soci") is None


def test_index_of_artifacts_is_skipped(repo: Repository) -> None:
    config, layers, _ = _ARTIFACTS["helm-chart"]
    raw = _manifest(repo, config, layers).to_json()
    repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST)
    index = ImageIndex(manifests=(descriptor_for(raw, mt.OCI_IMAGE_MANIFEST),)).to_json()
    repo.push_manifest(index, mt.OCI_IMAGE_INDEX, "charts")
    result = build_image_index(repo, "charts", SETTINGS)
    assert (result.status, result.reason) == ("skipped", SkipReason.NOT_AN_IMAGE)


def test_cli_exits_zero_on_a_signature_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = LayoutRepository(tmp_path / "img", create=True)
    config, layers, _ = _ARTIFACTS["cosign-signature"]
    raw = _manifest(repo, config, layers).to_json()
    repo.push_manifest(raw, mt.OCI_IMAGE_MANIFEST, "sha256-" + "ab" * 32 + ".sig")
    ref = f"oci:{tmp_path / 'img'}:sha256-{'ab' * 32}.sig"
    assert main(["index", ref, "--json", "--verify"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["reason"] == "not-an-image" and out.err == ""


def test_index_of_an_image_and_an_artifact_indexes_the_image_once(repo: Repository) -> None:
    config, layers, _ = _ARTIFACTS["oci-1.1-sbom"]
    chart = _manifest(repo, config, layers, "application/spdx+json").to_json()
    repo.push_manifest(chart, mt.OCI_IMAGE_MANIFEST)
    image = push_image(repo, None, [big_gzip(1)])
    entries = (
        descriptor_for(image.raw, mt.OCI_IMAGE_MANIFEST, platform=Platform("linux", "amd64")),
        descriptor_for(chart, mt.OCI_IMAGE_MANIFEST),
    )
    repo.push_manifest(ImageIndex(manifests=entries).to_json(), mt.OCI_IMAGE_INDEX, "mixed")
    first = build_image_index(repo, "mixed", SETTINGS)
    assert first.status == "built" and list(first.index_digests) == ["linux/amd64"]
    again = build_image_index(repo, "mixed", SETTINGS)
    assert (again.status, again.output_digest) == ("up-to-date", first.output_digest)

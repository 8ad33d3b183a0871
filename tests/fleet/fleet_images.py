"""A small fleet in the real registry: repositories, signatures, indexed and plain images."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from soci_index_builder.digest import sha256_digest
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.oci.model import Manifest, descriptor_for
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.settings import IndexSettings
from soci_index_builder.store.base import Repository
from soci_index_builder.store.remote.repository import RemoteRepository
from tests.fixtures.images import LayerSpec, push_image, push_multi_platform_image, random_files
from tests.fixtures.registry import LocalRegistry

SETTINGS = IndexSettings(min_layer_size=0)
COSIGN_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"


def layers(seed: int) -> list[LayerSpec]:
    return [LayerSpec(random_files(seed=seed, count=2, size=64 << 10, compressible=True))]


def push_signature(repo: Repository, subject: str) -> str:
    """A cosign-style signature manifest tagged ``sha256-<hex>.sig``; returns the tag."""
    payload = b'{"critical":{"image":{"docker-manifest-digest":"%s"}}}' % subject.encode()
    config = b"{}"
    for blob in (payload, config):
        repo.push_blob(sha256_digest(blob), blob)
    manifest = Manifest(
        config=descriptor_for(config, mt.OCI_IMAGE_CONFIG),
        layers=(descriptor_for(payload, COSIGN_LAYER),),
    )
    tag = subject.replace(":", "-") + ".sig"
    repo.push_manifest(manifest.to_json(), mt.OCI_IMAGE_MANIFEST, tag)
    return tag


@dataclass
class Fleet:
    """``prefix``/app (two multi-platform tags sharing a platform + one single), /excluded,
    /signed (an image already indexed and its signature)."""

    prefix: str
    app: RemoteRepository
    excluded: RemoteRepository
    signed: RemoteRepository
    signature_tag: str

    @property
    def selected(self) -> dict[RemoteRepository, list[str]]:
        return {self.app: ["multi1", "multi2", "single"], self.signed: ["v1"]}


def make_fleet(registry: LocalRegistry) -> Fleet:
    client = registry.client()
    prefix = "f" + uuid.uuid4().hex[:8]
    app = client.repository(f"{prefix}/app")
    excluded = client.repository(f"{prefix}/excluded")
    signed = client.repository(f"{prefix}/signed")
    shared = layers(1)
    push_multi_platform_image(app, "multi1", {"linux/amd64": shared, "linux/arm64": layers(2)})
    push_multi_platform_image(app, "multi2", {"linux/amd64": shared, "linux/arm64": layers(3)})
    push_image(app, "single", layers(4))
    push_image(excluded, "v1", layers(5))
    raw = push_image(signed, "v1", layers(6))
    build_image_index(signed, "v1", SETTINGS)  # already indexed before any backfill
    tag = push_signature(signed, raw.digest)
    return Fleet(prefix, app, excluded, signed, tag)


def snapshot(repos: list[RemoteRepository]) -> dict[str, str]:
    """Every tag of ``repos`` and its digest."""
    found = {}
    for repo in repos:
        for tag in repo.list_tags():
            info = repo.resolve(tag)
            assert info is not None
            found[f"{repo.path}:{tag}"] = info.digest
    return found

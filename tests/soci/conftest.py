"""Backends for the SOCI tests: every test taking ``repo`` runs on a layout and a registry."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soci_index_builder.soci.model import IndexSettings
from soci_index_builder.store.base import Repository
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import LayerSpec, random_files

#: Small thresholds keep the tests fast while exercising every rule.
SETTINGS = IndexSettings(span_size=64 << 10, min_layer_size=10_000, max_workers=3)
_names = itertools.count()


def big_gzip(seed: int) -> LayerSpec:
    """About 300 KB of incompressible files: indexed, several spans."""
    return LayerSpec(random_files(seed=seed, count=3, size=100_000))


def big_tar(seed: int) -> LayerSpec:
    return LayerSpec(random_files(seed=seed, count=2, size=50_000), compression="uncompressed")


def big_zstd(seed: int) -> LayerSpec:
    return LayerSpec(random_files(seed=seed, count=3, size=100_000), compression="zstd")


def small(seed: int) -> LayerSpec:
    """Under SETTINGS.min_layer_size: skipped."""
    return LayerSpec({f"etc/small{seed}": b"tiny\n"})


def new_repository(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Repository:
    if kind == "layout":
        return LayoutRepository(tmp_path / f"layout{next(_names)}", create=True)
    registry = request.getfixturevalue("registry")
    return registry.client().repository(f"soci/test{next(_names)}")  # type: ignore[no-any-return]


@pytest.fixture(params=["layout", pytest.param("registry", marks=pytest.mark.registry)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Repository:
    return new_repository(backend, tmp_path, request)


@pytest.fixture
def make_repo(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], Repository]:
    """Fresh repositories of the same backend (determinism across repositories)."""
    return lambda: new_repository(backend, tmp_path, request)


class Recording:
    """A Repository wrapper counting uploads and optionally failing tag writes.

    ``fail_on_tag``: True fails every tag write, a string only the write of that tag.
    """

    def __init__(self, inner: Repository, fail_on_tag: bool | str = False) -> None:
        self.inner = inner
        self.fail_on_tag = fail_on_tag
        self.uploads: list[str] = []
        self.manifests: list[tuple[str, str | None]] = []
        #: ("blob"|"manifest", digest, media type or None, tag or None) in call order
        self.events: list[tuple[str, str, str | None, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return self.inner.name

    def push_blob(self, digest: str, data: bytes) -> bool:
        uploaded = self.inner.push_blob(digest, data)
        self.events.append(("blob", digest, None, None))
        if uploaded:
            self.uploads.append(digest)
        return uploaded

    def push_blob_stream(self, source: Any) -> tuple[str, int]:
        digest, size = self.inner.push_blob_stream(source)
        self.events.append(("blob", digest, None, None))
        self.uploads.append(digest)
        return digest, size

    def push_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        if tag is not None and self.fail_on_tag in (True, tag):
            raise RuntimeError("injected failure before tagging")
        digest = self.inner.push_manifest(raw, media_type, tag)
        self.events.append(("manifest", digest, media_type, tag))
        self.manifests.append((digest, tag))
        return digest


@pytest.fixture
def recording() -> Iterator[type[Recording]]:
    yield Recording

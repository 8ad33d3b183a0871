"""zTOC reuse (docs/reuse.md): across tags, pushes and repositories, on a layout and a registry.

GIVEN images sharing layers, WHEN they are indexed one after another with a catalogue (or only
with the previous output), THEN shared layers are reused, not streamed, and every reused zTOC
and index is byte-identical to a fresh build; a bad entry costs a rebuild, never a build.
"""

from __future__ import annotations

import io
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from soci_index_builder.digest import sha256_digest
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.catalogue import CatalogueEntry, MemoryCatalogue, ZtocKey
from soci_index_builder.soci.catalogue.sqlite import SqliteCatalogue
from soci_index_builder.soci.model import BuildResult, IndexSettings, LayerResult
from soci_index_builder.store.base import BlobMounter, Repository
from soci_index_builder.store.layout import LayoutRepository
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm
from tests.fixtures.images import LayerSpec, make_layer, push_image, push_multi_platform_image

from .conftest import SETTINGS, big_gzip, big_tar, big_zstd, small


class Streams:
    """A Repository wrapper that records which blobs were streamed (open_blob)."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.opened: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return self.inner.name

    def open_blob(self, digest: str, size: int | None = None) -> Any:
        self.opened.append(digest)
        return self.inner.open_blob(digest, size)


class MountingStreams(Streams):
    """Streams over a registry repository: the BlobMounter methods are spelled out because
    ``isinstance`` against a protocol ignores ``__getattr__`` from Python 3.12 on."""

    def sibling(self, name: str) -> Repository | None:
        return self.inner.sibling(name)  # type: ignore[attr-defined, no-any-return]

    def mount_from(self, digest: str, sibling: Repository) -> bool:
        return self.inner.mount_from(digest, sibling)  # type: ignore[attr-defined, no-any-return]


def streams(inner: Repository) -> Streams:
    """A recording wrapper with the same optional capabilities as ``inner``."""
    return MountingStreams(inner) if isinstance(inner, BlobMounter) else Streams(inner)


def _read(repo: Repository, digest: str) -> bytes:
    with repo.open_blob(digest) as stream:
        out = bytearray()
        buf = bytearray(1 << 16)
        while n := stream.readinto(buf):
            out += buf[:n]
    return bytes(out)


def _by_status(result: BuildResult, status: str) -> list[LayerResult]:
    return [layer for layer in result.layers if layer.status == status]


def _fresh_ztoc(spec: LayerSpec, settings: IndexSettings = SETTINGS) -> bytes:
    """The zTOC a build from scratch gives (the engine on the layer bytes, no repository)."""
    gzip = spec.compression == "gzip"
    compression = CompressionAlgorithm.GZIP if gzip else CompressionAlgorithm.UNCOMPRESSED
    blob = io.BytesIO(make_layer(spec).blob)
    return build_ztoc(
        blob,
        compression=compression,
        span_size=settings.span_size,
        build_tool_identifier=settings.build_tool_identifier,
    ).raw


def _index_bytes(repo: Repository, result: BuildResult) -> list[bytes]:
    return [repo.fetch_manifest(d).raw for _, d in sorted(result.index_digests.items())]


# --- the same repository: a new tag, a new push of a tag -----------------------------------


def test_new_tag_reuses_shared_layers_through_the_catalogue(repo: Repository) -> None:
    catalogue = MemoryCatalogue()
    push_image(repo, "v1", [big_gzip(1), big_tar(2), big_gzip(3)])
    first = build_image_index(repo, "v1", SETTINGS, catalogue=catalogue)
    assert len(_by_status(first, "indexed")) == 3

    push_image(repo, "v2", [big_gzip(1), big_tar(2), big_gzip(4)])
    watched = streams(repo)
    second = build_image_index(watched, "v2", SETTINGS, catalogue=catalogue)

    reused = {layer.digest for layer in _by_status(second, "reused")}
    assert reused == {make_layer(big_gzip(1)).digest, make_layer(big_tar(2)).digest}
    assert all(layer.reused_from == repo.name for layer in _by_status(second, "reused"))
    assert not reused & set(watched.opened), "a reused layer was streamed"
    assert second.bytes_processed == make_layer(big_gzip(4)).descriptor.size
    # the output is the one a build without any reuse gives
    fresh = build_image_index(repo, "v2", replace(SETTINGS, tag_suffix="-fresh"), reuse=False)
    assert _index_bytes(repo, second) == _index_bytes(repo, fresh)


def test_repush_of_a_tag_reuses_the_previous_output_without_a_catalogue(repo: Repository) -> None:
    push_image(repo, "app", [big_gzip(1), big_gzip(2)])
    build_image_index(repo, "app", SETTINGS)
    push_image(repo, "app", [big_gzip(1), big_gzip(5)])  # the tag moves: a new subject

    watched = streams(repo)
    result = build_image_index(watched, "app", SETTINGS)

    assert [layer.status for layer in result.layers] == ["reused", "indexed"]
    assert make_layer(big_gzip(1)).digest not in watched.opened
    fresh = build_image_index(repo, "app", replace(SETTINGS, tag_suffix="-fresh"), reuse=False)
    assert _index_bytes(repo, result) == _index_bytes(repo, fresh)


def test_v1_reuses_the_referrers_of_the_subjects(repo: Repository) -> None:
    """v1 without a catalogue: a wider second run finds the first run's zTOCs through the
    referrers of the image manifests (the referrers API or the tag schema)."""
    amd64, arm64 = [big_gzip(1), big_gzip(2)], [big_gzip(1), big_gzip(3)]
    push_multi_platform_image(repo, "app", {"linux/amd64": amd64, "linux/arm64": arm64})
    v1 = replace(SETTINGS, index_version="v1")
    build_image_index(repo, "app", replace(v1, platforms=("linux/amd64",)))
    watched = streams(repo)
    both = build_image_index(watched, "app", v1)
    statuses = {layer.digest: layer.status for layer in both.layers}
    shared, only_amd64, only_arm64 = (make_layer(s).digest for s in (amd64[0], amd64[1], arm64[1]))
    assert statuses == {shared: "reused", only_amd64: "reused", only_arm64: "indexed"}
    assert not {shared, only_amd64} & set(watched.opened)
    assert set(both.index_digests) == {"linux/amd64", "linux/arm64"}


@pytest.mark.parametrize(
    "change",
    [{"span_size": 32 << 10}, {"build_tool_identifier": "another builder"}],
    ids=["span-size", "build-tool"],
)
def test_other_span_size_or_build_tool_never_reuses(
    repo: Repository, change: dict[str, Any]
) -> None:
    catalogue = MemoryCatalogue()
    push_image(repo, "app", [big_gzip(1), big_tar(2)])
    build_image_index(repo, "app", SETTINGS, catalogue=catalogue)
    other = replace(SETTINGS, tag_suffix="-other", **change)
    result = build_image_index(repo, "app", other, catalogue=catalogue)
    assert [layer.status for layer in result.layers] == ["indexed", "indexed"]


def test_no_reuse_builds_everything(repo: Repository) -> None:
    catalogue = MemoryCatalogue()
    push_image(repo, "app", [big_gzip(1)])
    build_image_index(repo, "app", SETTINGS, catalogue=catalogue)
    again = replace(SETTINGS, tag_suffix="-again")
    result = build_image_index(repo, "app", again, catalogue=catalogue, reuse=False)
    assert [layer.status for layer in result.layers] == ["indexed"]


# --- bad entries and unreachable catalogues: a rebuild, never a failure ---------------------


def test_entry_pointing_at_a_missing_or_wrong_blob_is_dropped(repo: Repository) -> None:
    catalogue = MemoryCatalogue()
    push_image(repo, "one", [big_gzip(1), big_gzip(2)])
    first = build_image_index(repo, "one", SETTINGS, catalogue=catalogue)
    key_a, key_b = sorted(catalogue._entries, key=lambda k: k.layer_digest)
    missing = CatalogueEntry("sha256:" + "0" * 64, 10, repo.name)
    other_layer_ztoc = catalogue.lookup(key_b)
    assert other_layer_ztoc is not None
    catalogue.record(key_a, missing)
    catalogue.record(key_b, replace(other_layer_ztoc, ztoc_size=other_layer_ztoc.ztoc_size + 1))

    push_image(repo, "two", [big_gzip(1), big_gzip(2), big_gzip(3)])
    result = build_image_index(repo, "two", SETTINGS, catalogue=catalogue)

    assert [layer.status for layer in result.layers] == ["indexed"] * 3
    assert {layer.ztoc_digest for layer in first.layers} <= {
        layer.ztoc_digest for layer in result.layers
    }
    assert catalogue.lookup(key_a) != missing  # dropped, then recorded by the rebuild


class Drops(MemoryCatalogue):
    """A catalogue that remembers which keys were dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[ZtocKey] = []

    def drop(self, key: ZtocKey) -> None:
        self.dropped.append(key)
        super().drop(key)


@pytest.mark.parametrize("elsewhere", [True, False], ids=["unreachable", "missing-here"])
def test_only_wrong_entries_are_dropped(repo: Repository, elsewhere: bool) -> None:
    """An entry of another registry or layout may be right: build, keep it; a missing blob in
    the repository it names is wrong: build, drop it (then the build records its own)."""
    catalogue = Drops()
    spec = big_gzip(1)
    key = ZtocKey(
        make_layer(spec).digest, SETTINGS.span_size, SETTINGS.build_tool_identifier, "gzip"
    )
    where = "oci:/somewhere/else" if elsewhere else repo.name
    catalogue.record(key, CatalogueEntry("sha256:" + "0" * 64, 10, where))
    push_image(repo, "app", [spec])
    result = build_image_index(repo, "app", SETTINGS, catalogue=catalogue)
    assert [layer.status for layer in result.layers] == ["indexed"]
    assert catalogue.dropped == ([] if elsewhere else [key])
    recorded = catalogue.lookup(key)
    assert recorded is not None and recorded.where == repo.name


def test_entry_with_a_valid_ztoc_of_another_layer_is_dropped(repo: Repository) -> None:
    catalogue = MemoryCatalogue()
    gz, tar = big_gzip(1), big_tar(2)
    push_image(repo, "one", [gz, tar])
    build_image_index(repo, "one", SETTINGS, catalogue=catalogue)
    by_layer = {key.layer_digest: key for key in catalogue._entries}
    tar_entry = catalogue.lookup(by_layer[make_layer(tar).digest])
    assert tar_entry is not None
    catalogue.record(by_layer[make_layer(gz).digest], tar_entry)  # a real zTOC, wrong layer

    push_image(repo, "two", [gz, tar])
    result = build_image_index(repo, "two", SETTINGS, catalogue=catalogue)
    assert [layer.status for layer in result.layers] == ["indexed", "reused"]
    assert result.layers[0].ztoc_digest == _sha(_fresh_ztoc(gz))


def _sha(data: bytes) -> str:
    return sha256_digest(data)


def test_unreachable_catalogue_costs_a_rebuild(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = SqliteCatalogue(tmp_path)  # a directory: sqlite cannot open it
    push_image(repo, "app", [big_gzip(1)])
    result = build_image_index(repo, "app", SETTINGS, catalogue=broken)
    assert result.status == "built"
    assert [layer.status for layer in result.layers] == ["indexed"]
    assert "zTOC catalogue" in caplog.text


# --- property: random images sharing layers ------------------------------------------------

_POOL = [big_gzip(10), big_gzip(11), big_tar(12), big_gzip(13), small(14)]


#: Settings an image may be indexed with: another span size or build tool is another zTOC.
_VARIANTS = [
    SETTINGS,
    replace(SETTINGS, span_size=32 << 10),
    replace(SETTINGS, build_tool_identifier="another builder"),
]


@hsettings(max_examples=10)
@given(
    images=st.lists(
        st.tuples(
            st.lists(st.integers(0, len(_POOL) - 1), min_size=1, max_size=4, unique=True),
            st.integers(0, len(_VARIANTS) - 1),
        ),
        min_size=2,
        max_size=4,
    )
)
def test_property_reuse_is_exact_and_only_for_the_same_key(
    tmp_path_factory: pytest.TempPathFactory, images: list[tuple[list[int], int]]
) -> None:
    """Random images sharing layers, each indexed with random settings, one catalogue: a layer
    is reused exactly when it was built before with the same span size and build tool, and
    every zTOC and SOCI index is byte-identical to a fresh build's."""
    repo = LayoutRepository(tmp_path_factory.mktemp("prop") / "layout", create=True)
    catalogue = MemoryCatalogue()
    seen: set[tuple[int, int]] = set()
    for number, (picks, variant) in enumerate(images):
        settings = _VARIANTS[variant]
        push_image(repo, f"img{number}", [_POOL[i] for i in picks])
        result = build_image_index(repo, f"img{number}", settings, catalogue=catalogue)
        for i, layer in zip(picks, result.layers, strict=True):
            if layer.status == "skipped":
                continue
            assert layer.status == ("reused" if (i, variant) in seen else "indexed")
            assert layer.ztoc_digest is not None
            assert _read(repo, layer.ztoc_digest) == _fresh_ztoc(_POOL[i], settings)
            seen.add((i, variant))
        fresh = build_image_index(
            repo, f"img{number}", replace(settings, tag_suffix="-fresh"), reuse=False
        )
        assert _index_bytes(repo, result) == _index_bytes(repo, fresh)


# --- registries: other repositories, mounts, copies, recompressed layers --------------------


@pytest.mark.registry
def test_second_repository_mounts_instead_of_streaming(registry: Any) -> None:
    client = registry.client()
    first, second = client.repository("reuse/base-a"), client.repository("reuse/base-b")
    catalogue = MemoryCatalogue()
    push_image(first, "1", [big_gzip(1), big_gzip(2), big_gzip(3)])
    build_image_index(first, "1", SETTINGS, catalogue=catalogue)

    push_image(second, "1", [big_gzip(1), big_gzip(2), big_gzip(6)])
    watched = streams(second)
    result = build_image_index(watched, "1", SETTINGS, catalogue=catalogue)

    assert [layer.status for layer in result.layers] == ["reused", "reused", "indexed"]
    assert {layer.reused_from for layer in result.layers[:2]} == {first.name}
    layers = {make_layer(spec).digest for spec in (big_gzip(1), big_gzip(2), big_gzip(6))}
    assert [d for d in watched.opened if d in layers] == [make_layer(big_gzip(6)).digest]
    for layer in result.layers:
        assert layer.ztoc_digest is not None and second.has_blob(layer.ztoc_digest)


@pytest.mark.registry
def test_recompressed_layer_is_neither_recompressed_nor_uploaded_again(
    registry: Any, tmp_path: Path
) -> None:
    pytest.importorskip("zstandard")
    client = registry.client()
    first, second = client.repository("reuse/zstd-a"), client.repository("reuse/zstd-b")
    catalogue = SqliteCatalogue(tmp_path / "cache.sqlite")
    recompress = replace(SETTINGS, recompress_zstd=True)
    push_image(first, "1", [big_zstd(1), big_gzip(2)])
    one = build_image_index(first, "1", recompress, catalogue=catalogue)
    push_image(second, "1", [big_zstd(1), big_gzip(3)])
    watched = streams(second)
    two = build_image_index(watched, "1", recompress, catalogue=catalogue)

    assert [layer.status for layer in two.layers] == ["reused", "indexed"]
    assert two.layers[0].recompressed_digest == one.layers[0].recompressed_digest
    assert make_layer(big_zstd(1)).digest not in watched.opened
    out = ImageIndex.from_json(second.fetch_manifest("1-soci").raw)
    assert out.manifests


@pytest.mark.registry
@pytest.mark.parametrize("round_", range(3))
def test_two_repositories_at_once_both_succeed_and_agree(
    registry: Any, tmp_path: Path, round_: int
) -> None:
    client = registry.client()
    repos = [client.repository(f"reuse/race{round_}-{side}") for side in "ab"]
    shared = [big_gzip(30 + round_), big_tar(40 + round_), big_gzip(50 + round_)]
    for number, repo in enumerate(repos):
        push_image(repo, "1", [*shared, big_gzip(60 + 2 * round_ + number)])
    catalogue = SqliteCatalogue(tmp_path / "shared.sqlite")
    results: dict[int, BuildResult] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def index(number: int) -> None:
        try:
            start.wait()
            results[number] = build_image_index(repos[number], "1", SETTINGS, catalogue=catalogue)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=index, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    a, b = results[0], results[1]
    assert a.status == b.status == "built"
    assert [x.ztoc_digest for x in a.layers[:3]] == [x.ztoc_digest for x in b.layers[:3]]
    for repo, result in zip(repos, (a, b), strict=True):
        fresh = build_image_index(repo, "1", replace(SETTINGS, tag_suffix="-fresh"), reuse=False)
        assert _index_bytes(repo, result) == _index_bytes(repo, fresh)
        for layer in result.layers:
            assert layer.ztoc_digest is not None and repo.has_blob(layer.ztoc_digest)


@pytest.mark.registry
@pytest.mark.parametrize("blob_mounting", [True, False], ids=["mounted", "copied"])
def test_ecr_mounts_or_copies_the_ztoc_blob_never_the_layer(ecr: Any, blob_mounting: bool) -> None:
    """The ECR stand-in with the account setting BLOB_MOUNTING on (201) or off (202: copy)."""
    prefix = f"reuse/{uuid.uuid4().hex[:8]}"  # the stand-in lives for the whole session
    first, second = ecr.repository(f"{prefix}/a"), ecr.repository(f"{prefix}/b")
    catalogue = MemoryCatalogue()
    push_image(first, "1", [big_gzip(1)])
    built = build_image_index(first, "1", SETTINGS, catalogue=catalogue)
    push_image(second, "1", [big_gzip(1)])
    ecr.behaviours.blob_mounting = blob_mounting
    ecr.requests.clear()
    watched = streams(second)
    result = build_image_index(watched, "1", SETTINGS, catalogue=catalogue)

    assert [layer.status for layer in result.layers] == ["reused"]
    ztoc = built.layers[0].ztoc_digest
    assert ztoc in watched.opened  # read back and verified
    assert built.layers[0].digest not in watched.opened  # the layer is never read
    requests = [(r.method, r.path) for r in ecr.ecr_requests()]
    assert ztoc is not None and _read(second, ztoc) == _read(first, ztoc)
    mounts = [p for m, p in requests if m == "POST" and "mount=" in p]
    assert mounts and all(f"from={prefix}/a" in p for p in mounts)
    copied = [p for m, p in requests if m == "GET" and p.endswith(f"{prefix}/a/blobs/{ztoc}")]
    assert bool(copied) is not blob_mounting

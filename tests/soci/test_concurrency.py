"""Concurrent deliveries of one push: every call succeeds and all agree on every digest.

GIVEN one image in a real registry, WHEN 2-4 threads (each with its own client, like separate
Lambda invocations) call build_image_index on it at the same instant, THEN none fails, every
result is "built" or "up-to-date" with the same digests, and the output is valid and complete.

docker-registry answers a manifest PUT with ``400 DIGEST_INVALID`` while another request
rewrites a link file the manifest check reads (same blob committed twice, same manifest put
twice); without the client's retry of that answer these tests fail within a few rounds.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from soci_index_builder.oci.mediatypes import SOCI_INDEX_V1
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.model import BuildResult, IndexSettings
from soci_index_builder.soci.validate import validate_soci_image
from tests.fixtures.images import push_multi_platform_image

from .conftest import SETTINGS, big_gzip, big_tar, small

if TYPE_CHECKING:
    from tests.fixtures.registry import LocalRegistry

pytestmark = pytest.mark.registry

#: Rounds per (version, N): each round is a fresh repository, so every round races from zero.
ROUNDS = 4
_names = itertools.count()


def _push_source(registry: LocalRegistry) -> str:
    """A two-platform image sharing a layer: shared zTOC, config and manifests all race."""
    name = f"race/{next(_names)}"
    push_multi_platform_image(
        registry.client().repository(name),
        "app",
        {
            "linux/amd64": [big_gzip(1), small(1), big_tar(2)],
            "linux/arm64": [big_gzip(1), big_gzip(3)],
        },
    )
    return name


def _deliver_at_once(
    registry: LocalRegistry, name: str, settings: IndexSettings, n: int
) -> list[BuildResult | BaseException]:
    """``n`` concurrent build_image_index calls released by one barrier; results or errors."""
    barrier = threading.Barrier(n)
    outcomes: list[BuildResult | BaseException] = [RuntimeError("did not run")] * n

    def deliver(i: int) -> None:
        repo = registry.client().repository(name)  # own pool, like another Lambda
        barrier.wait()
        try:
            outcomes[i] = build_image_index(repo, "app", settings)
        except BaseException as exc:  # reported by the assertion below
            outcomes[i] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _agreed(outcomes: list[BuildResult | BaseException]) -> BuildResult:
    """All succeeded with the same digests; returns one result."""
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors
    results = [o for o in outcomes if isinstance(o, BuildResult)]
    assert {r.status for r in results} <= {"built", "up-to-date"}
    assert any(r.status == "built" for r in results)
    assert len({(r.output_digest, tuple(sorted(r.index_digests.items()))) for r in results}) == 1
    return results[0]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_concurrent_v2_deliveries_agree(registry: LocalRegistry, n: int) -> None:
    for _ in range(ROUNDS):
        name = _push_source(registry)
        result = _agreed(_deliver_at_once(registry, name, SETTINGS, n))
        repo = registry.client().repository(name)
        assert result.output_tag == "app-soci"
        tagged = repo.resolve("app-soci")
        assert tagged is not None and tagged.digest == result.output_digest
        assert validate_soci_image(repo, "app-soci") == []
        again = build_image_index(repo, "app", SETTINGS)
        assert again.status == "up-to-date"
        assert (again.output_digest, again.index_digests) == (
            result.output_digest,
            result.index_digests,
        )


@pytest.mark.parametrize("n", [2, 3, 4])
def test_concurrent_v1_deliveries_agree(registry: LocalRegistry, n: int) -> None:
    v1 = replace(SETTINGS, index_version="v1")
    for _ in range(ROUNDS):
        name = _push_source(registry)
        result = _agreed(_deliver_at_once(registry, name, v1, n))
        repo = registry.client().repository(name)
        source = repo.fetch_manifest("app")
        assert len(result.index_digests) == 2
        assert repo.resolve("app-soci") is None, "v1 tags nothing but the referrers fallback"
        for entry in ImageIndex.from_json(source.raw).manifests:
            found = repo.list_referrers(entry.digest, SOCI_INDEX_V1)
            assert [d["digest"] for d in found] == [result.index_digests[str(entry.platform)]]

"""Tag writes on ECR semantics (docs/ecr.md): immutable tags, an interrupted ``replace_tag``.

GIVEN an immutable repository (a proxy answering a tag overwrite with ECR's 400 TAG_INVALID in
front of the real registry) or a run cut between its two tag writes, THEN concurrent deliveries
converge, a settings change fails with the one fix that helps, and the next run finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from soci_index_builder.errors import ImmutableTagError
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.validate import validate_soci_image
from soci_index_builder.store.base import Repository
from tests.fixtures.images import push_image, push_multi_platform_image
from tests.fixtures.registry import LocalRegistry

from .conftest import SETTINGS, Recording, big_gzip
from .proxies import immutable_tags

pytestmark = pytest.mark.registry


@pytest.fixture
def immutable(registry: LocalRegistry, fake_server: Any) -> Callable[..., Repository]:
    """``immutable(name, exclusions=())``: a repository whose tags cannot be overwritten."""

    def make(name: str, exclusions: tuple[str, ...] = ()) -> Repository:
        proxy = fake_server(immutable_tags(registry, exclusions))
        return proxy.client().repository(name)  # type: ignore[no-any-return]

    return make


class _Interleaved(Recording):
    """Runs ``other`` (a second delivery of the same push) just before the first tag write."""

    def __init__(self, inner: Repository, other: Callable[[], object]) -> None:
        super().__init__(inner)
        self.other: Callable[[], object] | None = other

    def push_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        if tag is not None and self.other is not None:
            other, self.other = self.other, None
            other()
        return super().push_manifest(raw, media_type, tag)


def test_two_deliveries_at_once_both_succeed(immutable: Callable[..., Repository]) -> None:
    repo = immutable("ecr/twice")
    source = push_multi_platform_image(
        repo, "v1", {"linux/amd64": [big_gzip(1)], "linux/arm64": [big_gzip(2)]}
    )
    results = []

    def second() -> None:
        results.append(build_image_index(repo, source.digest, SETTINGS, source_tag="v1"))

    first = build_image_index(
        _Interleaved(repo, second),  # type: ignore[arg-type]
        source.digest,
        SETTINGS,
        source_tag="v1",
    )
    assert [r.status for r in results] == ["built"]
    assert first.status == "built"
    assert first.output_digest == results[0].output_digest
    assert validate_soci_image(repo, "v1-soci") == []


def test_reindex_on_immutable_repository_names_the_fix(
    immutable: Callable[..., Repository],
) -> None:
    repo = immutable("ecr/reindex")
    push_image(repo, "app", [big_gzip(3)])
    first = build_image_index(repo, "app", SETTINGS)
    with pytest.raises(ImmutableTagError) as raised:
        build_image_index(repo, "app", replace(SETTINGS, span_size=32 << 10))
    message = str(raised.value)
    assert "\n" not in message
    assert "IMMUTABLE_WITH_EXCLUSION" in message and "'*-soci'" in message
    info = repo.resolve("app-soci")
    assert info is not None and info.digest == first.output_digest


def test_exclusion_filter_lets_the_output_move(immutable: Callable[..., Repository]) -> None:
    repo = immutable("ecr/excluded", exclusions=("-soci",))
    push_image(repo, "app", [big_gzip(4)])
    first = build_image_index(repo, "app", SETTINGS)
    second = build_image_index(repo, "app", replace(SETTINGS, span_size=32 << 10))
    assert second.status == "built" and second.output_digest != first.output_digest
    info = repo.resolve("app-soci")
    assert info is not None and info.digest == second.output_digest


def test_replace_tag_on_immutable_source_tag_is_one_clear_line(
    immutable: Callable[..., Repository],
) -> None:
    repo = immutable("ecr/replace", exclusions=("-soci",))
    source = push_image(repo, "app", [big_gzip(5)])
    with pytest.raises(ImmutableTagError, match=r"replace_tag cannot move .*:app: .*immutable"):
        build_image_index(repo, "app", replace(SETTINGS, replace_tag=True))
    info = repo.resolve("app")
    assert info is not None and info.digest == source.digest


def test_interrupted_replace_tag_is_finished_by_the_next_run(repo: Repository) -> None:
    source = push_image(repo, "app", [big_gzip(6)])
    settings = replace(SETTINGS, replace_tag=True)
    cut = Recording(repo, fail_on_tag="app")  # the output tag is written, the source tag not
    with pytest.raises(RuntimeError, match="injected"):
        build_image_index(cut, "app", settings)  # type: ignore[arg-type]
    output = repo.resolve("app-soci")
    assert output is not None and repo.resolve("app") == repo.resolve(source.digest)
    again = Recording(repo)
    result = build_image_index(again, "app", settings)  # type: ignore[arg-type]
    assert result.status == "built" and result.output_digest == output.digest
    assert again.uploads == [] and again.manifests == [(output.digest, "app")]
    moved = repo.resolve("app")
    assert moved is not None and moved.digest == output.digest
    # And once finished, a third run has nothing to do.
    assert build_image_index(repo, "app-soci", settings).reason is not None


def test_replace_tag_leaves_a_re_pushed_source_tag_alone(repo: Repository) -> None:
    old = push_image(repo, "app", [big_gzip(7)])
    settings = replace(SETTINGS, replace_tag=True)
    build_image_index(Recording(repo, fail_on_tag="app"), old.digest, SETTINGS, source_tag="app")  # type: ignore[arg-type]
    newer = push_image(repo, "app", [big_gzip(8)])  # the tag was pushed again meanwhile
    result = build_image_index(repo, old.digest, settings, source_tag="app")
    assert result.status == "up-to-date"
    current = repo.resolve("app")
    assert current is not None and current.digest == newer.digest

"""``backfill`` against the real registry: converge, re-run, prune after a delete, dry runs."""

from __future__ import annotations

import json

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.oci.model import ImageIndex
from soci_index_builder.soci.validate import validate_soci_image
from soci_index_builder.store.remote.repository import RemoteRepository
from tests.fixtures.registry import LocalRegistry

from .fleet_images import Fleet, make_fleet, snapshot

pytestmark = pytest.mark.registry


def backfill(
    fleet: Fleet, registry: LocalRegistry, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object], str]:
    args = [
        "backfill",
        f"{registry.host}/{fleet.prefix}",
        "--plain-http",
        "--min-layer-size",
        "0",
        "--exclude",
        f"{fleet.prefix}/excluded:*",
        "--json",
        *extra,
    ]
    code = main(args)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def repos(fleet: Fleet) -> list[RemoteRepository]:
    return [fleet.app, fleet.excluded, fleet.signed]


def assert_outputs_verify(fleet: Fleet) -> None:
    for repo, tags in fleet.selected.items():
        for tag in tags:
            assert validate_soci_image(repo, f"{tag}-soci") == [], f"{repo.path}:{tag}"


def test_backfill_converges_then_builds_nothing(
    registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(registry)
    untouched = snapshot(repos(fleet))
    code, report, err = backfill(fleet, registry, capsys, "--dry-run")
    assert code == 0 and snapshot(repos(fleet)) == untouched
    rows = {r["repository"].rsplit("/", 1)[1]: r for r in report["repositories"]}
    assert [rows[n]["selected"] for n in ("app", "excluded", "signed")] == [3, 0, 1]
    assert [rows[n]["would_build"] for n in ("app", "excluded", "signed")] == [3, 0, 0]
    assert rows["signed"]["enabled"] == 1  # already indexed (verified when run for real)
    assert "would build" in err
    code, report, err = backfill(fleet, registry, capsys)
    assert code == 0, err
    assert report["built"] == 3 and report["up_to_date"] == 1 and report["failed"] == 0
    assert report["skipped"] == {"excluded": 1, "not-an-image": 1, "own-output": 1}
    assert_outputs_verify(fleet)
    assert fleet.excluded.resolve("v1-soci") is None
    assert fleet.signed.resolve(fleet.signature_tag + "-soci") is None

    before = snapshot(repos(fleet))
    code, again, _ = backfill(fleet, registry, capsys)
    assert code == 0
    assert again["built"] == 0 and again["up_to_date"] == 4 and again["pruned"] == 0
    assert snapshot(repos(fleet)) == before


def test_prune_removes_only_the_output_of_a_deleted_tag(
    registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(registry)
    assert backfill(fleet, registry, capsys)[0] == 0
    output = fleet.app.fetch_manifest("multi2-soci")
    children = [d.digest for d in ImageIndex.from_json(output.raw).manifests]
    kept = ImageIndex.from_json(fleet.app.fetch_manifest("multi1-soci").raw)
    shared = {d.digest for d in kept.manifests}
    fleet.app.delete_manifest(fleet.app.resolve("multi2").digest)  # type: ignore[union-attr]
    before = snapshot(repos(fleet))

    # A registry reports no times: without --prune-after 0 nothing goes.
    code, report, err = backfill(fleet, registry, capsys, "--prune")
    assert code == 0 and report["pruned"] == 0 and report["kept"] == {"no-times": 1}
    assert "--prune-after 0" in err
    # A dry run says what would go and changes nothing.
    code, report, err = backfill(
        fleet, registry, capsys, "--prune", "--prune-after", "0", "--dry-run"
    )
    assert code == 0 and report["pruned"] == 0
    assert [r["would_prune"] for r in report["repositories"]] == [3, 0, 0]
    assert f"would prune {fleet.app.path}@{output.digest}" in err
    assert snapshot(repos(fleet)) == before

    code, report, err = backfill(fleet, registry, capsys, "--prune", "--prune-after", "0")
    assert code == 0, err
    assert report["pruned"] == 3  # the index, its arm64 rewritten manifest and SOCI index
    after = snapshot(repos(fleet))
    del before[f"{fleet.app.path}:multi2-soci"]
    assert after == before
    assert fleet.app.resolve(output.digest) is None
    for digest in children:
        gone = fleet.app.resolve(digest) is None
        assert gone == (digest not in shared), digest
    for repo, tags in fleet.selected.items():
        for tag in tags:
            if tag != "multi2":
                assert validate_soci_image(repo, f"{tag}-soci") == []


def test_v1_referrers_of_a_deleted_subject_are_pruned(
    registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(registry)
    code, report, err = backfill(fleet, registry, capsys, "--index-version", "v1")
    assert code == 0 and report["failed"] == 0, err
    subject = fleet.app.resolve("single")
    assert subject is not None
    fallback = "sha256-" + subject.digest.removeprefix("sha256:")
    listed = ImageIndex.from_json(fleet.app.fetch_manifest(fallback).raw).manifests
    fleet.app.delete_manifest(subject.digest)
    before = snapshot(repos(fleet))
    code, report, err = backfill(
        fleet, registry, capsys, "--index-version", "v1", "--prune", "--prune-after", "0"
    )
    assert code == 0, err
    assert report["pruned"] == 1 + len(listed)
    after = snapshot(repos(fleet))
    assert after == {k: v for k, v in before.items() if not k.endswith(":" + fallback)}
    assert all(fleet.app.resolve(d.digest) is None for d in listed)

"""The CLI on the ECR stand-in (issue 8 acceptance): immutable tags, replace-tag, signatures.

GIVEN images in the stand-in reached under their ECR host name, THEN two simultaneous runs on an
immutable repository both succeed, a re-index with other settings fails with one line naming
ECR's exclusion fix, a ``--replace-tag`` run cut before its second tag write is finished by the
next run, and a cosign signature tag exits 0 with a reason.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.oci import mediatypes as mt
from soci_index_builder.store.remote.repository import RemoteRepository
from tests.fixtures.ecr import EcrStandIn
from tests.fixtures.images import push_image

from .conftest import big_gzip
from .test_artifacts import _ARTIFACTS, _manifest

pytestmark = pytest.mark.registry
SMALL = ["--min-layer-size", "10000", "--span-size", "65536"]


def _repo(ecr: EcrStandIn) -> tuple[RemoteRepository, str]:
    name = f"cli/{uuid.uuid4().hex[:8]}"
    return ecr.repository(name), f"{ecr.host}/{name}"


def _index(ecr: EcrStandIn, ref: str, *extra: str) -> list[str]:
    return ["index", ref, *SMALL, *ecr.cli_options(), *extra]


def test_two_simultaneous_runs_on_an_immutable_repository_both_succeed(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr.behaviours.immutable_tags = True
    repo, ref = _repo(ecr)
    push_image(repo, "1.0", [big_gzip(1), big_gzip(2)])
    codes: list[int] = []
    runs = [
        threading.Thread(target=lambda: codes.append(main(_index(ecr, f"{ref}:1.0"))))
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert codes == [0, 0], capsys.readouterr().err
    capsys.readouterr()
    assert main(_index(ecr, f"{ref}:1.0", "--json", "--verify")) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "up-to-date"


def test_reindex_conflict_is_one_line_naming_the_exclusion_fix(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr.behaviours.immutable_tags = True
    repo, ref = _repo(ecr)
    push_image(repo, "1.0", [big_gzip(3)])
    assert main(_index(ecr, f"{ref}:1.0")) == 0
    before = repo.resolve("1.0-soci")
    capsys.readouterr()
    assert main([*_index(ecr, f"{ref}:1.0"), "--span-size", "32768"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "IMMUTABLE_WITH_EXCLUSION" in err and "'*-soci'" in err
    assert repo.resolve("1.0-soci") == before
    # With the documented exclusion the same re-index goes through.
    ecr.behaviours.immutable_exclusions = ("*-soci",)
    assert main([*_index(ecr, f"{ref}:1.0"), "--span-size", "32768"]) == 0


def test_interrupted_replace_tag_finishes_on_the_next_run(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run cut between its two tag writes left ``1.0-soci`` pushed and ``1.0`` unmoved."""
    repo, ref = _repo(ecr)
    push_image(repo, "1.0", [big_gzip(4)])
    assert main(_index(ecr, f"{ref}:1.0")) == 0  # the output tag: the cut run's first write
    output = repo.resolve("1.0-soci")
    capsys.readouterr()
    assert main(_index(ecr, f"{ref}:1.0", "--replace-tag", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "built"
    moved = repo.resolve("1.0")
    assert output is not None and moved is not None and moved.digest == output.digest


def test_signature_tag_is_skipped_with_a_reason(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ref = _repo(ecr)
    image = push_image(repo, "1.0", [big_gzip(5)])
    config, layers, _ = _ARTIFACTS["cosign-signature"]
    tag = image.digest.replace(":", "-") + ".sig"
    repo.push_manifest(_manifest(repo, config, layers).to_json(), mt.OCI_IMAGE_MANIFEST, tag)
    assert main(_index(ecr, f"{ref}:{tag}", "--json")) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["reason"] == "not-an-image" and out.err == ""


def test_v1_rerun_is_up_to_date_and_verified(
    ecr: EcrStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ref = _repo(ecr)
    push_image(repo, "1.0", [big_gzip(6)])
    argv = _index(ecr, f"{ref}:1.0", "--index-version", "v1", "--verify", "--json")
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert (first["status"], again["status"]) == ("built", "up-to-date")
    assert again["index_digests"] == first["index_digests"]

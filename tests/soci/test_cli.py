"""``soci-index-builder index``: exit codes, --json, --verify, --dry-run, registry refs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image, push_multi_platform_image
from tests.fixtures.registry import LocalRegistry

from .conftest import big_gzip, small

SMALL = ["--min-layer-size", "10000", "--span-size", "65536"]


def _layout(tmp_path: Path) -> str:
    repo = LayoutRepository(tmp_path / "img", create=True)
    push_multi_platform_image(
        repo,
        "v1",
        {"linux/amd64": [big_gzip(1), small(1)], "linux/arm64": [big_gzip(2)]},
        attestations=True,
    )
    return str(tmp_path / "img")


def test_json_result_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _layout(tmp_path)
    assert main(["index", f"oci:{path}:v1", *SMALL, "--json", "--verify"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "built" and doc["output_tag"] == "v1-soci"
    assert {layer["status"] for layer in doc["layers"]} == {"indexed", "skipped"}
    assert [layer["reason"] for layer in doc["layers"] if layer["status"] == "skipped"] == [
        "below-min-size"
    ]
    assert main(["index", f"oci:{path}:v1", *SMALL, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "up-to-date"


def test_dry_run_pushes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _layout(tmp_path)
    assert main(["index", f"oci:{path}:v1", *SMALL, "--dry-run"]) == 0
    assert "dry-run" in capsys.readouterr().out
    assert LayoutRepository(path).resolve("v1-soci") is None


def test_nothing_to_index_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = LayoutRepository(tmp_path / "img", create=True)
    push_image(repo, "tiny", [small(3)])
    assert main(["index", f"oci:{tmp_path / 'img'}:tiny", "--json", "--verify"]) == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "nothing-to-index"


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "not a ref"],
        ["index", "oci:/x:t", "--platform", "linux"],
        ["index", "oci:/x:t", "--span-size", "-1"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects some before run_index
        code = int(exc.code or 0)
    assert code == 2


def test_unknown_tag_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _layout(tmp_path)
    assert main(["index", f"oci:{path}:missing"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


@pytest.mark.registry
def test_registry_reference(registry: LocalRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    repo = registry.client().repository("cli/app")
    push_image(repo, "1.0", [big_gzip(4)])
    ref = f"{registry.host}/cli/app:1.0"
    assert main(["index", ref, *SMALL, "--plain-http", "--json", "--verify"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output_digest"] == repo.resolve("1.0-soci").digest  # type: ignore[union-attr]


def test_terminal_progress_renders_bytes_and_rate() -> None:
    import io

    from soci_index_builder.cli.progress import TerminalProgress, human_bytes
    from soci_index_builder.soci.model import LayerResult

    out = io.StringIO()
    progress = TerminalProgress(out)
    digest = "sha256:" + "ab" * 32
    progress.layer_started(digest, 2 << 20)
    progress.layer_progress(digest, 1 << 20)
    progress.layer_finished(
        LayerResult(digest=digest, media_type="m", size=2 << 20, status="indexed", seconds=1.0)
    )
    text = out.getvalue()
    assert "abababababab" in text and "2.0 MiB" in text and "/s" in text
    assert human_bytes(512) == "512 B"

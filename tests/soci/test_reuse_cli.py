"""The CLI's zTOC catalogue: ``--cache PATH|none``, ``--no-reuse``, a corrupt cache file, output.

GIVEN two tags sharing a layer in an OCI layout, WHEN the second is indexed with the same cache
file, THEN the shared layer is reported ``reused`` (text and ``--json``) and not built again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.soci.catalogue import CatalogueEntry, ZtocKey
from soci_index_builder.soci.catalogue.sqlite import SqliteCatalogue, default_path
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import make_layer, push_image

from .conftest import big_gzip

SMALL = ["--min-layer-size", "10000", "--span-size", "65536"]
KEY = ZtocKey("sha256:" + "a" * 64, 65536, "tool", "gzip")
ENTRY = CatalogueEntry("sha256:" + "b" * 64, 123, "registry:5000/app")


def _two_tags(tmp_path: Path) -> str:
    repo = LayoutRepository(tmp_path / "img", create=True)
    push_image(repo, "one", [big_gzip(1), big_gzip(2)])
    push_image(repo, "two", [big_gzip(1), big_gzip(3)])
    return f"oci:{tmp_path / 'img'}"


def _statuses(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [layer["status"] for layer in json.loads(capsys.readouterr().out)["layers"]]


def test_cache_file_reuses_across_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, cache = _two_tags(tmp_path), str(tmp_path / "cache.sqlite")
    assert main(["index", f"{ref}:one", *SMALL, "--cache", cache, "--json"]) == 0
    assert _statuses(capsys) == ["indexed", "indexed"]
    assert main(["index", f"{ref}:two", *SMALL, "--cache", cache, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [layer["status"] for layer in doc["layers"]] == ["reused", "indexed"]
    assert doc["layers"][0]["reused_from"] == f"oci:{tmp_path / 'img'}"
    assert doc["bytes_processed"] == make_layer(big_gzip(3)).descriptor.size


def test_default_cache_lives_in_the_user_cache_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _two_tags(tmp_path)
    assert main(["index", f"{ref}:one", *SMALL]) == 0
    assert default_path().is_file()
    assert default_path().is_relative_to(os.environ["XDG_CACHE_HOME"])
    assert main(["index", f"{ref}:two", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "reused (from oci:" in out and "zTOCs: 1 built, 1 reused" in out


@pytest.mark.parametrize("option", [["--cache", "none"], ["--no-reuse"]])
def test_turning_the_catalogue_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    ref = _two_tags(tmp_path)
    assert main(["index", f"{ref}:one", *SMALL, *option, "--json"]) == 0
    capsys.readouterr()
    assert main(["index", f"{ref}:two", *SMALL, *option, "--json"]) == 0
    assert _statuses(capsys) == ["indexed", "indexed"]
    assert not default_path().exists()


def test_corrupt_cache_file_is_set_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cache = _two_tags(tmp_path), tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    assert main(["index", f"{ref}:one", *SMALL, "--cache", str(cache), "--json"]) == 0
    assert "unreadable" in caplog.text
    assert (tmp_path / "cache.sqlite.corrupt").read_bytes().startswith(b"this is not")
    assert SqliteCatalogue(cache).lookup(KEY) is None  # a fresh, working catalogue
    capsys.readouterr()
    assert main(["index", f"{ref}:two", *SMALL, "--cache", str(cache), "--json"]) == 0
    assert _statuses(capsys) == ["reused", "indexed"]


def test_sqlite_round_trip_drop_and_newer_schema(tmp_path: Path) -> None:
    catalogue = SqliteCatalogue(tmp_path / "c.sqlite")
    assert catalogue.lookup(KEY) is None
    catalogue.record(KEY, ENTRY)
    assert SqliteCatalogue(tmp_path / "c.sqlite").lookup(KEY) == ENTRY
    catalogue.drop(KEY)
    assert catalogue.lookup(KEY) is None
    with closing(sqlite3.connect(tmp_path / "c.sqlite")) as db, db:
        db.execute("PRAGMA user_version = 99")
    catalogue = SqliteCatalogue(tmp_path / "c.sqlite")
    assert catalogue.lookup(KEY) is None  # unknown schema: set aside, recreated
    assert (tmp_path / "c.sqlite.corrupt").is_file()


def test_sqlite_is_safe_across_threads_and_instances(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            catalogue = SqliteCatalogue(path)
            for i in range(20):
                key = ZtocKey(f"sha256:{n:02d}{i:062d}", 1, "t", "gzip")
                catalogue.record(key, ENTRY)
                assert catalogue.lookup(key) == ENTRY
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM ztocs").fetchone()[0] == 80


def test_progress_line_of_a_reused_layer_names_its_source() -> None:
    import io

    from soci_index_builder.cli.progress import TerminalProgress
    from soci_index_builder.soci.model import LayerResult

    out = io.StringIO()
    digest = "sha256:" + "cd" * 32
    reused = LayerResult(
        digest=digest, media_type="m", size=1 << 20, status="reused", reused_from="reg/app"
    )
    TerminalProgress(out).layer_finished(reused)
    assert "cdcdcdcdcdcd reused" in out.getvalue() and "from reg/app" in out.getvalue()
    assert "/s" not in out.getvalue()

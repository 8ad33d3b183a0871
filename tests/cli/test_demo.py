"""`make demo`: builds a two-platform image from local files and makes it SOCI-enabled."""

from __future__ import annotations

from soci_index_builder.cli.main import main
from soci_index_builder.soci.validate import validate_soci_image
from soci_index_builder.store.layout import LayoutRepository


def test_demo_builds_a_valid_soci_enabled_image(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "output latest-soci -> sha256:" in out
    assert "lazy read (linux/amd64)" in out
    repo = LayoutRepository(tmp_path / "image")
    assert "latest-soci" in repo.list_tags()
    assert validate_soci_image(repo, "latest-soci") == []

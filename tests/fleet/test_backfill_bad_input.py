"""``backfill`` on registries that misbehave: no catalog, invalid names, a listing error midway.

Each gives a clear one-line message, the rest of the run goes on, nothing is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from soci_index_builder.cli.main import main
from tests.fixtures.registry import FakeRequest, FakeResponse, FakeServer

NOT_FOUND = FakeResponse(404, {"Content-Type": "application/json"}, b'{"errors":[]}')


def registry(
    catalog: list[str] | None, tags: dict[str, list[str] | None]
) -> Callable[..., FakeResponse]:
    """Catalog and tag lists as given (None: 404 / 500); every manifest is absent."""

    def answer(request: FakeRequest) -> FakeResponse:
        if request.method == "DELETE":
            raise AssertionError("nothing may be deleted")
        path = request.path.split("?")[0]
        if path == "/v2/_catalog":
            if catalog is None:
                return NOT_FOUND
            return FakeResponse(
                200,
                {"Content-Type": "application/json"},
                json.dumps({"repositories": catalog}).encode(),
            )
        for name, listed in tags.items():
            if path == f"/v2/{name}/tags/list":
                if listed is None:
                    return FakeResponse(500, body=b"boom")
                body = json.dumps({"name": name, "tags": listed}).encode()
                return FakeResponse(200, {"Content-Type": "application/json"}, body)
        return NOT_FOUND

    return answer


def run(
    server: FakeServer, target: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    code = main(
        ["backfill", server.host + target, "--plain-http", "--prune", "--prune-after", "0", *extra]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_registry_without_catalog(
    fake_server: Callable[..., FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake_server(registry(None, {"team/app": ["v1"]}))
    code, _, err = run(server, "", capsys)
    assert code == 1
    assert "offers no usable catalog API" in err and "Traceback" not in err
    # Naming the repository works without a catalog.
    code, out, err = run(server, "/team/app", capsys)
    assert code == 0, err
    assert "built       0" in out


def test_invalid_names_and_listing_error_midway(
    fake_server: Callable[..., FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = ["a/broken", "a/good", "a/Invalid", "b/other", "a/last"]
    server = fake_server(
        registry(catalog, {"a/broken": None, "a/good": ["bad tag!", "v1"], "a/last": []})
    )
    code, out, err = run(server, "/a", capsys, "--json")
    assert code == 1
    report = json.loads(out)
    assert [row["repository"] for row in report["repositories"]] == ["a/broken", "a/good", "a/last"]
    assert report["failed"] == 1 and "listing a/broken" in report["failures"][0]
    assert report["skipped"] == {"invalid-name": 2}
    assert "Traceback" not in err and "'a/good:bad tag!'" in err

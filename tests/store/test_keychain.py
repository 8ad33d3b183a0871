"""The keychain (finding 6): docker config, credential helpers, containers auth.json, ECR."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.errors import ConfigError, RegistryError
from soci_index_builder.store.remote.auth import Credentials
from soci_index_builder.store.remote.keychain import Keychain, auth_file_paths
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer

    MakeServer = Callable[..., FakeServer]

SECRET = "pa55-w0rd-never-logged"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path: Path, config: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def helper_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ``docker-credential-test`` on PATH: knows ghcr.io, logs the servers it was asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-test"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 2\n'
        "read server\n"
        f'echo "$server" >> "{tmp_path}/helper.log"\n'
        'case "$server" in\n'
        f'  ghcr.io) echo \'{{"ServerURL":"ghcr.io","Username":"bot","Secret":"{SECRET}"}}\' ;;\n'
        '  *) echo "credentials not found in native keychain"; exit 1 ;;\n'
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_default_paths_follow_podman_then_docker(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "REGISTRY_AUTH_FILE": "/explicit.json",
        "XDG_RUNTIME_DIR": "/run/user/1000",
        "DOCKER_CONFIG": "/docker",
    }
    assert auth_file_paths(env) == [
        Path("/explicit.json"),
        Path("/run/user/1000/containers/auth.json"),
        tmp_path / ".config/containers/auth.json",
        Path("/docker/config.json"),
    ]


def test_docker_config_auths(tmp_path: Path) -> None:
    _write(
        tmp_path / ".docker/config.json",
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": _auth("hubuser", SECRET)},
                "registry.example:5000": {"username": "u", "password": SECRET},
                "quay.io/team": {"auth": _auth("scoped", "x")},
            }
        },
    )
    keychain = Keychain(env={"HOME": str(tmp_path)})
    assert keychain("registry-1.docker.io") == Credentials("hubuser", SECRET)
    assert keychain("docker.io") == Credentials("hubuser", SECRET)
    assert keychain("registry.example:5000") == Credentials("u", SECRET)
    assert keychain("registry.example") is None  # another port is another registry
    assert keychain("quay.io") is None  # namespace-scoped entries are not host credentials
    assert keychain.invalidate("registry.example:5000") is False  # static: no use asking again


def test_credential_helpers(helper_dir: Path) -> None:
    _write(
        helper_dir / ".docker/config.json",
        {"credHelpers": {"ghcr.io": "test"}, "credsStore": "test"},
    )
    keychain = Keychain(env={"HOME": str(helper_dir)})
    assert keychain("ghcr.io") == Credentials("bot", SECRET)
    assert keychain("ghcr.io") == Credentials("bot", SECRET)  # cached: one helper call
    assert keychain("private.example") is None  # credsStore asked, "not found"
    assert (helper_dir / "helper.log").read_text().split() == ["ghcr.io", "private.example"]
    assert keychain.invalidate("ghcr.io") is True  # a helper may hand out a new token
    assert keychain("ghcr.io") == Credentials("bot", SECRET)


def test_missing_helper_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / ".docker/config.json", {"credHelpers": {"ghcr.io": "absent"}})
    with pytest.raises(RegistryError, match="docker-credential-absent not found"):
        Keychain(env={"HOME": str(tmp_path)})("ghcr.io")


def test_containers_auth_file_comes_first(tmp_path: Path) -> None:
    _write(tmp_path / ".docker/config.json", {"auths": {"ghcr.io": {"auth": _auth("d", "d")}}})
    _write(tmp_path / "auth.json", {"auths": {"ghcr.io": {"auth": _auth("p", SECRET)}}})
    env = {"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    assert Keychain(env=env)("ghcr.io") == Credentials("p", SECRET)
    explicit = Keychain(auth_file=tmp_path / ".docker/config.json", env=env)
    assert explicit("ghcr.io") == Credentials("d", "d")


def test_ecr_hosts_use_ecr_unless_asked_otherwise(tmp_path: Path) -> None:
    _write(tmp_path / ".docker/config.json", {"auths": {ECR: {"auth": _auth("AWS", "stale")}}})
    asked: list[str] = []

    def ecr(host: str) -> Credentials:
        asked.append(host)
        return Credentials("AWS", "fresh")

    env = {"HOME": str(tmp_path)}
    assert Keychain(ecr=ecr, env=env)(ECR) == Credentials("AWS", "fresh")
    dualstack = "123456789012.dkr-ecr.eu-west-1.on.aws"
    assert Keychain(ecr=ecr, env=env)(dualstack) == Credentials("AWS", "fresh")
    assert asked == [ECR, dualstack]
    assert Keychain("config", ecr=ecr, env=env)(ECR) == Credentials("AWS", "stale")
    assert Keychain("ecr", ecr=ecr, env=env)("ghcr.io") is None
    assert Keychain("none", ecr=ecr, env=env)(ECR) is None


@pytest.mark.parametrize(
    "content",
    [
        "{not json " + SECRET,
        "[]",
        json.dumps({"auths": {"ghcr.io": {"auth": "!!" + SECRET}}}),
        json.dumps({"auths": {"ghcr.io": "string"}}),
        json.dumps({"credHelpers": {"ghcr.io": "../evil"}}),
    ],
)
def test_bad_auth_files_are_one_line_errors_without_secrets(tmp_path: Path, content: str) -> None:
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Keychain(auth_file=path)("ghcr.io")
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)


def _basic_only(user: str, password: str) -> Callable[[FakeRequest], FakeResponse]:
    expected = "Basic " + _auth(user, password)

    def handler(request: FakeRequest) -> FakeResponse:
        if request.headers.get("authorization") != expected:
            return FakeResponse(401, {"WWW-Authenticate": 'Basic realm="private"'})
        if request.method == "HEAD":
            return FakeResponse(404)
        return FakeResponse(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}')

    return handler


def test_cli_uses_the_auth_file(
    fake_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake_server(_basic_only("ci", SECRET))
    path = _write(tmp_path / "auth.json", {"auths": {server.host: {"auth": _auth("ci", SECRET)}}})
    ref = f"{server.host}/team/app:1.0"
    assert main(["index", ref, "--plain-http", "--auth-file", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and SECRET not in err  # authenticated: the tag is missing
    assert server.requests[-1].headers["authorization"] == "Basic " + _auth("ci", SECRET)
    assert main(["index", ref, "--plain-http", "--credentials", "none"]) == 1
    assert "401" in capsys.readouterr().err


def test_lambda_registry_endpoint_gets_keychain_credentials(
    fake_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REGISTRY_ENDPOINT naming a non-ECR registry: credentials from REGISTRY_AUTH_FILE."""
    from functions.shared.registries import Registries

    server = fake_server(_basic_only("lambda", SECRET))
    path = _write(
        tmp_path / "auth.json", {"auths": {server.host: {"auth": _auth("lambda", SECRET)}}}
    )
    monkeypatch.setenv("REGISTRY_ENDPOINT", f"http://{server.host}")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    repo = Registries().repository("123456789012", "eu-west-1", "team/app")
    assert repo.resolve("1.0") is None  # authenticated: a 404, not a 401
    assert server.requests[-1].headers["authorization"] == "Basic " + _auth("lambda", SECRET)


def test_lambda_deadline_reaches_the_client(
    fake_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from functions.shared.registries import Registries
    from soci_index_builder.errors import DeadlineExceededError

    server = fake_server(lambda r: FakeResponse(503, {"Retry-After": "5"}))
    monkeypatch.setenv("REGISTRY_ENDPOINT", f"http://{server.host}")
    registries = Registries()
    late = registries.repository("123456789012", "eu-west-1", "app", deadline=time.monotonic() + 1)
    with pytest.raises(DeadlineExceededError):
        late.resolve("1.0")
    assert len(server.requests) == 1  # Retry-After: 5 would cross the deadline: no waiting


def test_ecr_without_boto3_says_what_to_install() -> None:
    from soci_index_builder.store.remote.ecr import EcrCredentialsProvider

    def factory(region: str) -> object:
        raise ModuleNotFoundError("No module named 'boto3'")

    with pytest.raises(RegistryError, match=r"soci-index-builder\[aws\]"):
        Keychain(ecr=EcrCredentialsProvider(client_factory=factory))(ECR)

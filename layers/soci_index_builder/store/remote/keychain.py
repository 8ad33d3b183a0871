"""Credentials for any registry: the keychain docker, podman, skopeo and oras users already have.

Sources, in order (``docs/credentials.md``):

1. ECR hosts, in every form (``ecr_hosts.py``): a token from ``ecr:GetAuthorizationToken``
   with the caller's AWS credentials (``ecr.py``).
2. Auth files, the first that knows the host: an explicit file (the CLI's ``--auth-file``),
   else ``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
   ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config``) and ``$DOCKER_CONFIG/config.json``
   (``~/.docker``). In a file: ``credHelpers[host]``, then ``auths[host]``, then ``credsStore``;
   a helper is ``docker-credential-<name> get``, given the host on stdin.
3. Otherwise anonymous.

``mode`` narrows the sources: ``ecr`` (ECR only), ``config`` (auth files only, ECR hosts
included, e.g. after ``docker login``), ``none`` (anonymous). Secrets never reach a message or
a log: errors name the file or helper and the host only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from ...errors import ConfigError, RegistryError
from .auth import Credentials, CredentialsProvider
from .ecr_hosts import is_ecr_host

Mode = Literal["auto", "ecr", "config", "none"]
MODES: tuple[Mode, ...] = ("auto", "ecr", "config", "none")
#: Seconds a credential helper may take (they can prompt a keyring or call a cloud API).
HELPER_TIMEOUT = 30.0
#: Auth files larger than this are not auth files.
MAX_AUTH_FILE = 1 << 20
#: Docker Hub's host names, all stored under docker's legacy key.
_DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_DOCKER_HUB_KEY = "https://index.docker.io/v1/"

#: ``(helper name, server) -> (username, secret) | None``: runs ``docker-credential-<name> get``.
HelperRunner = Callable[[str, str], tuple[str, str] | None]


def auth_file_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where podman/skopeo and docker keep credentials, in the order they are consulted."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    paths = []
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    config_home = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    paths.append(config_home / "containers" / "auth.json")
    docker = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    paths.append(docker / "config.json")
    return paths


class Keychain:
    """A :data:`~.auth.CredentialsProvider` over the sources above; thread-safe.

    ``ecr``: the ECR provider (default: :class:`~.ecr.EcrCredentialsProvider`, made on first
    use so that boto3 loads only for ECR hosts). ``auth_file``: consulted alone, instead of the
    default paths. ``run_helper``: tests replace the subprocess call.
    """

    def __init__(
        self,
        mode: Mode = "auto",
        *,
        auth_file: str | Path | None = None,
        ecr: CredentialsProvider | None = None,
        env: Mapping[str, str] | None = None,
        run_helper: HelperRunner | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"credentials mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self._paths = [Path(auth_file)] if auth_file else auth_file_paths(env)
        if auth_file and not self._paths[0].is_file():
            raise ConfigError(f"auth file {auth_file} does not exist")
        self._ecr = ecr
        self._run_helper = run_helper or run_credential_helper
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Credentials | None, bool]] = {}

    def __call__(self, host: str) -> Credentials | None:
        if self.mode == "none":
            return None
        if is_ecr_host(host) and self.mode in ("auto", "ecr"):
            return self._ecr_provider()(host)
        if self.mode == "ecr":
            return None
        with self._lock:
            if host not in self._cache:
                self._cache[host] = self._from_files(host)
            return self._cache[host][0]

    def invalidate(self, host: str) -> bool:
        """Forget ``host``'s credentials; True when asking again can give new ones."""
        if is_ecr_host(host) and self.mode in ("auto", "ecr"):
            invalidate = getattr(self._ecr_provider(), "invalidate", None)
            return bool(invalidate(host)) if callable(invalidate) else False
        with self._lock:
            _, from_helper = self._cache.pop(host, (None, False))
        return from_helper

    def _ecr_provider(self) -> CredentialsProvider:
        if self._ecr is None:
            from .ecr import EcrCredentialsProvider

            self._ecr = EcrCredentialsProvider()
        return self._ecr

    def _from_files(self, host: str) -> tuple[Credentials | None, bool]:
        """``(credentials, came from a helper)`` from the first auth file that knows ``host``."""
        for path in self._paths:
            config = _load(path)
            if config is None:
                continue
            key = _find_key(config.get("credHelpers"), host)
            if key is not None:
                return self._helper(str(config["credHelpers"][key]), key, host, path), True
            key = _find_key(config.get("auths"), host)
            if key is not None:
                credentials = _from_entry(config["auths"][key], host, path)
                if credentials is not None:
                    return credentials, False
            if isinstance(config.get("credsStore"), str) and config["credsStore"]:
                server = _DOCKER_HUB_KEY if _normal(host) in _DOCKER_HUB else host
                found = self._helper(config["credsStore"], server, host, path)
                if found is not None:
                    return found, True
        return None, False

    def _helper(self, name: str, server: str, host: str, path: Path) -> Credentials | None:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise ConfigError(f"{path}: invalid credential helper name for {host}")
        found = self._run_helper(name, server)
        return Credentials(*found) if found else None


def run_credential_helper(name: str, server: str) -> tuple[str, str] | None:
    """``docker-credential-<name> get`` (the docker credential helper protocol)."""
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise RegistryError(f"credential helper {program} not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} timed out for {server}") from None
    if done.returncode != 0:
        if b"credentials not found" in done.stdout + done.stderr:
            return None
        raise RegistryError(f"credential helper {program} failed for {server}")
    try:
        answer = json.loads(done.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"credential helper {program}: unusable answer for {server}") from None
    if username == "<token>":  # an identity (OAuth refresh) token: not supported, see docs
        return None
    return username, secret


def _load(path: Path) -> dict[str, Any] | None:
    """The auth file's JSON object, None when it does not exist; ConfigError when unusable."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_AUTH_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read auth file {path}: {exc.strerror}") from None
    if len(raw) > MAX_AUTH_FILE:
        raise ConfigError(f"auth file {path} is larger than {MAX_AUTH_FILE} bytes")
    try:
        config = json.loads(raw) if raw.strip() else {}
    except ValueError:  # the message could quote a secret: say no more
        raise ConfigError(f"auth file {path} is not valid JSON") from None
    if not isinstance(config, dict):
        raise ConfigError(f"auth file {path} is not a JSON object")
    return config


def _normal(key: str) -> str:
    """A config key (``https://host/v1/``, ``host``, ``host/namespace``) as a lower-case host."""
    key = key.strip().lower()
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0]


def _find_key(entries: object, host: str) -> str | None:
    """The key of ``entries`` naming ``host`` (Docker Hub under any of its names).

    Keys are ``host``, ``scheme://host`` or docker's ``https://index.docker.io/v1/``; keys
    scoped to a namespace (``quay.io/team``, containers' auth.json) are not used.
    """
    if not isinstance(entries, dict):
        return None
    wanted = _normal(host)
    aliases = _DOCKER_HUB if wanted in _DOCKER_HUB else frozenset({wanted})
    for key in entries:
        if not isinstance(key, str):
            continue
        path = key.strip().lower().split("://", 1)[-1].partition("/")[2].strip("/")
        if _normal(key) in aliases and path in ("", "v1", "v2"):
            return key
    return None


def _from_entry(entry: object, host: str, path: Path) -> Credentials | None:
    """``{"auth": base64("user:password")}`` or ``{"username", "password"}``."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: the entry for {host} is not an object")
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(f"{path}: the auth of {host} is not base64 user:password") from None
        if not sep:
            raise ConfigError(f"{path}: the auth of {host} is not base64 user:password")
        return Credentials(user, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None  # e.g. only an identitytoken: not supported (see docs/credentials.md)

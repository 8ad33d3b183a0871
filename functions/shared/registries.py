"""The registry an ECR event names, and one client per registry for the container's life.

A client holds a connection pool and an ECR token, so it is made on first use and reused by
every later invocation of the same container (docs/architecture.md). The client factory is
injected: the deployed functions talk to ECR with ECR credentials, tests to a local registry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from soci_index_builder.errors import ConfigError

if TYPE_CHECKING:
    from soci_index_builder.store.base import Repository
    from soci_index_builder.store.remote.client import RegistryClient

ENV_REGISTRY_ENDPOINT = "REGISTRY_ENDPOINT"
#: ``(host, plain_http) -> client``
ClientFactory = Callable[[str, bool], "RegistryClient"]


def registry_endpoint(account: str, region: str) -> tuple[str, bool]:
    """``(host, plain_http)``: the event's ECR registry, or ``REGISTRY_ENDPOINT`` if set.

    Plain HTTP only when the override says ``http://`` (tests against a local registry).
    """
    override = os.environ.get(ENV_REGISTRY_ENDPOINT, "").strip()
    if not override:
        from soci_index_builder.store.remote.ecr_hosts import ecr_registry_host

        return ecr_registry_host(account, region), False
    scheme, sep, host = override.partition("://")
    if not sep:
        scheme, host = "https", override
    host = host.rstrip("/")
    if scheme not in ("http", "https") or not host or "/" in host:
        raise ConfigError(
            f"{ENV_REGISTRY_ENDPOINT}={override[:100]!r} must be [http[s]://]host[:port]"
        )
    return host, scheme == "http"


def ecr_client(host: str, plain_http: bool) -> RegistryClient:
    """A client with the keychain's credentials: ECR tokens from the function's role for ECR
    hosts (every form), auth files (``REGISTRY_AUTH_FILE``) for a non-ECR REGISTRY_ENDPOINT."""
    from soci_index_builder.store.remote.client import RegistryClient
    from soci_index_builder.store.remote.keychain import Keychain

    return RegistryClient(host, credentials=Keychain(), plain_http=plain_http)


class Registries:
    """Repositories by ``(account, region, name)``; one client per registry endpoint."""

    def __init__(self, make_client: ClientFactory = ecr_client) -> None:
        self._make_client = make_client
        self._clients: dict[tuple[str, bool], RegistryClient] = {}
        self._lock = threading.Lock()

    def repository(
        self, account: str, region: str, name: str, *, deadline: float | None = None
    ) -> Repository:
        """The repository ``name`` of the registry the event came from.

        ``deadline`` (``time.monotonic()``) bounds the client's requests, retries and transfers
        from now on: the invocation's remaining time (one invocation at a time per container).
        """
        endpoint = registry_endpoint(account, region)
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                client = self._clients[endpoint] = self._make_client(*endpoint)
            client.deadline = deadline
        repository: Repository = client.repository(name)
        return repository

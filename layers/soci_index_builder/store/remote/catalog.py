"""``GET /v2/_catalog``: the repositories of a registry, for fleet backfills (docs/fleet.md).

The catalog API is optional in the distribution spec: ECR has none (the fleet lists ECR through
its control plane instead) and many registries restrict it. A registry without one answers
404/401/403, turned here into one clear :class:`RegistryError` instead of an empty fleet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import RegistryError
from ...oci.reference import validate_repository
from . import _http

if TYPE_CHECKING:
    from .client import RegistryClient

#: The catalog scope docker distribution's token servers expect.
CATALOG_SCOPE = "registry:catalog:*"


def list_repositories(client: RegistryClient, prefix: str = "") -> list[str]:
    """Repository names under ``prefix`` (``a/b`` also selects ``a/b/c``), every page.

    Names that break the OCI grammar are reported as invalid by the caller, not dropped here:
    the listing is what the registry says.
    """
    url = f"{client.base_url}/v2/_catalog?n={client.page_size}"
    what = f"catalog of {client.host}"
    names: list[str] = []
    try:
        for page in _http.pages(client, url, (CATALOG_SCOPE,), None, what):
            names.extend(str(name) for name in page.get("repositories") or ())
    except RegistryError as exc:
        if exc.status in (401, 403, 404, 405):
            raise RegistryError(
                f"{client.host} offers no usable catalog API (/v2/_catalog: {exc.status}); "
                "name the repository (REGISTRY/REPOSITORY) instead",
                status=exc.status,
                code=exc.code,
            ) from exc
        raise
    if prefix:
        validate_repository(prefix)
        names = [n for n in names if n == prefix or n.startswith(prefix + "/")]
    return names

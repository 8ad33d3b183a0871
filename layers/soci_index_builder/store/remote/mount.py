"""Cross-repository blob mounts: the :class:`~..base.BlobMounter` side of a remote repository.

``POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>`` (only ``mount`` and ``from``):
201 means mounted; a 202 opens an upload session instead (the registry, or ECR without the
BLOB_MOUNTING account setting, does not mount), which ``uploads.mount`` cancels so the caller
can copy the blob. Only repositories of the same registry host are siblings, so credentials
never travel to another host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ...errors import InvalidReferenceError
from ...oci.reference import validate_repository

if TYPE_CHECKING:
    from ..base import Repository
    from .client import RegistryClient


class Mounting:
    """Mixed into ``RemoteRepository``: siblings on the same host and mounts from them."""

    client: RegistryClient
    path: str

    def sibling(self, name: str) -> Repository | None:
        prefix = f"{self.client.host}/"
        if not name.startswith(prefix):
            return None
        try:
            return self.client.repository(validate_repository(name[len(prefix) :]))
        except InvalidReferenceError:
            return None

    def mount_from(self, digest: str, sibling: Repository) -> bool:
        from .repository import RemoteRepository

        if not isinstance(sibling, RemoteRepository) or sibling.client is not self.client:
            return False
        return cast("RemoteRepository", self).mount_blob(digest, sibling.path)

"""Listing any OCI registry through its own API: ``/v2/_catalog``, tags/list, HEAD per tag.

The distribution API has no push or pull times and no way to list untagged manifests, so the
records carry tags, digests and media types only (docs/fleet.md section 4). A registry without
a catalog (ECR, many hosted ones) can still be listed one named repository at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import InvalidReferenceError, RegistryError
from ..oci.reference import validate_repository, validate_tag
from ..store.remote.catalog import list_repositories
from ..store.remote.client import RegistryClient
from .model import ImageRecord


class RegistryLister:
    """The :class:`~.model.Lister` of a plain registry; ``prefix`` narrows the catalog."""

    lists_untagged = False
    records_pulls = False

    def __init__(self, client: RegistryClient, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        #: Names the catalog listed that are not valid repository names (reported, skipped).
        self.invalid: list[str] = []

    def repositories(self) -> Iterator[str]:
        try:
            names = list_repositories(self.client, self.prefix)
        except RegistryError:
            if not self.prefix:
                raise
            names = [self.prefix]  # no catalog: the prefix names one repository
        for name in sorted(names):
            try:
                yield validate_repository(name)
            except InvalidReferenceError:
                self.invalid.append(name)

    def images(self, repository: str) -> list[ImageRecord]:
        """One record per digest, tags grouped; a tag that is not a valid name is skipped."""
        repo = self.client.repository(repository)
        by_digest: dict[str, tuple[str, list[str]]] = {}
        for tag in sorted(repo.list_tags()):
            try:
                info = repo.resolve(validate_tag(tag))
            except InvalidReferenceError:
                self.invalid.append(f"{repository}:{tag[:200]}")
                continue
            if info is None:  # deleted between the listing and now
                continue
            by_digest.setdefault(info.digest, (info.media_type, []))[1].append(tag)
        return [
            ImageRecord(repository, digest, tuple(tags), manifest_media_type=media_type)
            for digest, (media_type, tags) in by_digest.items()
        ]

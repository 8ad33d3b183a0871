"""What a fleet listing says about one manifest, whichever lister produced it (docs/fleet.md).

A registry's own API gives tags and digests only; ECR's control plane adds media types, push and
pull times and the archive status. Absent facts are None, and every decision treats None as
"unknown", never as "old" or "unused".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

#: ECR ``imageStatus`` of an image that can be pulled; archived ones cannot (404).
ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class ImageRecord:
    """One manifest of a repository and the tags pointing at it (none: untagged)."""

    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    manifest_media_type: str | None = None
    artifact_media_type: str | None = None
    pushed_at: datetime | None = None
    last_pulled: datetime | None = None
    status: str = ACTIVE
    #: The manifest this one refers to (OCI ``subject``; ECR ``subjectManifestDigest``).
    subject: str | None = None


class Lister(Protocol):
    """Where the fleet's inventory comes from: ``/v2/_catalog`` + tags, or ECR Describe*."""

    #: True when the listing includes untagged manifests (ECR) and not only tagged ones.
    lists_untagged: bool
    #: True when reading a manifest counts as a pull (ECR's ``lastRecordedPullTime``).
    records_pulls: bool

    def repositories(self) -> Iterator[str]:
        """Repository names, in a stable order (a continuation resumes after a name)."""
        ...

    def images(self, repository: str) -> list[ImageRecord]:
        """Every manifest of ``repository`` the lister can see."""
        ...

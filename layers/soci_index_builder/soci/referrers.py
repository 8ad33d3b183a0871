"""v1 discovery (section 5.6-5.7): make each SOCI index findable from its image manifest.

Registries with the OCI referrers API list an index by its ``subject`` as soon as it is
pushed. Elsewhere (and in OCI layouts) the referrers tag schema applies: an image index
tagged ``sha256-<hex>`` of the subject lists the referrers; it is created or updated here.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ManifestError
from ..oci import mediatypes
from ..oci.model import Descriptor, ImageIndex
from ..store.base import ReferrersLister, Repository
from .constants import SOCI_INDEX_V1_ARTIFACT_TYPE
from .convert import add_referrer, fallback_tag, referrer_descriptor


def publish_referrers(repo: Repository, pushed: Mapping[str, Descriptor]) -> None:
    """``pushed`` maps a subject manifest digest to its pushed v1 SOCI index descriptor."""
    for subject, index in pushed.items():
        if _listed(repo, subject, index.digest):
            continue
        referrer = referrer_descriptor(
            index.digest, index.size, SOCI_INDEX_V1_ARTIFACT_TYPE, index.annotations or {}
        )
        tag = fallback_tag(subject)
        updated = add_referrer(_fallback_index(repo, tag), referrer)
        repo.push_manifest(updated.to_json(), mediatypes.OCI_IMAGE_INDEX, tag)


def _listed(repo: Repository, subject: str, digest: str) -> bool:
    if not isinstance(repo, ReferrersLister):
        return False
    found = repo.list_referrers(subject, SOCI_INDEX_V1_ARTIFACT_TYPE)
    return any(d.get("digest") == digest for d in found)


def _fallback_index(repo: Repository, tag: str) -> ImageIndex | None:
    if repo.resolve(tag) is None:
        return None
    try:
        return ImageIndex.from_json(repo.fetch_manifest(tag).raw)
    except ManifestError:
        return None  # not a referrers index: replaced by one

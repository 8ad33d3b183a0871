"""v1 discovery (section 5.6-5.7): make each SOCI index findable from its image manifest.

Registries with the OCI referrers API list an index by its ``subject`` as soon as it is
pushed. Elsewhere (and in OCI layouts) the referrers tag schema applies: an image index
tagged ``sha256-<hex>`` of the subject lists the referrers; it is created or updated here.
The same listing tells a re-run that every image already has its index (up to date).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ManifestError, NotFoundError
from ..oci import mediatypes
from ..oci.model import Descriptor, ImageIndex
from ..store.base import ReferrersLister, Repository
from .constants import SOCI_INDEX_V1_ARTIFACT_TYPE
from .convert import add_referrer, fallback_tag, referrer_descriptor
from .model import IndexSettings
from .plan import LayerAction, LayerPlan
from .source import SourceImage
from .uptodate import ExistingOutput, matching_index


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


def find_published(
    repo: Repository, source: SourceImage, plans: list[LayerPlan], settings: IndexSettings
) -> ExistingOutput | None:
    """v1 idempotency: each selected image already has a referrer built with ``settings``.

    The result's ``digest`` is empty: v1 has no output tag, only the indexes by platform.
    """
    indexed = {p.digest for p in plans if p.action is not LayerAction.SKIP}
    found = ExistingOutput("", {}, {})
    for img in source.selected:
        expected = [layer.digest for layer in img.manifest.layers if layer.digest in indexed]
        if not expected:
            continue
        for digest in referrer_digests(repo, img.descriptor.digest):
            try:
                index = matching_index(repo, digest, expected, settings)
            except (ManifestError, NotFoundError):
                index = None  # listed, but deleted since or not a SOCI index: keep looking
            if index is not None:
                found.indexes[img.platform] = digest
                found.ztocs.update(zip(expected, index.ztocs, strict=True))
                break
        else:
            return None
    return found if found.indexes else None


def referrer_digests(repo: Repository, subject: str) -> list[str]:
    """Digests of the v1 SOCI indexes listed for ``subject`` (API or fallback tag)."""
    if isinstance(repo, ReferrersLister):
        found = repo.list_referrers(subject, SOCI_INDEX_V1_ARTIFACT_TYPE)
        return [str(d.get("digest")) for d in found]
    fallback = _fallback_index(repo, fallback_tag(subject))
    manifests = fallback.manifests if fallback is not None else ()
    return [d.digest for d in manifests if d.artifact_type == SOCI_INDEX_V1_ARTIFACT_TYPE]


def _listed(repo: Repository, subject: str, digest: str) -> bool:
    return isinstance(repo, ReferrersLister) and digest in referrer_digests(repo, subject)


def _fallback_index(repo: Repository, tag: str) -> ImageIndex | None:
    if repo.resolve(tag) is None:
        return None
    try:
        return ImageIndex.from_json(repo.fetch_manifest(tag).raw)
    except ManifestError:
        return None  # not a referrers index: replaced by one

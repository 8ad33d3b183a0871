"""The catalogue that needs no configuration: the previous output in the same repository.

v2: the SOCI indexes listed by the index the output tag ``<tag><suffix>`` points at now (the
output of the tag's previous push). v1 binds indexes to their subject, and a new push of a tag
is a new subject, so only the referrers of the *current* subjects can be found here (a re-run
or a retry after a failure); across pushes v1 relies on the configured catalogue, which
records every built zTOC with its repository (docs/reuse.md).

Reading the previous output must never fail a build: anything unreadable is simply not a
candidate, and every candidate is verified before use anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from ...errors import SociError
from ...oci import mediatypes
from ...oci.model import Descriptor, ImageIndex
from ...store.base import ReferrersLister, Repository
from ..constants import SOCI_INDEX_V1_ARTIFACT_TYPE
from ..convert import fallback_tag, is_soci_descriptor
from ..index import SociIndex, parse_soci_index
from . import CatalogueEntry, MemoryCatalogue, ZtocKey

log = logging.getLogger(__name__)


def previous_output(
    repo: Repository, output_tag: str | None, subjects: Iterable[str]
) -> MemoryCatalogue:
    """The zTOCs of the previous output: ``output_tag``'s (v2) or the subjects' referrers (v1)."""
    try:
        digests = list(_v2_indexes(repo, output_tag) if output_tag else _v1_indexes(repo, subjects))
        return MemoryCatalogue(_entries(repo, digests))
    except SociError as exc:
        log.warning("previous output of %s not readable (%s): building instead", repo.name, exc)
        return MemoryCatalogue()


def _v2_indexes(repo: Repository, output_tag: str) -> Iterator[str]:
    info = repo.resolve(output_tag)
    if info is None or not mediatypes.is_index(info.media_type):
        return  # never built, or "nothing to index" tagged the plain image
    index = ImageIndex.from_json(repo.fetch_manifest(info.digest).raw)
    yield from (d.digest for d in index.manifests if is_soci_descriptor(d))


def _v1_indexes(repo: Repository, subjects: Iterable[str]) -> Iterator[str]:
    for subject in subjects:
        if isinstance(repo, ReferrersLister):
            found = repo.list_referrers(subject, SOCI_INDEX_V1_ARTIFACT_TYPE)
            yield from (str(d["digest"]) for d in found if isinstance(d.get("digest"), str))
        elif repo.resolve(fallback_tag(subject)) is not None:
            index = ImageIndex.from_json(repo.fetch_manifest(fallback_tag(subject)).raw)
            yield from (d.digest for d in index.manifests if _is_v1(d))


def _is_v1(desc: Descriptor) -> bool:
    return desc.artifact_type == SOCI_INDEX_V1_ARTIFACT_TYPE


def _entries(repo: Repository, digests: list[str]) -> Iterator[tuple[ZtocKey, CatalogueEntry]]:
    for digest in dict.fromkeys(digests):
        yield from _index_entries(repo.name, parse_soci_index(repo.fetch_manifest(digest).raw))


def _index_entries(where: str, index: SociIndex) -> Iterator[tuple[ZtocKey, CatalogueEntry]]:
    for ztoc in index.ztocs:
        compression = mediatypes.layer_compression(ztoc.layer_media_type)
        if ztoc.span_size is None or ztoc.disable_xattrs or compression is None:
            continue  # not something this builder would have made: no key to match
        key = ZtocKey(ztoc.layer_digest, ztoc.span_size, index.build_tool_identifier, compression)
        yield key, CatalogueEntry(ztoc.digest, ztoc.size, where)

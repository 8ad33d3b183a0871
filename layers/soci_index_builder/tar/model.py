"""A tar entry as soci records it in a zTOC (soci-format.md section 3.3).

The scanner produces these and the zTOC stores them; defined here, below ``ztoc``, so the
engine's packages form no import cycle. Strings are Python ``str``; bytes that are not UTF-8
(tar names are raw bytes in Go) are kept losslessly as surrogate escapes.
"""

from __future__ import annotations

from typing import NamedTuple


class FileMetadata(NamedTuple):
    """One TOC entry: Go ``tar.Header`` values exactly as soci stores them (section 3.3)."""

    name: str
    type: str
    uncompressed_offset: int
    uncompressed_size: int
    linkname: str
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mod_time: str
    devmajor: int
    devminor: int
    #: Every PAX record of the entry (soci's misnamed ``xattrs`` vector), in tar order; the
    #: encoder writes them sorted by key bytes (section 2.3), so decoded zTOCs list them sorted.
    pax_records: tuple[tuple[str, str], ...] = ()

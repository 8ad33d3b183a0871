"""zTOC FlatBuffers codec (soci-format.md sections 2.1-2.4), byte-identical to soci's Go builder.

A facade: the encoder lives in :mod:`.encode`, the decoder in :mod:`.decode` and the shared
FlatBuffers writer/reader primitives in :mod:`._flatbuffers`.
"""

from __future__ import annotations

from soci_index_builder.ztoc.decode import ZtocFormatError, decode_ztoc
from soci_index_builder.ztoc.encode import encode_ztoc

__all__ = ["ZtocFormatError", "decode_ztoc", "encode_ztoc"]

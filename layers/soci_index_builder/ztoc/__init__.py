"""zTOC: model, one-pass builder, FlatBuffers codec, random-access extraction, verification."""

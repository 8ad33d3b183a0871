"""gzip layers: checkpoints (zinfo) through zlib inflate with Z_BLOCK, and resuming from them."""

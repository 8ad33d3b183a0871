"""tar: a Go archive/tar-compatible header scanner producing zTOC entries."""

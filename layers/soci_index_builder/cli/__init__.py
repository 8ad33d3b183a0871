"""The soci-index-builder command line."""

"""flatc-generated readers/builders for ztoc.fbs and zinfo.fbs (do not edit; see README.md)."""

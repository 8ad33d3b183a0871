"""flatc-generated readers/builders for ztoc.fbs and zinfo.fbs (test oracle; see README.md)."""

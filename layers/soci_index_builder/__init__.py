"""soci-index-builder: SOCI zTOCs and indexes in one streaming pass, byte-identical to soci.

The package is layered (see README "Architecture"): ``gzip``, ``tar`` and ``ztoc`` form the
pure streaming engine; ``oci`` holds the OCI data model; ``store`` the image store backends
(OCI layout directory, OCI distribution registry); ``soci`` builds whole SOCI indexes on top;
``cli`` is the command-line adapter. Nothing here imports AWS code except the optional
``store.remote.ecr`` adapter. Importing the package itself is cheap (no submodule is loaded).
"""

__version__ = "0.1.0"

"""Fleet convergence: list a registry, decide what needs a SOCI index and what output is orphaned.

Shared by the reconciler Lambda and ``soci-index-builder backfill`` (docs/fleet.md).
"""

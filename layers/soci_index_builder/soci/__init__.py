"""Whole-image SOCI indexes: plan, build zTOCs in parallel, v2/v1 packaging, push in order."""

"""The include/exclude rules live in the engine package (shared with the fleet reconciler and
``backfill``); re-exported here so the indexer's imports stay as they were."""

from soci_index_builder.filters import NO_RULES, Decision, Filters, Rule, parse_rule, parse_rules

__all__ = ["NO_RULES", "Decision", "Filters", "Rule", "parse_rule", "parse_rules"]

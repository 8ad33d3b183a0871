"""Tests of the indexer Lambda (functions/indexer)."""

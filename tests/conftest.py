"""Shared pytest configuration: fixtures live in tests/fixtures/ and are registered here."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures.registry", "tests.fixtures.images", "tests.fixtures.ecr"]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

"""The Lambda fixtures (moto, SSM parameters) are shared with tests/functions."""

from tests.functions.conftest import aws, set_parameters  # noqa: F401

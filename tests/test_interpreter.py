"""The interpreter tuning the entry points apply (soci_index_builder/interpreter.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soci_index_builder.cli.main import main
from soci_index_builder.interpreter import SWITCH_INTERVAL, tune_for_builds


@pytest.fixture
def default_interval() -> Iterator[None]:
    """CPython's default switch interval for the test; whatever was set before, after it."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("default_interval")
def test_the_default_interval_is_lowered() -> None:
    tune_for_builds()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert SWITCH_INTERVAL < 0.005


@pytest.mark.usefixtures("default_interval")
def test_a_shorter_interval_set_by_the_process_owner_is_kept() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL / 4)
    tune_for_builds()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL / 4)


@pytest.mark.usefixtures("default_interval")
def test_the_command_tunes_its_interpreter(tmp_path: Path) -> None:
    assert main(["ztoc", "info", str(tmp_path / "missing.ztoc")]) != 0
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)

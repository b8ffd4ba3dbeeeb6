"""The core type-checks: mypy over recommender/ with the settings of pyproject.toml ([tool.mypy])."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_mypy_passes_on_the_core():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "recommender"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr

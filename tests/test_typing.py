"""The core, its adapters and the training code type-check: mypy over the files of pyproject.toml's [tool.mypy]
(recommender/, api/, cli/, web/, training/) with its settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_mypy_passes_on_the_core_and_the_adapters():
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr

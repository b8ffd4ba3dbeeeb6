"""The core's Settings are plain values; the environment is read by the adapters alone (cli/environment.py)."""

from __future__ import annotations

import ast

import pytest

from cli.environment import settings_from_environment
from recommender.settings import Settings
from tests.conftest import REPO


def test_the_core_settings_ignore_the_environment_and_the_adapter_reads_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CORRIDOR_REQUEST_THREADS", "3")
    assert Settings().state_dir != tmp_path and Settings().request_threads == 2
    read = settings_from_environment()
    assert isinstance(read, Settings)
    assert (read.state_dir, read.request_threads) == (tmp_path, 3)
    assert read.database_url == f"sqlite:///{tmp_path / 'corridor.db'}"
    assert "request_threads" in read.model_fields_set  # a server worker keeps it (api/workers.py)
    assert "request_threads" not in Settings(state_dir=tmp_path).model_fields_set


def test_ray_and_hugging_face_variables_are_read_as_their_tools_read_them(monkeypatch):
    for name in ("CORRIDOR_RAY_ADDRESS", "RAY_ADDRESS", "CORRIDOR_HUB_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    assert settings_from_environment().ray_address is None
    monkeypatch.setenv("RAY_ADDRESS", "ray://cluster:10001")
    assert settings_from_environment().ray_address == "ray://cluster:10001"
    monkeypatch.setenv("CORRIDOR_RAY_ADDRESS", "ray://ours:10001")
    assert settings_from_environment().ray_address == "ray://ours:10001"
    for value, offline in (("1", True), ("ON", True), ("yes", True), ("true", True), ("", False), ("0", False),
                           ("no", False)):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert settings_from_environment().hub_offline is offline, value
        assert settings_from_environment().workspace_paths().encoder_offline is offline


def test_a_bad_variable_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("CORRIDOR_REQUEST_THREADS", "many")
    with pytest.raises(ValueError, match="request_threads"):
        settings_from_environment()


def _reads_environment(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            found.append(f"os.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pydantic_settings"):
            found.append(f"pydantic_settings (line {node.lineno})")
        if isinstance(node, ast.Import) and any(a.name.startswith("pydantic_settings") for a in node.names):
            found.append(f"pydantic_settings (line {node.lineno})")
    return found


def test_no_module_of_the_core_reads_the_environment():
    offenders = {str(path.relative_to(REPO)): found for path in sorted((REPO / "recommender").rglob("*.py"))
                 if (found := _reads_environment(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_environment_check_sees_a_read():
    assert _reads_environment("import os\nx = os.environ.get('A')\n") == ["os.environ (line 2)"]
    assert _reads_environment("from pydantic_settings import BaseSettings\n") == ["pydantic_settings (line 1)"]

"""Faults a real deployment meets: a writer killed mid-write, temporary files of dead writers, a half-done
directory swap. Nothing a killed process started may be lost or left behind for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recommender.atomic import recover_directory, remove_stale_temporaries, replaced_directory
from recommender.store import Store

REPO = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_dead_writers_temporaries_are_removed_and_a_live_writers_kept(tmp_path):
    target = tmp_path / "organisations.parquet"
    dead = tmp_path / f".organisations.parquet.{_dead_pid()}.abc.tmp"
    dead_folder = tmp_path / f".organisations.parquet.{_dead_pid()}.xyz"
    live = tmp_path / f".organisations.parquet.{os.getpid()}.def.tmp"
    other = tmp_path / ".something-else.1.tmp"
    for path in (dead, live, other):
        path.write_text("partial")
    dead_folder.mkdir()
    assert sorted(remove_stale_temporaries(target)) == sorted([dead, dead_folder])
    assert live.exists() and other.exists() and not dead.exists() and not dead_folder.exists()


def test_a_swap_killed_between_its_two_renames_is_undone(tmp_path):
    target = tmp_path / "ranker"
    with replaced_directory(target) as staging:
        (staging / "head.txt").write_text("v1")
    target.rename(tmp_path / ".ranker.old")  # killed after moving the old version aside, before the new arrived
    recover_directory(target)
    assert (target / "head.txt").read_text() == "v1" and not (tmp_path / ".ranker.old").exists()


@pytest.mark.slow
def test_kill_9_during_data_add_stores_all_or_nothing_and_a_rerun_adds_everything(tmp_path):
    rows = 20_000
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("id,name,country,description\n" + "".join(
        f"kr-kill-{i},Kill Test {i},KR,Naval sonar and radar sensing systems {i}.\n" for i in range(rows)))
    env = {**os.environ, "CORRIDOR_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO),
           "CORRIDOR_DATABASE_URL": ""}
    command = [sys.executable, "-c", "from cli import main; main()", "data", "add", "--file", str(orgs)]
    database = tmp_path / "state" / "corridor.db"
    counts = []
    for delay in (0.5, 1.5, 3.0):
        database.unlink(missing_ok=True)
        writer = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not database.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        store = Store(f"sqlite:///{database}")
        try:
            counts.append(len(store.organisations()))
        finally:
            store.close()
    assert set(counts) <= {0, rows}, counts  # one transaction: never a part of the file
    rerun = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    store = Store(f"sqlite:///{database}")
    try:
        assert len(store.organisations()) == rows
    finally:
        store.close()
    assert not [p for p in (tmp_path / "state").rglob("*.tmp")]

"""Faults a real deployment meets: a writer killed mid-write, temporary files of dead writers, a half-done
directory swap, a state folder that cannot be written. Nothing a killed process started may be lost or left
behind for good, and nothing a failed write touched may change what is served."""

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


def test_a_model_promotion_killed_between_its_renames_still_serves_the_previous_model(tmp_path):
    from tests.api_support import synthetic_corridor, train_model

    model = train_model(tmp_path / "ranker")
    model.rename(tmp_path / ".ranker.old")  # the promotion moved the old version aside and died
    corridor = synthetic_corridor(model, f"sqlite:///{tmp_path / 'corridor.db'}")
    assert corridor.readiness()["model_version"] == "synthetic-1"
    assert not model.exists()  # a reader never moves files; the next promotion finishes the recovery


def test_an_unwritable_vector_cache_keeps_vectors_in_memory_and_says_so(tmp_path, caplog):
    import numpy as np

    from recommender.profiles.encoder import VectorCache

    (tmp_path / "a-file").write_text("not a folder")
    cache = VectorCache(tmp_path / "a-file" / "vectors")  # cannot be created, even by root
    vector = np.ones((1, 4), dtype=np.float32) / 2
    cache.add(["k1"], vector)
    cache.add(["k2"], vector)
    assert np.allclose(cache.get("k1"), vector[0]) and cache.get("k2") is not None
    assert cache.write_errors == 2
    assert sum("not writable" in r.message for r in caplog.records) == 1  # one warning, not one per write


def test_a_read_only_database_refuses_writes_with_503_and_the_served_index_is_unchanged(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from recommender.settings import Settings
    from tests.api_support import synthetic_corridor

    settings = Settings(state_dir=tmp_path / "state", model_poll_seconds=0)
    corridor = synthetic_corridor(None, settings.database_url)
    _, secret = corridor.store.create_key("write", "tests")
    corridor.store.close()
    database = tmp_path / "state" / "corridor.db"
    corridor.store = Store(f"sqlite:///file:{database}?mode=ro&uri=true")  # the state folder went read-only
    body = {"id": "kr-ro", "name": "Read Only Sonar", "country": "KR", "description": "Naval sonar systems."}
    with TestClient(create_app(settings, corridor), raise_server_exceptions=False) as client:
        headers = {"X-API-Key": secret}
        refused = client.post("/v1/organisations", json=body, headers=headers)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5", refused.text
        assert refused.json()["error"]["code"] == "database_unavailable"
        assert "readonly" in refused.json()["error"]["message"].replace("-", "").replace(" ", "")
        assert client.get("/v1/organisations/kr-ro", headers=headers).status_code == 404  # not served
        assert client.get("/v1/instruments", headers=headers).status_code == 200  # reads go on
    assert "kr-ro" not in corridor.serving.index.row_of


KILL_BEFORE_COMMIT = """
import os, signal, sys
from sqlalchemy import text
from sqlalchemy.orm.session import SessionTransaction

commit = SessionTransaction.commit

def die(self, *args, **kwargs):
    if self.session._flushing or self._parent is not None or not self.session.new:
        return commit(self, *args, **kwargs)  # not the transaction that writes the organisations
    self.session.flush()  # every row is written into the open transaction...
    written = self.session.execute(text("SELECT count(*) FROM user_organisations")).scalar()
    print("rows written", written, file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # ...and the writer dies before it commits

SessionTransaction.commit = die
from cli import main
main()
"""


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
    # deterministic: killed inside the transaction, after all its rows were written and before the commit
    killed = subprocess.run([sys.executable, "-c", KILL_BEFORE_COMMIT, *command[3:]], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert f"rows written {rows}" in killed.stderr  # seen inside the transaction, never committed
    with Store(f"sqlite:///{database}") as store:
        assert store.organisations() == [] and store.changes() == []
    counts = []
    for delay in (0.5, 2.0):  # and at moments the test does not choose
        database.unlink(missing_ok=True)
        writer = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not database.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        with Store(f"sqlite:///{database}") as store:
            counts.append(len(store.organisations()))
    assert set(counts) <= {0, rows}, counts  # one transaction: never a part of the file
    rerun = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with Store(f"sqlite:///{database}") as store:
        assert len(store.organisations()) == rows
    assert not [p for p in (tmp_path / "state").rglob("*.tmp")]


def test_processes_creating_a_new_database_together_all_open_it(tmp_path, monkeypatch):
    """A server's workers start together on a new database: another one creates the tables between this one's
    check and its CREATE (simulated here), and this one must still open the store."""
    from recommender import store as store_module

    url = f"sqlite:///{tmp_path / 'new.db'}"
    real_create_all = store_module.Base.metadata.create_all
    raced = []

    def create_all_losing_the_race(engine, **kwargs):
        if not raced:
            raced.append(True)
            Store(url).engine.dispose()  # the other worker wins: every table exists now
            return real_create_all(engine, checkfirst=False)  # this one's CREATE was already under way
        return real_create_all(engine, **kwargs)

    monkeypatch.setattr(store_module.Base.metadata, "create_all", create_all_losing_the_race)
    store = Store(url)
    assert raced and store.count("keys") == 0

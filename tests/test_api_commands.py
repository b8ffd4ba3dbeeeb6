"""`corridor keys ...` / `corridor feedback export` (cli/server.py), through typer's test runner."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from cli.commands import app as cli
from recommender.store import Store, hash_secret

runner = CliRunner()


def test_keys_create_list_revoke(tmp_path):
    env = {"CORRIDOR_STATE_DIR": str(tmp_path), "CORRIDOR_DATABASE_URL": ""}
    created = runner.invoke(cli, ["keys", "create", "--scope", "write", "--name", "ci"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("cor_") and "shown once" in created.stderr
    store = Store(f"sqlite:///{tmp_path / 'corridor.db'}")
    key = store.find_key(secret)
    assert key.scope == "write" and key.name == "ci"
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("select key_sha256 from api_keys").scalar_one()
    assert stored == hash_secret(secret)
    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert listed.exit_code == 0 and "write\tactive" in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", str(key.id)], env=env).exit_code == 0
    assert store.find_key(secret).revoked
    assert runner.invoke(cli, ["keys", "revoke", "999"], env=env).exit_code == 2
    assert runner.invoke(cli, ["keys", "create", "--scope", "root"], env=env).exit_code == 2
    store.close()


def test_feedback_export(tmp_path):
    env = {"CORRIDOR_STATE_DIR": str(tmp_path), "CORRIDOR_DATABASE_URL": ""}
    store = Store(f"sqlite:///{tmp_path / 'corridor.db'}")
    store.add_feedback(query_org_id="a", query_text_sha256=None, candidate_org_id="b", verdict="accepted",
                       comment=None, model_version="m1", api_key_id=1)
    store.close()
    out = runner.invoke(cli, ["feedback", "export", "--out", str(tmp_path / "fb.parquet")], env=env)
    assert out.exit_code == 0, out.output
    frame = pd.read_parquet(tmp_path / "fb.parquet")
    assert frame[["query_org_id", "candidate_org_id", "verdict", "model_version"]].values.tolist() == [
        ["a", "b", "accepted", "m1"]
    ]
    assert runner.invoke(cli, ["feedback", "export", "--out", str(tmp_path / "fb.txt")], env=env).exit_code == 2


def test_a_locked_or_unusable_database_is_one_line_and_exit_2(tmp_path):
    import sqlite3

    env = {"CORRIDOR_STATE_DIR": str(tmp_path / "state"), "CORRIDOR_DATABASE_URL": "",
           "CORRIDOR_DATABASE_BUSY_SECONDS": "0.2"}
    assert runner.invoke(cli, ["keys", "create", "--scope", "read"], env=env).exit_code == 0
    holder = sqlite3.connect(tmp_path / "state" / "corridor.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        result = runner.invoke(cli, ["keys", "create", "--scope", "read"], env=env)
    finally:
        holder.close()
    assert result.exit_code == 2 and "database is unavailable" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "a-file").write_text("not a folder")  # a state directory that cannot be created
    result = runner.invoke(cli, ["keys", "list"], env={**env, "CORRIDOR_STATE_DIR": str(tmp_path / "a-file" / "s")})
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot create the database folder")

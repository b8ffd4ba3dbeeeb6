"""The API's storage on PostgreSQL as well as SQLite: the same portable SQLAlchemy schema on both.

The PostgreSQL run starts a throw-away cluster with the local `initdb` / `pg_ctl` (Debian's postgresql
package) on a free port; it is skipped when those binaries or the psycopg driver are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from recommender.settings import Settings
from recommender.store import Store
from tests.api_support import synthetic_corridor, train_model
from tests.server_support import free_port


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    pytest.importorskip("psycopg")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="corridor-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        try:
            shutil.chown(root, "postgres")
        except (LookupError, PermissionError):
            pytest.skip("running as root and there is no postgres user")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "corridor", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "30",
                        "-o", f"-p {port} -k {root} -h 127.0.0.1", "start"], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a local PostgreSQL: {exc.stderr.decode(errors='replace')[-300:]}")
    try:
        yield f"postgresql+psycopg://corridor@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'corridor.db'}"
    return request.getfixturevalue("postgres_url")


def _clean(store: Store) -> None:
    from recommender.store import Base

    Base.metadata.drop_all(store.engine)
    Base.metadata.create_all(store.engine)


def test_store_round_trips(database_url):
    store = Store(database_url)
    _clean(store)
    try:
        key, secret = store.create_key("write", "ci")
        assert store.find_key(secret).id == key.id and store.find_key("cor_nope") is None
        assert store.revoke_key(key.id) and store.find_key(secret).revoked
        org = {"id": "x-1", "name": "X", "short_name": None, "country": "KR", "region": "KR", "activity_type": "PRC",
               "sme": True, "control_country": None, "size_class": "sme", "city": None, "description": "drones",
               "technology_areas": "unmanned", "sources": "user"}
        assert store.upsert_organisation(org) is True
        assert store.upsert_organisation({**org, "description": "radar"}) is False
        assert store.organisations() == [{**org, "description": "radar"}]
        fid, created = store.add_feedback(query_org_id="x-1", query_text_sha256=None, candidate_org_id="y",
                                          verdict="accepted", comment="é ✓", model_version="m1", api_key_id=key.id)
        rows = store.feedback()
        assert rows[0]["id"] == fid and rows[0]["comment"] == "é ✓" and rows[0]["created_at"] is not None
        assert store.count("keys") == 1 and store.count("organisations") == 1
    finally:
        store.close()


def test_api_writes_through_postgres(postgres_url, tmp_path):
    store = Store(postgres_url)
    _clean(store)
    store.close()
    corridor = synthetic_corridor(train_model(tmp_path / "ranker"), postgres_url)
    app = create_app(Settings(state_dir=tmp_path / "state", database_url=postgres_url, model_poll_seconds=0), corridor)
    with TestClient(app) as client:
        _, secret = app.state.corridor.store.create_key("write")
        headers = {"X-API-Key": secret}
        assert client.get("/ready").json()["database"] == "postgresql"
        body = {"id": "pg-org", "name": "PG Org", "country": "DE", "description": "Radar sonar sensing."}
        assert client.post("/v1/organisations", json=body, headers=headers).status_code == 201
        assert client.post("/v1/feedback", json={"query_org_id": "pg-org", "candidate_org_id": "radar-eu-0",
                                                 "verdict": "contacted"}, headers=headers).status_code == 201
        assert client.get("/v1/organisations/pg-org/partners", headers=headers).status_code == 200
        assert [o["id"] for o in app.state.corridor.store.organisations()] == ["pg-org"]
        assert client.get("/v1/instruments", headers={"X-API-Key": "cor_unknown"}).status_code == 401

"""A real server: `python -m cli serve` (what `corridor serve` runs) in a subprocess on a free port, over a
small data directory with the real sentence-transformers encoder and a model trained for it; keys made
with `python -m cli keys create`. Checks start-up, HTTP, embedding on write, hot model swap by polling,
and that organisations added through the API survive a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from recommender.settings import Settings
from recommender.workspace import Workspace
from tests.api_support import copy_model, train_model, write_data_dir
from tests.server_support import REPO, Server, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    data, state = write_data_dir(root / "data"), root / "state"
    env = {
        **os.environ,
        "CORRIDOR_DATA_DIR": str(data),
        "CORRIDOR_STATE_DIR": str(state),
        "CORRIDOR_MODEL_POLL_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    env.pop("CORRIDOR_RANKER_DIR", None)
    env.pop("CORRIDOR_DATABASE_URL", None)
    settings = Settings(data_dir=data, state_dir=state)
    ws = Workspace(settings.workspace_paths())  # the real encoder; vectors cached in the state dir
    expect = {**ws.model_expectations(), "encoder_model": ws.encoder.model_name}  # a path, as `corridor train` writes
    train_model(settings.model_dir, "real-encoder-1", expect, ws.ranking_index(cutoff=2021))
    return env, settings


def test_real_server_end_to_end(deployment):
    env, settings = deployment
    secret = run_cli(env, "keys", "create", "--scope", "write", "--name", "e2e").strip()
    reader = run_cli(env, "keys", "create", "--scope", "read").strip()
    assert secret.startswith("cor_") and "\t" in run_cli(env, "keys", "list")
    write, read = {"X-API-Key": secret}, {"X-API-Key": reader}

    server = Server(env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/health").json() == {"status": "ok"}
            assert http.get("/ready").json()["model_version"] == "real-encoder-1"
            assert http.get("/docs").status_code == 200
            info = http.get("/v1/model", headers={"X-API-Key": reader}).json()
            assert info["encoder_model"] and not any(isinstance(v, str) and v.startswith("/") for v in info.values())
            assert http.get("/v1/instruments").status_code == 401
            assert http.post("/v1/organisations", json={}, headers=read).status_code == 403
            # radar-kr-8 has worked with every European radar firm: new partners only by default...
            partners = http.get("/v1/organisations/radar-kr-8/partners", params={"region": "EU", "k": 5},
                                headers=read).json()
            assert not any(r["org_id"].startswith("radar-") for r in partners["results"])
            assert partners["left_out"]["known_partners"] == 8
            # ...and with include_known they come back first, flagged
            known = http.get("/v1/organisations/radar-kr-8/partners",
                             params={"region": "EU", "k": 5, "include_known": "true"}, headers=read).json()
            radar = [r for r in known["results"] if r["org_id"].startswith("radar-")]
            assert len(radar) >= 4 and all(r["known_partner"] for r in radar)
            match = http.post("/v1/match", json={"text": "semiconductor chip fabrication", "k": 5}, headers=read)
            assert sum(r["org_id"].startswith("chips-") for r in match.json()["results"]) >= 3
            body = {"id": "kr-e2e-sonar", "name": "E2E Sonar", "country": "KR",
                    "description": "Naval sonar and radar sensing systems.", "technology_areas": ["sensors_ew"]}
            assert http.post("/v1/organisations", json=body, headers=write).status_code == 201
            mine = http.get("/v1/organisations/kr-e2e-sonar/partners", params={"region": "EU", "k": 5},
                            headers=read).json()
            assert sum(r["org_id"].startswith("radar-") for r in mine["results"]) >= 3
            assert http.post("/v1/match", content=b"x" * 70_000, headers={**read, "Content-Type":
                                                                          "application/json"}).status_code == 413
            # a newly promoted model is picked up without a restart
            copy_model(settings.model_dir, settings.model_dir, "real-encoder-2")
            deadline = time.monotonic() + 20
            while http.get("/ready").json()["model_version"] != "real-encoder-2":
                assert time.monotonic() < deadline, "model not swapped in"
                time.sleep(0.25)
            # a corrupt promotion under the running server is refused; the served model stays, and so do answers
            good = copy_model(settings.model_dir, settings.model_dir.parent / "good-ranker")
            copy_model(settings.model_dir, settings.model_dir, "real-encoder-3")
            largest = max((p for p in settings.model_dir.iterdir() if p.name != "manifest.json"),
                          key=lambda p: p.stat().st_size)
            with open(largest, "r+b") as fh:
                fh.seek(largest.stat().st_size // 2)
                fh.write(b"corrupt")
            refused = http.post("/v1/admin/reload", headers=write)
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "model_refused"
            time.sleep(2)  # four poll intervals: the poller skips the refused manifest
            assert http.get("/ready").json()["model_version"] == "real-encoder-2"
            assert http.get("/v1/organisations/radar-kr-8/partners", params={"k": 3},
                            headers=read).json()["model_version"] == "real-encoder-2"
            copy_model(good, settings.model_dir)
    finally:
        server.stop()

    restarted = Server(env)  # organisations added through the API are in the database: they survive
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as http:
            profile = http.get("/v1/organisations/kr-e2e-sonar", headers=read).json()
            assert profile["organisation"]["name"] == "E2E Sonar"
            assert profile["priorities"][0]["priority"] == "sensors_ew"
            assert http.get("/ready").json()["model_version"] == "real-encoder-2"
    finally:
        restarted.stop()


def _corridor(env, *args, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", "from cli.commands import main; main()", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert not check or done.returncode == 0, done.stdout + done.stderr
    return done


def _orgs_csv(path: Path, prefix: str, n: int) -> Path:
    rows = [f"{prefix}-{i},{prefix.upper()} Sonar {i},KR,Naval sonar and radar sensing systems number {i}.,PRC"
            for i in range(n)]
    path.write_text("id,name,country,description,activity_type\n" + "\n".join(rows) + "\n")
    return path


def test_cli_and_api_writers_share_one_store_and_lose_nothing(deployment, tmp_path):
    env, settings = deployment
    writer = {"X-API-Key": run_cli(env, "keys", "create", "--scope", "write").strip()}
    server = Server(env)
    try:
        files = [_orgs_csv(tmp_path / f"cli{w}.csv", f"kr-cli{w}", 150) for w in range(2)]
        cli_writers = [
            subprocess.Popen([sys.executable, "-c", "from cli.commands import main; main()", "data", "add",
                              "--file", str(f)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
            for f in files
        ]

        def api_writer(w: int) -> list[int]:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                return [
                    http.post("/v1/organisations", headers=writer, json={
                        "id": f"kr-api{w}-{i}", "name": f"API Sonar {w}-{i}", "country": "KR",
                        "description": f"Naval sonar and radar sensing systems, unit {i}."}).status_code
                    for i in range(25)
                ]

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            statuses = [s for codes in pool.map(api_writer, range(2)) for s in codes]
        outputs = [p.communicate(timeout=300)[0] for p in cli_writers]
        assert all(p.returncode == 0 for p in cli_writers), outputs
        assert statuses == [201] * 50
        assert all("added 150," in out for out in outputs), outputs

        from recommender.store import Store

        store = Store(settings.database_url)
        try:
            ids = {row["id"] for row in store.organisations()}
        finally:
            store.close()
        for prefix, n in (("kr-cli0", 150), ("kr-cli1", 150), ("kr-api0", 25), ("kr-api1", 25)):
            assert {f"{prefix}-{i}" for i in range(n)} <= ids, prefix  # every writer's every row

        # the running server answers for an organisation the CLI added, within the poll interval
        read = {"X-API-Key": run_cli(env, "keys", "create", "--scope", "read").strip()}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            deadline = time.monotonic() + 60
            while http.get("/v1/organisations/kr-cli1-149", headers=read).status_code != 200:
                assert time.monotonic() < deadline, "CLI addition not seen by the server"
                time.sleep(0.25)
            partners = http.get("/v1/organisations/kr-cli1-149/partners", params={"region": "EU", "k": 5},
                                headers=read).json()
            assert sum(r["org_id"].startswith("radar-") for r in partners["results"]) >= 3

            # a catalogue organisation overlaid and reverted on the command line: the server follows both
            def name_of(org_id: str) -> str:
                return http.get(f"/v1/organisations/{org_id}", headers=read).json()["organisation"]["name"]

            original = name_of("radar-eu-3")
            overlay = tmp_path / "overlay.csv"
            overlay.write_text("id,name,country,description\nradar-eu-3,Overlay Radar,PL,Radar sensing.\n")
            _corridor(env, "data", "add", "--file", str(overlay))
            for expected in ("Overlay Radar", original):
                deadline = time.monotonic() + 30
                while name_of("radar-eu-3") != expected:
                    assert time.monotonic() < deadline, f"server still shows {name_of('radar-eu-3')!r}"
                    time.sleep(0.25)
                if expected == "Overlay Radar":
                    _corridor(env, "data", "revert", "radar-eu-3")
            trail = http.get("/v1/organisations/radar-eu-3/changes", headers=read).json()["changes"]
            assert [(c["action"], c["actor"]) for c in trail] == [("overlaid", "cli"), ("reverted", "cli")]
    finally:
        server.stop()
    # and the CLI ranks for an organisation added through the API
    done = _corridor(env, "recommend", "--org", "kr-api1-24", "--region", "EU", "--k", "5")
    assert "radar-" in done.stdout


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _workers(supervisor) -> list:
    """The supervisor's running worker processes (not multiprocessing's resource tracker, not a dead one)."""
    found = []
    for child in supervisor.children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone, or a zombie the supervisor has not reaped yet
            pass
    return found


def _connections_per_worker(workers, port: int) -> list[int]:
    return [sum(1 for c in w.net_connections(kind="tcp") if c.laddr and c.laddr.port == port
                and c.status == psutil.CONN_ESTABLISHED) for w in workers]


def test_workers_each_listen_on_the_port_share_connections_evenly_and_stop_together(deployment):
    env, _ = deployment
    server = Server(env, workers=2)
    try:
        supervisor = psutil.Process(server.proc.pid)
        deadline = time.monotonic() + 300  # generous: CI machines are shared
        while len(_workers(supervisor)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(supervisor)
        assert len(workers) == 2
        # both workers serve, 16 keep-alive connections between them within one of each other: the kernel
        # spreads new connections by a hash (uvicorn's shared socket let one worker take all 16), and a worker
        # holding two more than the other closes one after a response, the client's reconnection placed afresh
        clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(16)]
        try:
            while time.monotonic() < deadline:
                for client in clients:
                    assert client.get("/health").status_code == 200
                spread = _connections_per_worker(workers, server.port)
                if sum(spread) == 16 and max(spread) - min(spread) <= 1:
                    break
                time.sleep(0.2)  # the second worker may still be starting: it listens once its app is up
        finally:
            for client in clients:
                client.close()
        assert sum(spread) == 16 and max(spread) - min(spread) <= 1, spread
        # a second deployment on the same port is refused, not mixed in
        taken = subprocess.run([sys.executable, "-m", "cli", "serve", "--port", str(server.port), "--workers", "2"],
                               env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert taken.returncode == 2 and f"cannot bind 127.0.0.1:{server.port}" in taken.stderr
        # a worker that dies is replaced
        workers[0].kill()
        while (len(_workers(supervisor)) < 2 or workers[0] in _workers(supervisor)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers[0] not in _workers(supervisor) and len(_workers(supervisor)) == 2
        assert _ready(server.url)
        workers = _workers(supervisor)
    finally:
        server.stop()
    assert server.proc.returncode == 0
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_a_one_shot_command_after_a_batch_job_imports_neither_lightgbm_nor_scikit_learn(deployment, tmp_path):
    """A batch job (as a server's warming) saves the ranking heads compiled and their TreeSHAP tables; a later
    `corridor recommend` reads them and explains its ranking without importing LightGBM or scikit-learn
    (about 1 s of its start-up). `python -X importtime` lists every module the process imported."""
    env, _ = deployment
    queries = tmp_path / "queries.csv"
    queries.write_text("query_id,org_id,region\nq1,radar-kr-8,EU\n")
    run_cli(env, "rank", "--queries", str(queries), "--k", "5", "--out", str(tmp_path / "ranked.csv"))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cli", "recommend", "--org", "radar-kr-8",
                           "--region", "EU", "--k", "5", "--json"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "recommender.ranking.rankers" in imported
    assert not {name for name in imported if name.split(".")[0] in {"lightgbm", "sklearn"}}
    assert '"contributions": [\n' in done.stdout, done.stdout[:2000]

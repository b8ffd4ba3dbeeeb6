"""Start-up on the default catalogue: `corridor --help`, `corridor recommend`, and a server from start to /ready.

Each is a fresh process (what a person or an orchestrator waits for), run ``--rounds`` times; medians are
reported. Anchor, measured in the same run: a bare Python importing the libraries serving needs (numpy,
pandas, scipy, scikit-learn, LightGBM, FastAPI, uvicorn, SQLAlchemy), the floor any Python server of this
stack pays; every figure is printed as a ratio of it.

The server and the command read the serving snapshot (recommender/snapshot.py). The first round runs in a
state directory without one ("cold": the snapshot is built and saved); the other rounds reuse it ("warm",
what every start after the first sees). A command run before any server warming or batch job has prepared the
ranking heads (compiled to native code, TreeSHAP tables) falls back to LightGBM, which imports scikit-learn:
that first `recommend` is timed once, then one batch query (`corridor rank`) prepares the heads as a server's
warming does, and the rounds time the steady state. RSS of the server at ready is read from /proc; then a server with
``--workers`` processes is started and each worker's RSS, PSS, shared and private memory are read once the
encoder's model and the caches have loaded (``--settle`` seconds after ready).

Targets (issue 15): `corridor --help` at most 1 s; `corridor recommend` and server ready at most 3 s each.

Usage: HF_HUB_OFFLINE=1 python benchmarks/startup.py [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from api_load import REPO, free_port

ANCHOR_IMPORTS = "import numpy, pandas, scipy.sparse, sklearn, lightgbm, fastapi, uvicorn, sqlalchemy"
QUERY_ORG = "kr-lig-nex1"


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_ready(env: dict) -> tuple[float, float]:
    """Seconds from process start to the first 200 from /ready, and the server's RSS then (MiB)."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited early:\n{proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    return time.perf_counter() - start, rss_mib(proc.pid)
            except httpx.HTTPError:
                pass
            if time.perf_counter() - start > 600:
                raise SystemExit("server not ready in 600 s")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def smaps(pid: int) -> dict[str, float]:
    """Rss, Pss, Shared_Clean and Private_Dirty of a process, MiB (/proc/PID/smaps_rollup)."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Shared_Clean", "Private_Dirty"):
            values[name] = int(rest.split()[0]) / 1024
    return values


def workers_memory(env: dict, workers: int, settle_seconds: float) -> list[dict[str, float]]:
    """Memory of each worker of `corridor serve --workers N`, ``settle_seconds`` after ready (the encoder's
    model and the caches load in the background by then)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning",
                             "--workers", str(workers)], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        time.sleep(settle_seconds)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers_only = [pid for pid in children  # not multiprocessing's resource tracker
                        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return [smaps(int(pid)) for pid in workers_only]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workers", type=int, default=2, help="Workers of the memory check (0: skip it).")
    parser.add_argument("--settle", type=float, default=30.0, help="Seconds after ready before reading memory.")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="corridor-startup-"))
    env = {**os.environ, "CORRIDOR_STATE_DIR": str(state), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for name in ("CORRIDOR_DATA_DIR", "CORRIDOR_DATABASE_URL"):
        env.pop(name, None)
    cli = [sys.executable, "-m", "cli"]
    recommend = [*cli, "recommend", "--org", QUERY_ORG, "--region", "EU", "--k", "10"]
    results: dict[str, list[float]] = {"anchor": [], "help": [], "recommend": [], "ready": [], "rss_mib": []}
    try:
        cold_ready, cold_rss = server_ready(env)  # builds and saves the snapshot
        cold = {"ready_seconds": round(cold_ready, 2), "rss_mib": round(cold_rss)}
        print(f"cold (no snapshot yet): server ready in {cold_ready:.1f} s, RSS {cold_rss:,.0f} MiB", flush=True)
        cold["recommend_unprepared_heads_seconds"] = round(timed(recommend, env), 2)
        queries = state / "one-query.csv"
        queries.write_text(f"query_id,org_id\nq1,{QUERY_ORG}\n")
        timed([*cli, "rank", "--queries", str(queries), "--k", "10", "--out", str(state / "ranked.csv")], env)
        print(f"recommend before any warming or batch job prepared the ranking heads: "
              f"{cold['recommend_unprepared_heads_seconds']:.2f} s; one batch query prepared them", flush=True)
        for r in range(args.rounds):
            results["anchor"].append(timed([sys.executable, "-c", ANCHOR_IMPORTS], env))
            results["help"].append(timed([*cli, "--help"], env))
            results["recommend"].append(timed(recommend, env))
            ready, rss = server_ready(env)
            results["ready"].append(ready)
            results["rss_mib"].append(rss)
            print(f"round {r + 1}: anchor {results['anchor'][-1]:.2f} s, --help {results['help'][-1]:.2f} s, "
                  f"recommend {results['recommend'][-1]:.2f} s, ready {ready:.2f} s (RSS {rss:,.0f} MiB)", flush=True)
        memory = workers_memory(env, args.workers, args.settle) if args.workers > 1 else []
    finally:
        shutil.rmtree(state, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in results.items()}
    anchor = med["anchor"]
    targets = {"help": 1.0, "recommend": 3.0, "ready": 3.0}
    print(f"\nmedians of {args.rounds} rounds (warm snapshot); anchor = bare imports of the serving stack "
          f"{anchor:.2f} s")
    for name, label in (("help", "corridor --help"), ("recommend", "corridor recommend"),
                        ("ready", "server start to /ready")):
        verdict = "meets" if med[name] <= targets[name] else "MISSES"
        print(f"  {label:<24} {med[name]:6.2f} s  {med[name] / anchor:5.2f}x anchor  "
              f"(target <= {targets[name]:.0f} s: {verdict})")
    print(f"  server RSS at ready      {med['rss_mib']:6.0f} MiB")
    for i, worker in enumerate(memory):
        print(f"  worker {i + 1} of {args.workers}, {args.settle:.0f} s after ready: RSS {worker['Rss']:,.0f} MiB, "
              f"PSS {worker['Pss']:,.0f} MiB, shared clean {worker['Shared_Clean']:,.0f} MiB (mapped snapshot "
              f"and libraries), private {worker['Private_Dirty']:,.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "medians": med, "cold": cold,
                                         "samples": results, "workers_memory": memory}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: loopback load on the partners route, against in-process ranking measured in the same run.

1. In process: the serving workspace of the given data (default: the shipped catalogue and the promoted
   model at data/models/ranker), warmed as a server warms it, then `Recommender.recommend(Query(org_id=...),
   k)` with explanations, once per query of a fixed sample of organisations: p50 / p99 latency (the baseline).
2. Over HTTP: `python -m cli serve` (what `corridor serve` runs: uvicorn, one process) on a free loopback
   port with its own state directory and database; an async httpx client sends the same queries to
   GET /v1/organisations/{id}/partners, first one at a time (API latency vs in-process latency), then with
   C requests in flight (throughput, p50 / p99 under load), once with httpx and once with a plain asyncio
   HTTP/1.1 client (run_load_raw), whose lower CPU per request leaves more of the shared cores to the server;
   each client's CPU per request is printed. Every response must be 200.
3. Live additions: POST /v1/organisations of --additions new organisations one at a time (a write key),
   each with its own description; p50 / p99 of the request, against encoding one such description in
   process (the anchor: the part of an addition the target leaves out). Every response must be 201.

Usage: python benchmarks/api_load.py [--requests 1000] [--concurrency 16] [--workers 1] [--k 10] [--queries 200]
       [--additions 20] [--data-dir DIR] [--model-dir DIR] [--state-dir DIR] [--json out.json]
Needs a trained model (`corridor train`); exits with status 2 and a message if there is none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# The server runs scikit-learn's OpenMP with one thread per request thread (recommender/ranking/threads.py);
# the in-process baseline gets the same setting, or it would measure OpenMP oversubscription instead of ranking.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from cli.environment import settings_from_environment  # noqa: E402
from recommender.errors import CorridorError  # noqa: E402
from recommender.ranking.index import Query  # noqa: E402
from recommender.service import open_corridor  # noqa: E402
from recommender.settings import Settings  # noqa: E402
from recommender.store import Store  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def summary(values: list[float]) -> dict:
    return {"p50_ms": round(percentile(values, 50), 2), "p99_ms": round(percentile(values, 99), 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2), "n": len(values)}


def queries_for(index, n: int, seed: int = 0) -> list[dict]:
    """A fixed sample of named organisations with a profile; every fourth query asks for an instrument."""
    rows = np.flatnonzero(index.side_masks["ANY"] & index.has_profile)
    rng = random.Random(seed)
    chosen = rng.sample(sorted(int(r) for r in rows), min(n, len(rows)))
    out = []
    for i, row in enumerate(chosen):
        q = {"org_id": str(index.ids[row]), "region": ["ANY", "EU", "KR"][i % 3]}
        if i % 4 == 3:
            q["instrument"] = "horizon-europe"
        out.append(q)
    return out


def in_process(recommender, queries: list[dict], k: int) -> list[float]:
    for q in queries[:5]:
        recommender.recommend(Query(**q), k)  # warm-up: eligibility caches, code paths
    times = []
    for q in queries:
        start = time.perf_counter()
        recommender.recommend(Query(**q), k)
        times.append(time.perf_counter() - start)
    return times


def server_rss(pid: int) -> list[float]:
    """RSS (MiB) of each process of the server that holds the index: with --workers N, the N workers (the
    supervisor only watches them); else the one server process."""
    import psutil

    root = psutil.Process(pid)
    procs = [p for p in root.children(recursive=True) if p.memory_info().rss > 200 * 2**20] or [root]
    return [round(p.memory_info().rss / 2**20) for p in procs]


def wait_until_idle(pid: int, limit: float = 180.0) -> float:
    """Wait until the server's processes use under 10% of a core for two seconds running (the background
    warming of eligibility and map caches after start has finished), at most ``limit`` seconds; the wait."""
    import psutil

    start = time.perf_counter()
    root = psutil.Process(pid)
    quiet = 0
    while time.perf_counter() - start < limit and quiet < 2:
        procs = [root, *root.children(recursive=True)]
        for p in procs:
            p.cpu_percent(None)
        time.sleep(1.0)
        busy = sum(p.cpu_percent(None) for p in procs if p.is_running())
        quiet = quiet + 1 if busy < 10 else 0
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int, workers: int = 1, timeout: float = 900) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning",
         "--workers", str(workers)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited during start-up:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server not ready in time")


def partners_path(q: dict) -> str:
    return f"/v1/organisations/{q['org_id']}/partners"


def partners_params(q: dict, k: int) -> dict:
    return {"k": k, **{key: v for key, v in q.items() if key != "org_id"}}


async def run_load(base: str, headers: dict, queries: list[dict], k: int, total: int, concurrency: int):
    """(latencies, errors, wall seconds) for ``total`` requests with ``concurrency`` in flight."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for i in counter:
                q = queries[i % len(queries)]
                start = time.perf_counter()
                try:
                    response = await client.get(partners_path(q), params=partners_params(q, k))
                    elapsed = time.perf_counter() - start
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    else:
                        latencies.append(elapsed)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, errors, wall




async def run_load_raw(host: str, port: int, headers: dict, queries: list[dict], k: int, total: int,
                       concurrency: int):
    """As :func:`run_load`, over ``concurrency`` plain keep-alive HTTP/1.1 connections written and read with
    asyncio streams: a load generator that takes about a fifth of httpx's CPU per request, which on a machine
    whose cores the server shares leaves them to the server (the figures report both clients' CPU)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": f"{host}:{port}", **headers}.items())

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                q = queries[i % len(queries)]
                request = f"GET {partners_path(q)}?{urlencode(partners_params(q, k))} HTTP/1.1\r\n{head}\r\n".encode()
                start = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = value.strip().lower() == b"close"
                body = await reader.readexactly(length)
                elapsed = time.perf_counter() - start
                status = int(status_line.split()[1]) if status_line else 0
                if status != 200:
                    errors.append(f"{status}: {body[:200]!r}")
                else:
                    latencies.append(elapsed)
                if close:  # the server rebalances its workers' connections: reconnect, as any client does
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors.append(repr(exc))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def new_organisation(i: int, tag: str) -> dict:
    """A new organisation with its own description (the encoder caches by text: each must be encoded)."""
    return {"id": f"bench-{tag}-{i}", "name": f"Benchmark Unmanned Systems {tag} {i}", "country": "KR",
            "activity_type": "PRC", "description": f"Maker of small unmanned aerial vehicles, model {tag}-{i}, for "
            f"maritime reconnaissance and loitering munitions; {i * 7 + 3} engineers in sensing and autonomy."}


def encode_one_at_a_time(corridor, n: int) -> list[float]:
    """Seconds to encode one new description (text and priority scores), as an addition does, ``n`` times."""
    from recommender.ranking.incremental import description_texts

    times = []
    for i in range(n):
        texts = description_texts([new_organisation(i, "inproc")])
        start = time.perf_counter()
        corridor.describe(texts)
        times.append(time.perf_counter() - start)
    return times


async def run_additions(base: str, headers: dict, n: int) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for i in range(n):
            start = time.perf_counter()
            response = await client.post("/v1/organisations", json=new_organisation(i, "api"))
            if response.status_code != 201:
                errors.append(f"POST {response.status_code}: {response.text[:200]}")
            else:
                latencies.append(time.perf_counter() - start)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests in the concurrent phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (corridor serve --workers)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200, help="distinct organisations queried")
    parser.add_argument("--additions", type=int, default=20, help="organisations added through the API, one by one")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the shipped data/")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: <data-dir>/models/ranker")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="state (vector cache, database) for both sides; default: a temporary copy of var/cache")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    base_settings = settings_from_environment()
    data_dir = args.data_dir or base_settings.data_dir
    model_dir = args.model_dir or data_dir / "models" / "ranker"
    if not (model_dir / "manifest.json").exists():
        print(f"no trained model at {model_dir}: run `corridor train` first (or pass --model-dir)", file=sys.stderr)
        raise SystemExit(2)
    temporary = args.state_dir is None
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="corridor-api-bench-"))
    user_cache = base_settings.vector_cache_dir
    if temporary and user_cache.exists():  # reuse vectors already computed on this machine
        shutil.copytree(user_cache, state_dir / "cache" / "vectors", dirs_exist_ok=True)
    db_path = state_dir / "api-bench.db"
    db_path.unlink(missing_ok=True)
    settings = Settings(data_dir=data_dir, state_dir=state_dir, ranker_dir=model_dir,
                        database_url=f"sqlite:///{db_path}")

    print(f"data: {data_dir}; model: {model_dir}; state: {state_dir}")
    t0 = time.perf_counter()
    corridor = open_corridor(settings)
    try:
        recommender = corridor.recommender()
        index = recommender.index
    except CorridorError as exc:  # e.g. a model trained for other features: retrain it
        print(f"cannot load the serving model: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"in-process workspace ready in {time.perf_counter() - t0:.1f} s ({len(index.ids):,} organisations)")
    t0 = time.perf_counter()
    corridor.warm()  # what a server's background warming does: half-precision scan, compiled heads, caches
    print(f"in-process warming as a server's (scan, compiled heads, TreeSHAP tables, caches): "
          f"{time.perf_counter() - t0:.1f} s")
    queries = queries_for(index, args.queries)
    baseline = in_process(recommender, queries, args.k)
    encodings = encode_one_at_a_time(corridor, args.additions)
    model_version = json.loads((model_dir / "manifest.json").read_text()).get("model_version")
    corridor.close()
    del corridor, recommender, index

    store = Store(settings.database_url)
    _, secret = store.create_key("read", "api_load benchmark")
    _, write_secret = store.create_key("write", "api_load benchmark additions")
    store.close()
    env = {**os.environ, "CORRIDOR_DATA_DIR": str(data_dir), "CORRIDOR_STATE_DIR": str(state_dir),
           "CORRIDOR_RANKER_DIR": str(model_dir), "CORRIDOR_DATABASE_URL": settings.database_url,
           "CORRIDOR_MODEL_POLL_SECONDS": "0", "PYTHONPATH": str(REPO)}
    port = free_port()
    t0 = time.perf_counter()
    server = start_server(env, port, args.workers)
    print(f"server ready in {time.perf_counter() - t0:.1f} s on port {port}; idle (background cache warming "
          f"done) {wait_until_idle(server.pid):.0f} s later")
    base, headers = f"http://127.0.0.1:{port}", {"X-API-Key": secret}
    try:
        asyncio.run(run_load(base, headers, queries, args.k, 20, 1))  # warm-up
        sequential, seq_errors, _ = asyncio.run(run_load(base, headers, queries, args.k, len(queries), 1))
        client_cpu = time.process_time()
        loaded, load_errors, wall = asyncio.run(
            run_load(base, headers, queries, args.k, args.requests, args.concurrency)
        )
        client_cpu = time.process_time() - client_cpu
        raw_cpu = time.process_time()
        raw_loaded, raw_errors, raw_wall = asyncio.run(
            run_load_raw("127.0.0.1", port, headers, queries, args.k, args.requests, args.concurrency)
        )
        raw_cpu = time.process_time() - raw_cpu
        worker_rss = server_rss(server.pid)
        additions, add_errors = asyncio.run(run_additions(base, {"X-API-Key": write_secret}, args.additions))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if temporary:
            shutil.rmtree(state_dir, ignore_errors=True)

    errors = seq_errors + load_errors + raw_errors + add_errors
    result = {
        "organisations": len(queries),
        "model_version": model_version,
        "k": args.k,
        "in_process": summary(baseline),
        "api_sequential": summary(sequential) if sequential else None,
        "api_load": {**(summary(loaded) if loaded else {}), "concurrency": args.concurrency,
                     "requests": args.requests, "throughput_rps": round(len(loaded) / wall, 1)},
        "api_load_plain_client": {**(summary(raw_loaded) if raw_loaded else {}), "concurrency": args.concurrency,
                                  "requests": args.requests,
                                  "throughput_rps": round(len(raw_loaded) / raw_wall, 1)},
        "client_cpu_ms_per_request": {"httpx": round(client_cpu / max(1, args.requests) * 1000, 2),
                                      "plain": round(raw_cpu / max(1, args.requests) * 1000, 2)},
        "errors": len(errors),
        "ratio_api_p50_to_in_process_p50": round(percentile(sequential, 50) / percentile(baseline, 50), 2)
        if sequential else None,
        "ratio_api_p99_to_in_process_p99": round(percentile(sequential, 99) / percentile(baseline, 99), 2)
        if sequential else None,
        "cpu_count": os.cpu_count(),
        "server_workers": args.workers,
        "rss_mib_per_serving_process": worker_rss,
        "additions": summary(additions) if additions else None,
        "additions_ms": [round(a * 1000, 1) for a in additions],
        "encode_one_description": summary(encodings) if encodings else None,
    }
    print(f"in-process recommend (k={args.k}, explained): p50 {result['in_process']['p50_ms']:.1f} ms, "
          f"p99 {result['in_process']['p99_ms']:.1f} ms over {len(baseline)} queries")
    if sequential:
        print(f"API, one request at a time         : p50 {result['api_sequential']['p50_ms']:.1f} ms, "
              f"p99 {result['api_sequential']['p99_ms']:.1f} ms")
    if loaded:
        print(f"API, {args.concurrency} in flight ({args.requests} requests): {result['api_load']['throughput_rps']} "
              f"req/s, p50 {result['api_load']['p50_ms']:.1f} ms, p99 {result['api_load']['p99_ms']:.1f} ms")
    if raw_loaded:
        plain = result["api_load_plain_client"]
        print(f"API, {args.concurrency} in flight, plain client ({args.requests} requests): "
              f"{plain['throughput_rps']} req/s, p50 {plain['p50_ms']:.1f} ms, p99 {plain['p99_ms']:.1f} ms "
              f"(target 100 req/s, p99 200 ms)")
    print(f"load generator CPU per request: httpx {result['client_cpu_ms_per_request']['httpx']:.2f} ms, plain "
          f"{result['client_cpu_ms_per_request']['plain']:.2f} ms (the server shares the {os.cpu_count()} cores)")
    print(f"ratio API / in-process latency     : p50 {result['ratio_api_p50_to_in_process_p50']}, "
          f"p99 {result['ratio_api_p99_to_in_process_p99']}")
    print(f"server: {args.workers} worker(s), RSS per serving process after the load: "
          f"{', '.join(f'{m:,.0f} MiB' for m in worker_rss)}")
    if additions:
        print(f"POST /v1/organisations, one at a time ({len(additions)}): p50 {result['additions']['p50_ms']:.1f} ms, "
              f"p99 {result['additions']['p99_ms']:.1f} ms; anchor, encoding one description in process: p50 "
              f"{result['encode_one_description']['p50_ms']:.1f} ms; p50 without it "
              f"{result['additions']['p50_ms'] - result['encode_one_description']['p50_ms']:.1f} ms (target 300 ms)")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()

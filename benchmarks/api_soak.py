"""Soak benchmark: a bounded, sustained load on a real server, watching errors, latency drift and memory growth.

`python -m cli serve` (what `corridor serve` runs) on the shipped data, a loopback port and its own state;
an async client sends ``--requests`` requests with ``--concurrency`` in flight, three partner queries
(GET /v1/organisations/{id}/partners) for every free-text match (POST /v1/match), in blocks of 1,000. After
each block the server's resident memory (VmRSS) is read from /proc. The anchor is the first block, measured
in the same run: the last block's latency against it, and RSS growth per 1,000 requests after it (the
first block includes warm caches filling up). Every response must be 200.

Usage: HF_HUB_OFFLINE=1 python benchmarks/api_soak.py [--requests 3000] [--concurrency 4] [--k 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from api_load import free_port, percentile, queries_for, start_server

from cli.environment import settings_from_environment
from recommender.service import open_corridor
from recommender.settings import Settings
from recommender.store import Store

BLOCK = 1000
MATCH_TEXTS = (
    "Swarms of small unmanned aerial vehicles for border surveillance with on-board AI",
    "Gallium nitride power amplifiers for radar and electronic warfare",
    "Autonomous underwater vehicles for mine countermeasures in the Baltic",
    "Secure 5G tactical communications and cyber defence of command and control networks",
    "Loitering munitions guidance, navigation and control in GNSS-denied environments",
    "Space situational awareness sensors and small satellite constellations",
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run_block(base: str, headers: dict, queries: list[dict], k: int, start: int, n: int, concurrency: int):
    """(latencies per route, errors, wall seconds) for requests ``start`` .. ``start + n``."""
    latencies: dict[str, list[float]] = {"partners": [], "match": []}
    errors: list[str] = []
    counter = iter(range(start, start + n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:

        async def worker() -> None:
            for i in counter:
                began = time.perf_counter()
                try:
                    if i % 4 == 3:
                        route = "match"
                        body = {"text": MATCH_TEXTS[(i // 4) % len(MATCH_TEXTS)], "k": k, "region": "EU"}
                        response = await client.post("/v1/match", json=body)
                    else:
                        route = "partners"
                        q = queries[i % len(queries)]
                        params = {"k": k, **{key: v for key, v in q.items() if key != "org_id"}}
                        response = await client.get(f"/v1/organisations/{q['org_id']}/partners", params=params)
                    if response.status_code == 200:
                        latencies[route].append(time.perf_counter() - began)
                    else:
                        errors.append(f"{route} {response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return latencies, errors, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    base_settings = settings_from_environment()
    state_dir = Path(tempfile.mkdtemp(prefix="corridor-soak-"))
    if base_settings.vector_cache_dir.exists():
        shutil.copytree(base_settings.vector_cache_dir, state_dir / "cache" / "vectors", dirs_exist_ok=True)
    settings = Settings(data_dir=base_settings.data_dir, state_dir=state_dir)
    with open_corridor(settings) as corridor:
        queries = queries_for(corridor.serving.index, 300)
    store = Store(settings.database_url)
    _, secret = store.create_key("read", "soak benchmark")
    store.close()
    env = {**os.environ, "CORRIDOR_DATA_DIR": str(settings.data_dir), "CORRIDOR_STATE_DIR": str(state_dir),
           "CORRIDOR_DATABASE_URL": settings.database_url, "CORRIDOR_MODEL_POLL_SECONDS": "5",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    port = free_port()
    server = start_server(env, port)
    base, headers = f"http://127.0.0.1:{port}", {"X-API-Key": secret}
    blocks = []
    try:
        rss_start = rss_mib(server.pid)
        done = 0
        while done < args.requests:
            n = min(BLOCK, args.requests - done)
            latencies, errors, wall = asyncio.run(
                run_block(base, headers, queries, args.k, done, n, args.concurrency)
            )
            done += n
            block = {
                "requests": n, "errors": len(errors), "first_error": errors[0] if errors else None,
                "throughput_rps": round(n / wall, 1), "rss_mib": round(rss_mib(server.pid), 1),
                **{f"{route}_p50_ms": round(percentile(v, 50), 1) for route, v in latencies.items() if v},
                **{f"{route}_p99_ms": round(percentile(v, 99), 1) for route, v in latencies.items() if v},
            }
            blocks.append(block)
            print(f"requests {done:>6,}: {block['throughput_rps']:6.1f} req/s, partners p50 "
                  f"{block.get('partners_p50_ms')} / p99 {block.get('partners_p99_ms')} ms, match p50 "
                  f"{block.get('match_p50_ms')} / p99 {block.get('match_p99_ms')} ms, errors {len(errors)}, "
                  f"server RSS {block['rss_mib']:,.0f} MiB", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(state_dir, ignore_errors=True)

    errors = sum(b["errors"] for b in blocks)
    after_first = blocks[1:]
    growth = ((after_first[-1]["rss_mib"] - blocks[0]["rss_mib"]) / len(after_first)) if after_first else None
    result = {
        "requests": sum(b["requests"] for b in blocks), "errors": errors, "concurrency": args.concurrency,
        "rss_start_mib": round(rss_start, 1), "rss_growth_mib_per_1000_after_first_block":
        None if growth is None else round(growth, 1), "blocks": blocks,
        "last_vs_first_partners_p50": round(blocks[-1]["partners_p50_ms"] / blocks[0]["partners_p50_ms"], 2),
    }
    print(f"total {result['requests']:,} requests, {errors} errors; server RSS {rss_start:,.0f} MiB at start, "
          f"{blocks[0]['rss_mib']:,.0f} after the first block, {blocks[-1]['rss_mib']:,.0f} at the end: "
          f"{result['rss_growth_mib_per_1000_after_first_block']} MiB per 1,000 requests after the first block; "
          f"partners p50 last/first block {result['last_vs_first_partners_p50']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()

"""Server time per web page on the default catalogue: p50/p99 of each page a person opens, from a real server.

`python -m cli serve` (what `corridor serve` runs) on the shipped data with its own state directory; a client
signs in through the sign-in form with a read key and opens every page in turn, one request at a time, with
varied inputs (names to search, organisations, priorities, instruments). Server time is the server's own
``Server-Timing: app;dur=`` header (request in to response start); the client's wall time is printed too.
The first request of each page is reported apart (it fills the per-snapshot caches: eligibility, pairings).
Anchor, measured in the same run: ``GET /health``, the stack's floor; each page's p50 is printed as a ratio of
it. Target: every page p99 at most 300 ms, except free-text match, which encodes the text.

Usage: HF_HUB_OFFLINE=1 python benchmarks/web_pages.py [--rounds 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from api_load import REPO, free_port, percentile, start_server

from cli.environment import settings_from_environment

TARGET_MS = 300.0
NAMES = ("lig nex", "etri", "hanwha systms", "thales", "airbus defence", "kaist", "fraunhofer", "leonardo",
         "saab", "rheinmetall", "kongsberg", "indra", "hyundai rotem", "korea aerospace", "tno")
PRIORITIES = ("unmanned", "ai", "semiconductors", "cyber", "maritime", "space", "munitions",
              "sensors_ew", "c4isr")
INSTRUMENTS = ("edf-research", "horizon-europe", "edip", "kiat", "safe")
MATCH_TEXTS = (
    "Swarms of small unmanned aerial vehicles for border surveillance with on-board AI",
    "Gallium nitride power amplifiers for radar and electronic warfare",
    "Autonomous underwater vehicles for mine countermeasures in the Baltic",
    "Secure 5G tactical communications and cyber defence of command and control networks",
)


def server_ms(response: httpx.Response) -> float:
    match = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    if match is None:
        raise SystemExit(f"{response.request.url}: no Server-Timing header")
    return float(match.group(1))


def sign_in(client: httpx.Client, secret: str) -> str:
    """Sign in through the form; the session's CSRF token (for the forms that change things)."""
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = client.post("/signin", data={"key": secret, "csrf": token, "next": "/search"})
    if done.status_code != 303 or "corridor_session" not in client.cookies:
        raise SystemExit(f"sign-in failed: {done.status_code}")
    page = client.get("/search")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def korean_and_european_ids(client: httpx.Client, secret: str, n: int) -> list[str]:
    ids = []
    for region in ("KR", "EUROPE"):
        found = client.get("/v1/organisations", params={"region": region, "edf_experience": region == "EUROPE",
                                                        "limit": n}, headers={"X-API-Key": secret}).json()
        ids += [item["id"] for item in found["items"]]
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="requests per page (after its first)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    base_settings = settings_from_environment()
    state_dir = Path(tempfile.mkdtemp(prefix="corridor-web-bench-"))
    if base_settings.vector_cache_dir.exists():  # reuse vectors already computed on this machine
        shutil.copytree(base_settings.vector_cache_dir, state_dir / "cache" / "vectors", dirs_exist_ok=True)
    env = {**os.environ, "CORRIDOR_STATE_DIR": str(state_dir), "CORRIDOR_MODEL_POLL_SECONDS": "0",
           "PYTHONPATH": str(REPO)}
    for name in ("CORRIDOR_DATABASE_URL", "CORRIDOR_DATA_DIR", "CORRIDOR_RANKER_DIR"):
        env.pop(name, None)
    secret = subprocess.run([sys.executable, "-m", "cli", "keys", "create", "--scope", "read", "--name", "bench"],
                            env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    began = time.perf_counter()
    server = start_server(env, port)
    print(f"server ready in {time.perf_counter() - began:.1f} s on port {port}; state {state_dir}")
    figures: dict[str, dict] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            csrf = sign_in(client, secret)
            orgs = korean_and_european_ids(client, secret, 20)
            korean = [o for o in orgs if o.startswith("kr-")] or orgs[:20]
            names, org_ids, kr_ids = itertools.cycle(NAMES), itertools.cycle(orgs), itertools.cycle(korean)
            priorities, instruments = itertools.cycle(PRIORITIES), itertools.cycle(INSTRUMENTS)
            texts = itertools.cycle(MATCH_TEXTS)
            for org in orgs[:2] + korean[:1]:
                client.post("/shortlist", data={"org_id": org, "action": "add", "csrf": csrf, "back": "/shortlist"})

            pages: dict[str, Callable[[], httpx.Response]] = {
                "anchor: GET /health": lambda: client.get("/health"),
                "search by name": lambda: client.get("/search", params={"q": next(names)}),
                "search by filters": lambda: client.get("/search", params={"region": "EUROPE", "kind": "company",
                                                                           "priority": next(priorities),
                                                                           "edf": "true"}),
                "organisation": lambda: client.get(f"/organisations/{next(org_ids)}"),
                "partners": lambda: client.get(f"/organisations/{next(kr_ids)}/partners",
                                               params={"priority": next(priorities), "region": "EU"}),
                "partners + instrument": lambda: client.get(f"/organisations/{next(kr_ids)}/partners",
                                                            params={"instrument": next(instruments), "region": "EU"}),
                "shortlist consortium check": lambda: client.get("/shortlist",
                                                                 params={"instrument": next(instruments)}),
                "proposed consortium": lambda: client.get("/consortium", params={"lead": next(kr_ids),
                                                                                 "instrument": "horizon-europe"}),
                "partnership map": lambda: client.get("/map", params={"priority": next(priorities)}),
                "match a text (encodes)": lambda: client.post("/match", data={"text": next(texts), "region": "EU",
                                                                              "csrf": csrf}),
            }
            for name, call in pages.items():
                first = call()
                if first.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {first.status_code}: {first.text[:300]}")
                server_times, wall_times = [], []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    response = call()
                    wall_times.append(time.perf_counter() - t0)
                    if response.status_code != 200:
                        raise SystemExit(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
                    server_times.append(server_ms(response) / 1000)
                figures[name] = {"first_ms": round(server_ms(first), 1),
                                 "p50_ms": round(percentile(server_times, 50), 1),
                                 "p99_ms": round(percentile(server_times, 99), 1),
                                 "wall_p50_ms": round(percentile(wall_times, 50), 1), "n": len(server_times)}
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(state_dir, ignore_errors=True)

    anchor = figures["anchor: GET /health"]["p50_ms"] or 0.01
    print(f"\nserver time per page, {args.rounds} requests each after the first (one in flight), ms:")
    print(f"{'page':30} {'first':>8} {'p50':>8} {'p99':>8} {'wall p50':>9} {'p50/anchor':>11}  target")
    for name, f in figures.items():
        f["ratio_to_anchor"] = round(f["p50_ms"] / anchor, 1)
        exempt = name.startswith(("anchor", "match"))
        verdict = "" if exempt else ("ok" if f["p99_ms"] <= TARGET_MS else f"OVER {TARGET_MS:.0f}")
        print(f"{name:30} {f['first_ms']:8.1f} {f['p50_ms']:8.1f} {f['p99_ms']:8.1f} {f['wall_p50_ms']:9.1f} "
              f"{f['ratio_to_anchor']:10.1f}x  {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: all-pairs scoring throughput of the batch engines, and peak memory at 200,000 x 10,000.

Part 1 (throughput): Korean x European pairs scored per second by the local engine (fork pool, one thread
per worker) and the Ray engine (local Ray), against baselines measured in the same run: a naive
single-process loop over the same pairs (each Korean organisation scored against all European ones in one
model call, the full score matrix kept, then sorted), with default BLAS/OpenMP threads and with one
thread. Runs on the default data if a trained model exists (data/models/ranker), else on a synthetic index.
Medians of --repeat runs; Ray start-up is reported separately.

Part 2 (memory): a synthetic 200,000 European x 10,000 Korean index; the local engine scores the pairs of
the first K Korean organisations for increasing K while a sampler records the peak proportional set size
(PSS: shared pages counted once) of the whole process tree. Peak memory stays flat as the number of pairs
grows: it is the index plus a fixed per-worker working set, never the score matrix.

Usage: python benchmarks/batch_throughput.py [--repeat 3] [--eu 20000] [--kr 48] [--priority unmanned]
       [--synthetic] [--mem-kr 8,32] [--skip-memory] [--skip-ray] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from batch_synthetic import synthetic_index, synthetic_ranker
from threadpoolctl import threadpool_limits

from cli.environment import settings_from_environment
from recommender.batch import LocalEngine, RayEngine, ScanConfig, scan_pairs
from recommender.ranking.index import Query

BASELINE = "baseline: naive loop, 1 process, 1 thread"
LOCAL = "local engine, 2 workers"
RAY = "ray engine, local Ray, 2 CPUs"


class PeakMemory:
    """Samples the summed PSS of this process and all its descendants (Ray's too) every ``interval`` s."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def naive_scan(index, ranker, priority: str, kr_rows: np.ndarray, eu_rows: np.ndarray, top: int):
    """The obvious loop: score each Korean organisation against all European ones, keep the full matrix."""
    matrix = np.full((len(kr_rows), len(eu_rows)), np.nan)
    for i, row in enumerate(kr_rows):
        rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority=priority))
        allowed = index.allowed(rq)[eu_rows]
        matrix[i, allowed] = ranker.score(index, rq, eu_rows[allowed])
    flat = np.nan_to_num(matrix, nan=-np.inf).ravel()
    order = np.lexsort((np.arange(flat.size), -flat))[:top]
    return kr_rows[order // len(eu_rows)], eu_rows[order % len(eu_rows)], flat[order]


def scored_pairs(index, priority: str, kr_rows: np.ndarray, eu_rows: np.ndarray) -> int:
    """How many of the pairs pass the default filters, i.e. are scored at all."""
    total = 0
    for row in kr_rows:
        rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority=priority))
        total += int(index.allowed(rq)[eu_rows].sum())
    return total


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, its reaped children and its live descendants (Ray)."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for proc in me.children(recursive=True):
        try:
            c = proc.cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return total


def timed(fn, repeat: int) -> tuple[list[float], list[float], object]:
    """Wall-clock and CPU seconds of each of ``repeat`` runs, and the last result."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - start_cpu)
    return times, cpu, result


def load_subject(args):
    """The default data and promoted model if they load, else a synthetic index and model."""
    settings = settings_from_environment()
    reason = f"no trained model in {settings.model_dir}"
    if args.synthetic:
        reason = "--synthetic"
    elif (settings.model_dir / "manifest.json").exists():
        from recommender.errors import CorridorError
        from recommender.service import open_corridor

        try:
            rec = open_corridor(settings).recommender()
            ranker, index = rec.ranker, rec.index
            priority = index.profiles.taxonomy.resolve(args.priority)
            shows = index.evidence[:, index.priority_index(priority)]
            kr = np.flatnonzero(index.side_masks["KR"] & shows)[: args.kr]  # as a map: Korean orgs showing it
            eu = np.flatnonzero(index.side_masks["EU"])
            naive_scan(index, ranker, priority, kr[:1], eu[:10], 1)  # smoke test: the model matches the code
        except (CorridorError, KeyError, ValueError) as exc:
            reason = f"the model in {settings.model_dir} does not load or score: {str(exc)[:120]}"
        else:
            return f"default data ({settings.model_dir})", index, ranker, kr, eu, priority
    index = synthetic_index(args.eu, max(args.kr, 1))
    ranker = synthetic_ranker(index)
    kr = np.flatnonzero(index.side_masks["KR"])[: args.kr]
    eu = np.flatnonzero(index.side_masks["EU"])
    return f"synthetic index ({reason})", index, ranker, kr, eu, "p00"


def throughput(args) -> dict:
    subject, index, ranker, kr, eu, priority = load_subject(args)
    pairs = len(kr) * len(eu)
    scored = scored_pairs(index, priority, kr, eu)
    cfg = ScanConfig(top=1000)
    print(f"\n## Throughput: {subject}, priority {priority}: {len(kr):,} Korean x {len(eu):,} European = "
          f"{pairs:,} pairs, of which {scored:,} pass the default filters and are scored (known partners, "
          f"funding bodies and European organisations without the priority are left out unscored)")
    print(f"cpus available: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.2f}")
    rows, results = [], {}

    def record(name, times, cpu, result):
        med, med_cpu = statistics.median(times), statistics.median(cpu)
        rows.append(
            {
                "method": name,
                "median_s": med,
                "pairs_per_s": pairs / med,
                "scored_pairs_per_s": scored / med,
                "median_cpu_s": med_cpu,
                "pairs_per_cpu_s": pairs / med_cpu,
                "runs_s": times,
            }
        )
        results[name] = result
        print(
            f"  {name}: median {med:.2f} s ({pairs / med:,.0f} pairs/s, {scored / med:,.0f} scored pairs/s), "
            f"{med_cpu:.2f} CPU-s "
            f"({pairs / med_cpu:,.0f} pairs per CPU-s); runs {[round(t, 2) for t in times]}"
        )

    def naive():
        return naive_scan(index, ranker, priority, kr, eu, 1000)

    with threadpool_limits(1):
        record(BASELINE, *timed(naive, args.repeat))
    record("naive loop, 1 process, default BLAS/OpenMP threads", *timed(naive, args.repeat))
    with LocalEngine(2) as local:

        def local_scan():
            return scan_pairs(index, ranker, priority, kr, eu, engine=local, config=cfg)

        record(LOCAL, *timed(local_scan, args.repeat))
    startup = None
    if not args.skip_ray:
        start = time.perf_counter()
        ray_engine = RayEngine(workers=2)
        startup = time.perf_counter() - start
        with ray_engine:
            record(
                RAY,
                *timed(lambda: scan_pairs(index, ranker, priority, kr, eu, engine=ray_engine, config=cfg), args.repeat),
            )
        print(f"  (Ray start-up, not included above: {startup:.1f} s)")
    base = rows[0]["median_s"]
    print(
        "\n| method | median s | pairs/s | scored pairs/s | speed-up vs baseline | pairs per CPU-s | CPUs obtained |"
        "\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| {r['method']} | {r['median_s']:.2f} | {r['pairs_per_s']:,.0f} | {r['scored_pairs_per_s']:,.0f} "
            f"| {base / r['median_s']:.2f}x "
            f"| {r['pairs_per_cpu_s']:,.0f} | {r['median_cpu_s'] / r['median_s']:.2f} |"
        )
    print("(CPUs obtained = CPU-seconds / wall seconds: below the worker count, other processes held the cores)")
    local = results[LOCAL]
    naive = results[BASELINE]
    same_ids = local.top.kr.tolist() == naive[0].tolist() and local.top.eu.tolist() == naive[1].tolist()
    diff = float(np.max(np.abs(local.top.score - naive[2]))) if len(naive[2]) == len(local.top.score) else None
    check = {"top_1000_same_as_naive": same_ids, "max_abs_score_diff_vs_naive": diff}
    if RAY in results:
        on_ray = results[RAY]
        check["ray_identical_to_local"] = bool(
            np.array_equal(on_ray.top.score, local.top.score)
            and np.array_equal(on_ray.top.kr, local.top.kr)
            and np.array_equal(on_ray.top.eu, local.top.eu)
            and np.array_equal(on_ray.hist, local.hist)
            and np.array_equal(on_ray.country_sum, local.country_sum)
        )
    print(f"checks: {check}; load average after: {os.getloadavg()[0]:.2f}")
    return {"subject": subject, "pairs": pairs, "scored_pairs": scored, "rows": rows, "ray_startup_s": startup,
            "checks": check}


def memory(args) -> dict:
    n_eu, n_kr = 200_000, 10_000
    print(f"\n## Peak memory: synthetic {n_eu:,} European x {n_kr:,} Korean organisations")
    start = time.perf_counter()
    index = synthetic_index(n_eu, n_kr)
    ranker = synthetic_ranker(index)
    for inst in index.rulebook.instrument_ids:
        index.eligibility(inst)
    built = time.perf_counter() - start
    base = PeakMemory.current()
    print(f"index + model built in {built:.1f} s; process PSS after building: {base / 2**20:,.0f} MiB")
    kr = np.flatnonzero(index.side_masks["KR"])
    eu = np.flatnonzero(index.side_masks["EU"])
    rows = []
    engines = [("local", lambda: LocalEngine(2))]
    if not args.skip_ray:
        engines.append(("ray", lambda: RayEngine(workers=2)))
    for name, make in engines:
        for k in args.mem_kr:
            with make() as engine:  # a fresh engine per run: Ray's peak then includes its own start-up
                idle = PeakMemory.current()
                with PeakMemory() as peak:
                    start = time.perf_counter()
                    scan = scan_pairs(index, ranker, "p00", kr[:k], eu, engine=engine, config=ScanConfig(top=1000))
                    elapsed = time.perf_counter() - start
            row = {
                "engine": name,
                "korean_orgs": k,
                "pairs": scan.n_pairs,
                "seconds": elapsed,
                "pairs_per_s": scan.n_pairs / elapsed,
                "engine_idle_pss_mib": idle / 2**20,
                "peak_pss_mib": peak.peak / 2**20,
                "peak_over_index_mib": (peak.peak - base) / 2**20,
                "peak_over_idle_engine_mib": (peak.peak - idle) / 2**20,
                "full_matrix_mib": scan.n_pairs * 8 / 2**20,
            }
            rows.append(row)
            print(
                f"  {name}: {k:>5} Korean orgs, {scan.n_pairs:>12,} pairs in {elapsed:6.1f} s "
                f"({row['pairs_per_s']:,.0f}/s): peak PSS {row['peak_pss_mib']:,.0f} MiB = driver with index "
                f"{base / 2**20:,.0f} + engine idle {(idle - base) / 2**20:,.0f} + job "
                f"{row['peak_over_idle_engine_mib']:,.0f} MiB (the scores alone: {row['full_matrix_mib']:,.0f} MiB)"
            )
    local = [r for r in rows if r["engine"] == "local"]
    rate = statistics.median(r["pairs_per_s"] for r in local)
    full_pairs = n_eu * n_kr
    print(
        f"full {full_pairs:,} pairs: score matrix {full_pairs * 8 / 2**30:,.1f} GiB as float64 (never built); "
        f"estimated {full_pairs / rate / 3600:.1f} h on this machine's 2 cores at {rate:,.0f} pairs/s"
    )
    return {"index_build_s": built, "driver_pss_after_build_mib": base / 2**20, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--eu", type=int, default=20_000, help="European organisations (synthetic throughput index)")
    parser.add_argument("--kr", type=int, default=48, help="Korean organisations scored in the throughput part")
    parser.add_argument("--priority", default="unmanned", help="the map's priority (default data)")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic index")
    parser.add_argument("--mem-kr", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {}
    if not args.skip_throughput:
        out["throughput"] = throughput(args)
    if not args.skip_memory:
        out["memory"] = memory(args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()

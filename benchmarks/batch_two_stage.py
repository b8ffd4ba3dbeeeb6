"""Benchmark: the two-stage partnership map against exhaustive scoring (the anchor, measured in the same run).

Part 1 (agreement, default data and the promoted model): for every priority of the taxonomy, with and
without a defence instrument, the map's top 1,000 pairs scored two-stage (forced, whatever the map's size)
and exhaustively; the share of the exhaustive top 1,000 that the two-stage map also finds, and how many pairs
the model scored in each.

Part 2 (throughput, synthetic catalogue): --eu European (default 200,000) x --kr Korean organisations
(default 200) scored two-stage on the local engine (2 workers); the anchor is the exhaustive scan of the
first --anchor-kr Korean organisations on the same engine. Reports effective pairs/s (all pairs of the map
divided by wall time), the ratio to the anchor, the top-1,000 agreement on the anchor's organisations, and
the projected time of a 200,000 x 10,000 map. Medians of --repeat runs.

Usage: python benchmarks/batch_two_stage.py [--eu 200000] [--kr 200] [--anchor-kr 12] [--repeat 3]
       [--skip-default] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from batch_synthetic import synthetic_index, synthetic_ranker

from recommender.batch import LocalEngine, ScanConfig, scan_pairs

FULL_MAP = 200_000 * 10_000


def overlap(a, b) -> float:
    wanted = set(zip(a.top.kr.tolist(), a.top.eu.tolist(), strict=True))
    found = set(zip(b.top.kr.tolist(), b.top.eu.tolist(), strict=True))
    return len(wanted & found) / max(len(wanted), 1)


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def default_agreement() -> None:
    from cli.environment import settings_from_environment
    from recommender.service import open_corridor

    settings = settings_from_environment()
    recommender = open_corridor(settings).recommender()
    index, ranker = recommender.index, recommender.ranker
    ranker.compile_heads(settings.compiled_trees_dir, build=True)  # as a batch job does
    print("\n## Agreement on the default data: top 1,000 pairs, two-stage vs exhaustive (anchor)")
    print("| priority | instrument | Korean | pairs | model-scored (two-stage) | top-1000 overlap |")
    print("|---|---|---:|---:|---:|---:|")
    worst, pairs_total, model_total = 1.0, 0, 0
    for priority in index.profiles.taxonomy.ids:
        p = index.priority_index(priority)
        kind = index.kind_allowed(None)
        kr = np.flatnonzero(index.side_masks["KR"] & index.evidence[:, p] & kind)
        eu = np.flatnonzero(index.side_masks["EU"] & kind)
        if len(kr) == 0:
            continue
        for instrument in (None, "edf-development"):
            exhaustive = scan_pairs(index, ranker, priority, kr, eu, instrument=instrument,
                                    config=ScanConfig(top=1000, scoring="exhaustive"))
            two = scan_pairs(index, ranker, priority, kr, eu, instrument=instrument,
                             config=ScanConfig(top=1000, scoring="two-stage"))
            share = overlap(exhaustive, two)
            worst = min(worst, share)
            pairs_total += exhaustive.n_pairs
            model_total += two.model_pairs
            print(f"| {priority} | {instrument or '-'} | {len(kr)} | {exhaustive.n_pairs:,} | {two.model_pairs:,} | "
                  f"{share:.3f} |")
    print(f"worst top-1000 overlap {worst:.3f}; the model scored {model_total:,} of {pairs_total:,} pairs "
          f"({model_total / max(pairs_total, 1):.0%}) in the two-stage maps")


def synthetic_throughput(args) -> None:
    print(f"\n## Throughput: synthetic {args.eu:,} European x {args.kr:,} Korean, local engine, 2 workers")
    start = time.perf_counter()
    index = synthetic_index(args.eu, args.kr)
    ranker = synthetic_ranker(index)
    with tempfile.TemporaryDirectory() as cache:  # as a batch job does: the heads compiled to native code
        compiled = ranker.compile_heads(Path(cache), build=True)
    print(f"index and model built in {time.perf_counter() - start:.0f} s; {compiled} of "
          f"{len(ranker.head_models_)} heads compiled to native code (the anchor and the two-stage map alike)")
    kr = np.flatnonzero(index.side_masks["KR"])
    eu = np.flatnonzero(index.side_masks["EU"])
    anchor_kr = kr[: args.anchor_kr]
    with LocalEngine(2) as engine:
        def run(rows, scoring):
            return scan_pairs(index, ranker, "p00", rows, eu, engine=engine,
                              config=ScanConfig(top=1000, scoring=scoring))

        ex_s, ex_runs, exhaustive = timed(lambda: run(anchor_kr, "exhaustive"), args.repeat)
        small_s, small_runs, small = timed(lambda: run(anchor_kr, "two-stage"), args.repeat)
        two_s, two_runs, two = timed(lambda: run(kr, "two-stage"), args.repeat)
    ex_rate, ex_scored = len(anchor_kr) * len(eu) / ex_s, exhaustive.n_pairs / ex_s
    two_rate, two_scored = len(kr) * len(eu) / two_s, two.n_pairs / two_s
    print(f"anchor, exhaustive {len(anchor_kr)} x {len(eu):,}: median {ex_s:.1f} s, {ex_rate:,.0f} map pairs/s, "
          f"{ex_scored:,.0f} scored pairs/s ({exhaustive.n_pairs:,} pass the filters); runs "
          f"{[round(t, 1) for t in ex_runs]}")
    print(f"two-stage on the same {len(anchor_kr)} Korean: median {small_s:.1f} s (fitting included); top-1000 "
          f"overlap {overlap(exhaustive, small):.3f}, first-stage rank correlation "
          f"{small.job.first_stage.fit_correlation:.3f} (the synthetic model orders profiled candidates almost at "
          f"random, so this overlap is no measure of the first stage: see part 1); runs "
          f"{[round(t, 1) for t in small_runs]}")
    print(f"two-stage {len(kr)} x {len(eu):,} = {len(kr) * len(eu):,} map pairs ({two.n_pairs:,} pass the filters): "
          f"median {two_s:.1f} s, {two_rate:,.0f} effective map pairs/s ({two_rate / ex_rate:.1f}x the anchor), "
          f"{two_scored:,.0f} scored pairs/s ({two_scored / ex_scored:.1f}x); the model scored {two.model_pairs:,} "
          f"(re-ranked per Korean: {two.job.rerank}); runs {[round(t, 1) for t in two_runs]}")
    print(f"projected 200,000 x 10,000 map at these rates: {FULL_MAP / two_rate / 60:.0f} min two-stage, "
          f"{FULL_MAP / ex_rate / 3600:.1f} h exhaustive")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eu", type=int, default=200_000)
    parser.add_argument("--kr", type=int, default=200)
    parser.add_argument("--anchor-kr", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_default:
        default_agreement()
    if not args.skip_synthetic:
        synthetic_throughput(args)


if __name__ == "__main__":
    main()

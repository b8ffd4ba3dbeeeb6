"""Benchmark: loading the shipped default catalogue.

Prints the median of N loads of `load_catalogue` (schema checks, typed columns, user overlay) against a
baseline measured in the same run: plain `pandas.read_parquet` of the same three files.
Usage: python benchmarks/catalogue_load.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

from cli.environment import settings_from_environment
from recommender.catalogue import load_catalogue


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    directory: Path = settings_from_environment().catalogue_dir
    baseline = timed(
        lambda: [pd.read_parquet(directory / f"{n}.parquet") for n in ("organisations", "projects", "participations")],
        args.repeat,
    )
    ours = timed(lambda: load_catalogue(directory), args.repeat)
    cat = load_catalogue(directory)
    size = sum(p.stat().st_size for p in directory.glob("*.parquet")) / 1e6
    print(
        f"catalogue: {directory} ({size:.1f} MB on disk; {len(cat.organisations):,} organisations, "
        f"{len(cat.projects):,} projects, {len(cat.participations):,} participations)"
    )
    print(f"baseline pandas.read_parquet x3 : median {statistics.median(baseline) * 1000:8.1f} ms")
    print(f"load_catalogue                  : median {statistics.median(ours) * 1000:8.1f} ms")
    print(f"ratio load_catalogue / baseline : {statistics.median(ours) / statistics.median(baseline):.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: encoding throughput of Corridor's Encoder against plain SentenceTransformer.encode.

Same texts, same model, same batch size, same run. Each measurement is repeated (alternating order) and
the median is quoted. Then a warm-cache run: the Encoder again over the same texts, with everything cached,
which must encode nothing.
Usage: HF_HUB_OFFLINE=1 python benchmarks/encoder_throughput.py [--texts 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cli.environment import settings_from_environment
from recommender.catalogue import load_catalogue
from recommender.profiles.encoder import Encoder
from recommender.profiles.text import project_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    settings = settings_from_environment()
    projects = load_catalogue(settings.catalogue_dir).projects
    projects = projects[projects["title"].notna()].sample(n=args.texts, random_state=0)
    texts = [project_text(p.title, p.topic_title, p.objective)[0] for p in projects.itertuples(index=False)]

    probe = Encoder(settings.encoder_model or None, batch_size=args.batch_size)
    model = probe.model  # loaded once, shared: we time encoding, not model loading
    plain, ours = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True)
        plain.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            enc = Encoder(probe.model_name, cache_dir=Path(tmp), batch_size=args.batch_size)
            enc._model = model
            start = time.perf_counter()
            enc.encode(texts)
            ours.append(time.perf_counter() - start)
            assert enc.encoded_count == len(set(texts))
            warm = Encoder(probe.model_name, cache_dir=Path(tmp), batch_size=args.batch_size)
            start = time.perf_counter()
            warm.encode(texts)
            warm_time = time.perf_counter() - start
            assert warm.encoded_count == 0, "warm cache encoded something"
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"{len(texts)} project texts, model {probe.model_name}, batch {args.batch_size}, {args.repeat} runs each")
    print(f"plain SentenceTransformer.encode : median {p:7.2f} s  ({len(texts) / p:6.1f} texts/s)")
    print(f"Corridor Encoder (cold cache)    : median {o:7.2f} s  ({len(texts) / o:6.1f} texts/s)")
    print(f"overhead                          : {100 * (o / p - 1):+.1f} % (target: within 10 %)")
    print(
        f"Corridor Encoder (warm cache)    : {warm_time * 1000:7.1f} ms, texts encoded: {warm.encoded_count} "
        f"(incl. reading the cache from disk; {p / warm_time:.0f}x faster than encoding)"
    )


if __name__ == "__main__":
    main()

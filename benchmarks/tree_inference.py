"""Benchmark: tree inference of the shipped ranker, per million rows and per query, against LightGBM's own
predict (the anchor: what serving runs) measured in the same run.

Rows are real: the feature rows of the candidates of organisation queries on the default catalogue (about
700-800 per query), for the org head. Figures:

1. LightGBM ``Booster.predict`` on one thread: per million rows (one large batch) and per query (one call per
   query's candidates, as serving makes it). The anchor.
2. LightGBM TreeSHAP (``pred_contrib``) per row: what an explanation costs, run on the shown rows only; and
   TreeSHAP from per-leaf tables (recommender/ranking/path_shap.py, what serving explains with once its
   warming built them) on ten shown rows per query, against pred_contrib on the same rows.
3. The head compiled to native code by lleaves (recommender/ranking/compiled_trees.py, what serving runs once
   its background warming has compiled or loaded it): the compile time, the same figures as the anchor, the
   largest margin difference from LightGBM, and how many queries keep exactly the same top 20.
4. ONNX Runtime on one thread, when ``onnxruntime`` and ``onnxmltools`` are installed (they are not project
   dependencies): the same figures for the head converted to ONNX.

Usage: python benchmarks/tree_inference.py [--queries 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cli.environment import settings_from_environment
from recommender.ranking.compiled_trees import compiled_margins
from recommender.ranking.features import FEATURES, pair_features, query_context
from recommender.ranking.index import Query
from recommender.ranking.path_shap import path_explainer
from recommender.service import open_corridor


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def query_rows(recommender, n_queries: int, rng: np.random.Generator) -> list[np.ndarray]:
    index, ranker = recommender.index, recommender.ranker
    kr = index.ids[index.side_masks["KR"] & index.has_profile]
    eu = index.ids[index.side_masks["EU"] & index.has_profile & (index.graph.degree > 0)]
    picks = [Query(org_id=o, region="EU") for o in rng.choice(kr, n_queries // 2, replace=False)]
    picks += [Query(org_id=o, region="ANY") for o in rng.choice(eu, n_queries - len(picks), replace=False)]
    out = []
    for q in picks:
        rq = index.resolve(q)
        ctx = query_context(index, rq)
        out.append(np.ascontiguousarray(pair_features(index, ctx, ranker.candidate_rows(index, rq, ctx))))
    return out


def per_query_ms(predict, rows: list[np.ndarray], repeats: int) -> float:
    return statistics.median(median_seconds(lambda X=X: predict(X), repeats) for X in rows) * 1000


def top20(scores: np.ndarray) -> list[int]:
    return np.lexsort((np.arange(len(scores)), -scores))[:20].tolist()


def onnx_predictor(booster):
    """An ONNX Runtime session of ``booster`` on one thread, or None when the packages are missing."""
    try:
        import onnxmltools
        import onnxruntime as ort
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError:
        return None, None
    start = time.perf_counter()
    model = onnxmltools.convert_lightgbm(booster, initial_types=[("X", FloatTensorType([None, len(FEATURES)]))],
                                         target_opset=15, zipmap=False)
    converted = time.perf_counter() - start
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda X: session.run(None, {name: X})[0].ravel()), converted


def explain_tables(booster, rows: list[np.ndarray], repeats: int) -> None:
    """TreeSHAP from per-leaf tables (recommender/ranking/path_shap.py, what serving explains with) against
    LightGBM's pred_contrib on the ten top rows of each query, as a ranking shows them."""
    start = time.perf_counter()
    explainer = path_explainer(booster)
    built = time.perf_counter() - start
    if explainer is None:
        print("TreeSHAP tables: not measured (the head has splits the tables do not cover)")
        return
    shown = [X[:10] for X in rows]
    anchor = per_query_ms(lambda X: booster.predict(X, pred_contrib=True, num_threads=1), shown, repeats)
    tables = per_query_ms(explainer.contributions, shown, repeats)
    diff = max(float(np.abs(booster.predict(X, pred_contrib=True)[:, :-1] - explainer.contributions(X)).max())
               for X in shown)
    print(f"TreeSHAP tables (built in {built:.2f} s): {tables:6.3f} ms per ten shown rows against "
          f"{anchor:6.3f} ms with pred_contrib ({anchor / tables:.2f}x); largest difference {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    recommender = open_corridor(settings_from_environment()).recommender()
    booster = recommender.ranker.booster("org")
    rows = query_rows(recommender, args.queries, np.random.default_rng(0))
    batch = np.ascontiguousarray(np.concatenate(rows * max(1, 200_000 // sum(len(X) for X in rows))))
    print(f"org head: {booster.num_trees()} trees; {len(rows)} queries, median "
          f"{int(np.median([len(X) for X in rows]))} candidate rows each; batch of {len(batch):,} rows")

    def lightgbm(X: np.ndarray) -> np.ndarray:
        return booster.predict(X, num_threads=1)

    anchor_million = median_seconds(lambda: lightgbm(batch), args.repeats) / len(batch) * 1e6
    anchor_query = per_query_ms(lightgbm, rows, args.repeats)
    print(f"anchor: LightGBM predict, 1 thread      : {anchor_million:6.2f} s per million rows, "
          f"{anchor_query:6.2f} ms per query")
    shown = rows[0][:20]
    contrib = median_seconds(lambda: booster.predict(shown, pred_contrib=True, num_threads=1), args.repeats)
    print(f"LightGBM TreeSHAP (pred_contrib), 1 thread: {contrib / len(shown) * 1e3:6.3f} ms per row "
          f"({contrib / len(shown) / (anchor_million / 1e6):.0f}x a prediction), "
          f"{contrib * 1e3:.2f} ms for 20 shown rows")
    explain_tables(booster, rows, args.repeats)

    def compare(name: str, predict, prepared: str) -> None:
        million = median_seconds(lambda: predict(batch), args.repeats) / len(batch) * 1e6
        query = per_query_ms(predict, rows, args.repeats)
        diffs = [float(np.abs(lightgbm(X) - predict(X)).max()) for X in rows]
        same = sum(top20(lightgbm(X)) == top20(predict(X)) for X in rows)
        print(f"{name} ({prepared}): {million:6.2f} s per million rows (ratio to anchor "
              f"{anchor_million / million:.2f}x), {query:6.2f} ms per query ({anchor_query / query:.2f}x)")
        print(f"{name} vs LightGBM: largest margin difference {max(diffs):.2e}; same top 20 in {same} of "
              f"{len(rows)} queries")

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        compiled = compiled_margins(booster.model_to_string(), Path(cache), build=True)
        if compiled is None:
            print("compiled head: not measured (lleaves missing or the compilation failed)")
        else:
            compare("compiled head (lleaves), 1 thread", compiled,
                    f"compiled in {time.perf_counter() - start:.2f} s")

    onnx, converted = onnx_predictor(booster)
    if onnx is None:
        print("ONNX Runtime: not measured (pip install onnxruntime onnxmltools to compare)")
        return
    compare("ONNX Runtime, 1 thread", onnx, f"converted in {converted:.2f} s")


if __name__ == "__main__":
    main()

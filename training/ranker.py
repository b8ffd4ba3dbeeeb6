"""Train the learned ranker on a temporal split and evaluate it against the baselines.

Split (defaults): features from collaborations up to 2021, labels = new pairs formed in 2022 (training);
evaluation on 2023 with features up to 2022. The shipped model is the one trained this way, so its
report is an honest out-of-time evaluation; serving applies it to features from all years.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.catalogue import Catalogue
from recommender.evaluation.metrics import (
    PRIMARY_K,
    PRIMARY_METRIC,
    paired_bootstrap,
    ranking_report,
    recall_per_query,
)
from recommender.evaluation.tasks import Task, build_tasks
from recommender.graph import build_graph
from recommender.profiles.profiles import Profiles
from recommender.profiles.text import project_text
from recommender.ranking.features import graph_vectors, pair_features
from recommender.ranking.index import Query, RankingIndex, TextEncoderFn
from recommender.ranking.rankers import BASELINES, LearnedRanker, Ranker, TrainingSet

ProfilesAt = Callable[[int | None], Profiles]


@dataclass(frozen=True)
class TrainConfig:
    train_year: int = 2022
    eval_year: int = 2023
    max_org_queries: int = 6000
    max_text_queries: int = 1500
    negatives_per_query: int = 40
    max_eval_text_queries: int = 400
    seed: int = 0


def index_at(
    catalogue: Catalogue, profiles_at: ProfilesAt, cutoff: int | None, encode: TextEncoderFn | None, rulebook=None
) -> RankingIndex:
    """A ranking index that knows only projects of ``cutoff`` or earlier (all when None)."""
    return RankingIndex(catalogue, profiles_at(cutoff), build_graph(catalogue, cutoff), encode, rulebook)


def _sample_rows(rng: np.random.Generator, rows: np.ndarray, labels: np.ndarray, n_neg: int) -> np.ndarray:
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    if len(neg) > n_neg:
        neg = rng.choice(neg, size=n_neg, replace=False)
    return np.sort(np.concatenate([pos, neg]))


def training_set(
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    cfg: TrainConfig,
    ranker: LearnedRanker,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainingSet:
    """Feature rows from ``index`` (cutoff year-1) labelled by the pairs that formed in ``year``."""
    rng = np.random.default_rng(cfg.seed)
    projects = catalogue.projects
    year_projects = projects[projects["year"] == year]
    links = catalogue.participations
    links = links[links["project_id"].isin(year_projects["id"])]
    links = links[links["org_id"].map(lambda o: bool(index.side_masks["ANY"][index.row_of[o]]))]
    members = links.groupby("project_id")["org_id"].apply(list)
    partners: dict[str, set[str]] = {}
    for org_list in members:
        for org in org_list:
            partners.setdefault(org, set()).update(o for o in org_list if o != org)

    X: dict[str, list[np.ndarray]] = {"org": [], "text": []}
    y: dict[str, list[np.ndarray]] = {"org": [], "text": []}
    # Newcomers (no collaboration before ``year``) are queries too: the org head must learn the cold case
    # that most Korean organisations are in.
    org_queries = sorted(partners)
    # Every query organisation from outside Europe is kept (the deployment target is Korean-European
    # pairing, and third-country members of European consortia behave like Korean ones); European query
    # organisations fill the rest of the budget.
    outside = [o for o in org_queries if index.outside_europe[index.row_of[o]]]
    inside = [o for o in org_queries if not index.outside_europe[index.row_of[o]]]
    cap = 2 * cfg.max_org_queries // 3
    if len(outside) > cap:
        outside = list(rng.choice(outside, size=cap, replace=False))
    budget = max(0, cfg.max_org_queries - len(outside))
    if len(inside) > budget:
        inside = list(rng.choice(inside, size=budget, replace=False))
    org_queries = sorted(outside + inside)
    progress(f"org head: {len(org_queries)} query organisations")
    for org in org_queries:
        row = index.row_of[org]
        prior = frozenset(index.ids[index.graph.neighbours(row)])
        rq = index.resolve(Query(org_id=org, region="ANY", exclude=prior))
        graph = graph_vectors(index, rq)
        rows = ranker.candidate_rows(rq, graph)
        labels = np.isin(index.ids[rows], list(partners[org] - prior))
        if not labels.any():
            continue
        keep = _sample_rows(rng, rows, labels, cfg.negatives_per_query)
        head = ranker.head_for(rq)
        X[head].append(pair_features(index, rq, rows[keep], graph))
        y[head].append(labels[keep])

    text_projects = year_projects[year_projects["title"].notna() & year_projects["id"].isin(members.index)]
    text_projects = text_projects.sort_values("id")
    if len(text_projects) > cfg.max_text_queries:
        text_projects = text_projects.sample(n=cfg.max_text_queries, random_state=cfg.seed).sort_values("id")
    progress(f"text head: {len(text_projects)} query projects")
    queries = [
        Query(text=project_text(p.title, p.topic_title, p.objective)[0], region="ANY")
        for p in text_projects.itertuples(index=False)
    ]
    for rq, pid in zip(index.resolve_many(queries), text_projects["id"], strict=True):
        rows = ranker.candidate_rows(rq)
        labels = np.isin(index.ids[rows], members[pid])
        if not labels.any():
            continue
        keep = _sample_rows(rng, rows, labels, cfg.negatives_per_query)
        X["text"].append(pair_features(index, rq, rows[keep]))
        y["text"].append(labels[keep])
    return TrainingSet(X={h: np.vstack(v) for h, v in X.items() if v},
                       y={h: np.concatenate(v) for h, v in y.items() if v})


def recommendations_frame(ranker: Ranker, task: Task, k: int = 100) -> pd.DataFrame:
    rankings = ranker.rank_batch(task.queries, k)
    frames = [
        pd.DataFrame({"query_id": q.query_id, "item_id": ids, "rank": np.arange(1, len(ids) + 1)})
        for q, (ids, _) in zip(task.queries, rankings, strict=True)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["query_id", "item_id", "rank"])


def evaluate(rankers: dict[str, Ranker], tasks: list[Task], progress: Callable[[str], None] = lambda _: None) -> dict:
    """Metrics of every ranker on every task, and whether the learned ranker leads on the primary metric."""
    results: dict = {}
    for task in tasks:
        results[task.name] = {
            "description": task.description,
            "queries": len(task.queries),
            "relevant_pairs": int(len(task.truth)),
            "rankers": {},
        }
        per_query = {}
        for name, ranker in rankers.items():
            start = time.perf_counter()
            frame = recommendations_frame(ranker, task)
            report = ranking_report(frame, task.truth)
            per_query[name] = recall_per_query(frame, task.truth, PRIMARY_K)
            report["seconds"] = round(time.perf_counter() - start, 2)
            results[task.name]["rankers"][name] = report
            progress(f"{task.name} / {name}: {PRIMARY_METRIC} {report[PRIMARY_METRIC]:.3f}")
        if "learned" in rankers:
            scores = {n: r[PRIMARY_METRIC] for n, r in results[task.name]["rankers"].items()}
            best_baseline = max((s, n) for n, s in scores.items() if n != "learned")
            results[task.name]["learned_leads"] = scores["learned"] > best_baseline[0]
            results[task.name]["best_baseline"] = best_baseline[1]
            # How sure: per-query paired bootstrap of learned minus the best baseline (primary metric).
            results[task.name]["learned_minus_best_baseline"] = paired_bootstrap(
                per_query["learned"], per_query[best_baseline[1]]
            )
    return results


def train_and_evaluate(
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    encode: TextEncoderFn,
    rulebook,
    cfg: TrainConfig,
    progress: Callable[[str], None] = lambda _: None,
):
    """Fit the learned ranker on ``train_year`` and evaluate it and the baselines on ``eval_year``."""
    timings = {}
    start = time.perf_counter()
    train_index = index_at(catalogue, profiles_at, cfg.train_year - 1, encode, rulebook)
    ranker = LearnedRanker(train_index, random_state=cfg.seed)
    data = training_set(train_index, catalogue, cfg.train_year, cfg, ranker, progress)
    progress("training rows: " + ", ".join(f"{h} {len(v):,} ({int(v.sum()):,} positive)" for h, v in data.y.items()))
    ranker.fit(data)
    timings["train_seconds"] = round(time.perf_counter() - start, 1)

    start = time.perf_counter()
    eval_index = index_at(catalogue, profiles_at, cfg.eval_year - 1, encode, rulebook)
    learned = LearnedRanker(eval_index, **{k: v for k, v in ranker.get_params().items() if k != "candidates"})
    learned.candidates = ranker.candidates
    learned.heads_, learned.baseline_, learned.fitted_ = ranker.heads_, ranker.baseline_, True
    rankers: dict[str, Ranker] = {"learned": learned}
    for name, cls in BASELINES.items():
        rankers[name] = cls(eval_index).fit()
    tasks = build_tasks(eval_index, catalogue, cfg.eval_year, cfg.max_eval_text_queries)
    results = evaluate(rankers, tasks, progress)
    timings["evaluate_seconds"] = round(time.perf_counter() - start, 1)
    training_rows = {h: {"rows": int(len(v)), "positives": int(v.sum())} for h, v in data.y.items()}
    return ranker, results, {"timings": timings, "training_rows": training_rows}


def render_report(results: dict, meta: dict) -> str:
    lines = [
        "# Corridor ranking evaluation",
        "",
        f"Temporal split: trained on pairs formed in {meta['train_year']} (features up to "
        f"{meta['train_year'] - 1}); evaluated on {meta['eval_year']} (features up to {meta['eval_year'] - 1}).",
        f"Primary metric: {PRIMARY_METRIC}. Model: {meta.get('model_version', '?')}.",
        "",
    ]
    for task, res in results.items():
        lines += [
            f"## {task}",
            "",
            f"{res['description']}: {res['queries']} queries, {res['relevant_pairs']} relevant pairs.",
            "",
            "| ranker | Recall@10 | Recall@20 | Recall@100 | nDCG@20 | MRR |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, r in res["rankers"].items():
            lines.append(
                f"| {name} | {r['recall@10']:.3f} | {r['recall@20']:.3f} | {r['recall@100']:.3f} | "
                f"{r['ndcg@20']:.3f} | {r['mrr']:.3f} |"
            )
        if "learned_leads" in res:
            verdict = "leads" if res["learned_leads"] else "does NOT lead"
            lines += ["", f"Learned ranker {verdict} on {PRIMARY_METRIC} (best baseline: {res['best_baseline']})."]
            diff = res.get("learned_minus_best_baseline")
            if diff:
                low, high = diff["ci95"]
                lines.append(
                    f"Learned minus {res['best_baseline']}, {PRIMARY_METRIC} per query: {diff['mean']:+.3f} "
                    f"(95% interval {low:+.3f} to {high:+.3f}, paired bootstrap over queries)."
                )
        lines.append("")
    return "\n".join(lines)

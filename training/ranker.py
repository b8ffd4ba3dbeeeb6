"""Train the learned ranker on temporal splits and evaluate it against the baselines.

Training groups for a label year Y use an index that knows only projects up to Y-1; a group is one query
with its generated candidates, graded by the pairs that formed in Y:
  - organisation queries: new partners in any project of Y (2 = met in an R&D-type action, 1 = met only
    in coordination, co-fund or training actions, so that agency networks do not pass for R&D);
  - defence queries: a European EDF participant of Y asking for EDF partners (instrument edf-research),
    labelled by its new partners in EDF consortia of Y, with a larger weight (``defence_weight``);
  - defence queries with a simulated EDF record: the EDF projects of Y split in two halves by project;
    one half joins the history (as if signed the year before), the other half gives the labels. EDF
    exists only from 2022, so without this a model trained on 2022 never sees an organisation with an
    EDF record, yet at serving time that record is the strongest defence signal there is;
  - priority queries: an organisation in projects of Y tagged with a priority, asking with that priority,
    labelled by its new partners in those projects;
  - text queries: a project's text and its consortium.

Designs are judged out of time: the evaluation model is trained on the label years before the evaluation
year (features up to the year before each), the shipped model on every labelled year including the latest
(EDF history starts in 2022, so every year counts). Cross-validation inside the newest year, with folds
grouped by project, checks the shipped design on the year the evaluation model never trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.batch.context import portable_index
from recommender.batch.engines import Engine
from recommender.catalogue import Catalogue
from recommender.evaluation.metrics import (
    PRIMARY_K,
    PRIMARY_METRIC,
    paired_bootstrap,
    ranking_report,
    recall_per_query,
)
from recommender.evaluation.tasks import REQUIRED_TASKS, Task, build_tasks
from recommender.graph import build_graph
from recommender.history import action_weight
from recommender.profiles.profiles import Profiles
from recommender.profiles.text import project_text
from recommender.ranking.contract import Ranker
from recommender.ranking.features import pair_features, query_context
from recommender.ranking.index import Query, RankingIndex, ResolvedQuery, TextEncoderFn
from recommender.ranking.rankers import BASELINES, GENERATORS, LearnedRanker, TrainingSet
from training.feedback import FeedbackLabels

ProfilesAt = Callable[[int | None], Profiles]
DEFENCE_INSTRUMENT = "edf-research"


@dataclass(frozen=True)
class TrainConfig:
    label_years: tuple[int, ...] = (2022,)
    eval_year: int = 2023
    max_org_queries: int = 3000
    max_priority_queries: int = 200  # per priority and year
    max_text_queries: int = 1500
    negatives_per_query: int = 60
    defence_weight: float = 4.0
    max_eval_text_queries: int = 400
    max_eval_priority_queries: int = 120
    simulated_defence_history: bool = True
    seed: int = 0

    @property
    def train_year(self) -> int:
        return max(self.label_years)


def index_at(
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    cutoff: int | None,
    encode: TextEncoderFn | None,
    rulebook=None,
    priority_thresholds: np.ndarray | None = None,
) -> RankingIndex:
    """A ranking index that knows only projects of ``cutoff`` or earlier (all when None)."""
    return RankingIndex(
        catalogue,
        profiles_at(cutoff),
        build_graph(catalogue, cutoff),
        encode,
        rulebook,
        priority_thresholds=priority_thresholds,
    )


# ---- labels ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YearLinks:
    """Participations in projects of one year, with each project's programme, action weight and tags."""

    links: pd.DataFrame  # org_id, project_id, programme, weight
    tagged: dict[int, set[str]]  # priority column -> project ids tagged with it


def year_links(index: RankingIndex, catalogue: Catalogue, year: int, projects: set[str] | None = None) -> YearLinks:
    chosen = catalogue.projects[catalogue.projects["year"] == year].drop_duplicates("id")
    if projects is not None:
        chosen = chosen[chosen["id"].isin(projects)]
    weight = pd.Series(action_weight(chosen["type_of_action"], chosen["programme_part"]), index=chosen["id"].to_numpy())
    programme = chosen.set_index("id")["programme"]
    links = catalogue.participations
    links = links[links["project_id"].isin(chosen["id"])][["org_id", "project_id"]].drop_duplicates()
    named = links["org_id"].map(index.row_of).map(lambda r: r is not None and bool(index.side_masks["ANY"][r]))
    links = links[named.fillna(False).to_numpy(dtype=bool)]
    links = links.assign(programme=links["project_id"].map(programme), weight=links["project_id"].map(weight))
    prof = index.profiles
    tagged: dict[int, set[str]] = {}
    for p in range(prof.project_scores.shape[1]):
        hit = prof.project_scores[:, p] >= index.evidence_thresholds[p]
        tagged[p] = set(prof.project_ids[hit]) & set(chosen["id"])
    return YearLinks(links, tagged)


def new_partner_grades(index: RankingIndex, links: pd.DataFrame) -> dict[str, dict[str, int]]:
    """query org -> {new partner: grade}: 2 if they met in an R&D-type action, else 1 (coordination etc.)."""
    pairs = links.merge(links[["org_id", "project_id"]], on="project_id", suffixes=("", "_c"))
    pairs = pairs[pairs["org_id"] != pairs["org_id_c"]]
    grade = np.where(pairs["weight"].to_numpy() >= 0.5, 2, 1)
    pairs = pairs.assign(grade=grade).groupby(["org_id", "org_id_c"], sort=True)["grade"].max().reset_index()
    rows_q = pairs["org_id"].map(index.row_of).to_numpy()
    rows_c = pairs["org_id_c"].map(index.row_of).to_numpy()
    known = np.asarray(index.graph.adjacency[rows_q, rows_c]).ravel() > 0
    pairs = pairs[~known]
    out: dict[str, dict[str, int]] = {}
    for q, c, g in pairs.itertuples(index=False):
        out.setdefault(q, {})[c] = int(g)
    return out


# ---- groups ------------------------------------------------------------------------------------------------
@dataclass
class _Groups:
    X: dict[str, list[np.ndarray]] = field(default_factory=lambda: {h: [] for h in LearnedRanker.HEADS})
    y: dict[str, list[np.ndarray]] = field(default_factory=lambda: {h: [] for h in LearnedRanker.HEADS})
    weights: dict[str, list[float]] = field(default_factory=lambda: {h: [] for h in LearnedRanker.HEADS})
    kinds: dict[str, int] = field(default_factory=dict)

    def training_set(self) -> TrainingSet:
        heads = [h for h in self.X if self.X[h]]
        return TrainingSet(
            X={h: np.vstack(self.X[h]) for h in heads},
            y={h: np.concatenate(self.y[h]) for h in heads},
            groups={h: np.array([len(v) for v in self.y[h]], dtype=np.int64) for h in heads},
            weights={h: np.asarray(self.weights[h], dtype=np.float64) for h in heads},
        )


@dataclass(frozen=True)
class GroupSpec:
    """One training group to build: its query (resolved in the driver, where the encoder is), labels by
    organisation id and weight. ``extra`` candidates join even if no generator proposes them; ``keep``
    negatives are never sampled away (feedback's explicit negatives)."""

    kind: str
    query: ResolvedQuery
    grades: Mapping[str, int]
    weight: float
    extra: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Candidates:
    """A group's candidate rows, their labels, and which of them are kept negatives."""

    rows: np.ndarray
    labels: np.ndarray
    kept: np.ndarray


def _candidates(ranker: LearnedRanker, index: RankingIndex, spec: GroupSpec, ctx) -> _Candidates | None:
    """The spec's generated candidates (and its ``extra`` ones), labelled; None without a positive (a group
    without one gives a ranker nothing to order)."""
    rq = spec.query
    rows = ranker.candidate_rows(index, rq, ctx)
    if spec.extra:
        told = np.array([index.row_of[c] for c in spec.extra], dtype=np.int64)
        rows = np.unique(np.concatenate([rows, told]))
        rows = rows[rows != rq.row]
    if len(rows) == 0:
        return None
    labels = np.array([spec.grades.get(i, 0) for i in index.ids[rows]], dtype=np.int64)
    if not labels.any():
        return None
    kept = np.isin(rows, [index.row_of[c] for c in spec.keep]) & (labels == 0)
    return _Candidates(rows, labels, kept)


def _chosen(candidates: _Candidates, rng: np.random.Generator, n_neg: int) -> np.ndarray:
    """Positions of the group's rows to train on: positives, ``n_neg`` negatives drawn from ``rng``, kept
    negatives."""
    labels, kept = candidates.labels, candidates.kept
    pos, neg = np.flatnonzero(labels), np.flatnonzero((labels == 0) & ~kept)
    if len(neg) > n_neg:
        neg = rng.choice(neg, size=n_neg, replace=False)
    return np.sort(np.concatenate([pos, neg, np.flatnonzero(kept)]))


def _candidates_chunk(context: tuple, specs: list[GroupSpec]) -> list[_Candidates | None]:
    ranker, index = context
    return [_candidates(ranker, index, spec, query_context(index, spec.query)) for spec in specs]


def _features_chunk(context: tuple, work: list[tuple[GroupSpec, np.ndarray]]) -> list[np.ndarray]:
    ranker, index = context
    return [pair_features(index, query_context(index, spec.query), rows) for spec, rows in work]


SPECS_PER_CHUNK = 32


class GroupBuilder:
    """Builds training groups into ``groups``, in this process or on an engine's workers (local processes or
    Ray tasks), with one random stream per label year, drawn in group order: every engine builds the same
    training set as this process, array for array.

    In this process a group is built when it is added. With an engine, groups wait until :meth:`flush`:
    their candidates are generated on the workers, the driver draws the negatives in group order, then the
    workers compute the chosen pairs' features. Any other draw from the stream goes through :meth:`sample`,
    which flushes first, so draws keep their order."""

    def __init__(self, groups: _Groups, ranker: LearnedRanker, index: RankingIndex, rng: np.random.Generator,
                 n_neg: int, engine: Engine | None = None) -> None:
        self.groups, self.ranker, self.index, self.rng, self.n_neg = groups, ranker, index, rng, n_neg
        self.engine = engine
        self._pending: list[GroupSpec] = []
        self.added = 0

    def add(self, spec: GroupSpec) -> None:
        if self.engine is not None:
            self._pending.append(spec)
            return
        ctx = query_context(self.index, spec.query)
        candidates = _candidates(self.ranker, self.index, spec, ctx)
        if candidates is not None:
            chosen = _chosen(candidates, self.rng, self.n_neg)
            self._append(spec, pair_features(self.index, ctx, candidates.rows[chosen]), candidates.labels[chosen])

    def sample(self, items: list[str], n: int) -> list[str]:
        """``n`` of ``items`` (all, sorted, when there are at most ``n``), drawn from the year's stream."""
        items = sorted(items)
        if len(items) <= n:
            return items
        self.flush()
        return sorted(self.rng.choice(items, size=n, replace=False))

    def flush(self) -> None:
        specs, self._pending = self._pending, []
        if not specs or self.engine is None:
            return
        context = (self.ranker, portable_index(self.index))
        chunks = [specs[i : i + SPECS_PER_CHUNK] for i in range(0, len(specs), SPECS_PER_CHUNK)]
        found = [c for chunk in self.engine.map(_candidates_chunk, context, chunks) for c in chunk]
        work = []
        for spec, candidates in zip(specs, found, strict=True):
            if candidates is not None:
                chosen = _chosen(candidates, self.rng, self.n_neg)
                work.append((spec, candidates.rows[chosen], candidates.labels[chosen]))
        feature_chunks = [[(spec, rows) for spec, rows, _ in work[i : i + SPECS_PER_CHUNK]]
                          for i in range(0, len(work), SPECS_PER_CHUNK)]
        features = [X for chunk in self.engine.map(_features_chunk, context, feature_chunks) for X in chunk]
        for (spec, _, labels), X in zip(work, features, strict=True):
            self._append(spec, X, labels)

    def _append(self, spec: GroupSpec, X: np.ndarray, labels: np.ndarray) -> None:
        head = self.ranker.head_for(spec.query)
        self.groups.X[head].append(X)
        self.groups.y[head].append(labels)
        self.groups.weights[head].append(spec.weight)
        self.groups.kinds[spec.kind] = self.groups.kinds.get(spec.kind, 0) + 1
        self.added += 1


def year_groups(
    ranker: LearnedRanker,
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    cfg: TrainConfig,
    groups: _Groups,
    projects: set[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    engine: Engine | None = None,
) -> None:
    """Add the training groups whose labels formed in ``year`` (``index`` knows up to year-1)."""
    builder = GroupBuilder(groups, ranker, index, np.random.default_rng(cfg.seed + year), cfg.negatives_per_query,
                           engine)
    yl = year_links(index, catalogue, year, projects)

    grades = new_partner_grades(index, yl.links)
    # Every query organisation from outside Europe is kept (Korean-European pairing is the deployment
    # target); European ones fill the rest of the budget.
    outside = [o for o in grades if index.outside_europe[index.row_of[o]]]
    inside = [o for o in grades if not index.outside_europe[index.row_of[o]]]
    chosen = builder.sample(outside, 2 * cfg.max_org_queries // 3)
    chosen += builder.sample(inside, max(0, cfg.max_org_queries - len(chosen)))
    progress(f"{year}: {len(chosen)} organisation queries")
    for org in chosen:
        builder.add(GroupSpec("organisation", index.resolve(Query(org_id=org)), grades[org], 1.0))

    edf = yl.links[yl.links["programme"] == "edf"]
    edf_grades = new_partner_grades(index, edf)
    europeans = [o for o in edf_grades if index.side_masks["EU"][index.row_of[o]]]
    progress(f"{year}: {len(europeans)} defence queries")
    for org in sorted(europeans):
        query = Query(org_id=org, region="EU", instrument=DEFENCE_INSTRUMENT)
        builder.add(GroupSpec("defence", index.resolve(query), edf_grades[org], cfg.defence_weight))

    for p, pid in enumerate(index.profiles.taxonomy.ids):
        in_priority = yl.links[yl.links["project_id"].isin(yl.tagged[p])]
        if in_priority.empty:
            continue
        p_grades = new_partner_grades(index, in_priority)
        for org in builder.sample(list(p_grades), cfg.max_priority_queries):
            query = Query(org_id=org, priority=pid)
            builder.add(GroupSpec("priority", index.resolve(query), p_grades[org], 1.0))

    projects_frame = catalogue.projects
    text_projects = projects_frame[
        (projects_frame["year"] == year)
        & projects_frame["title"].notna()
        & projects_frame["id"].isin(yl.links["project_id"])
    ].drop_duplicates("id").sort_values("id")
    if len(text_projects) > cfg.max_text_queries:
        text_projects = text_projects.sample(n=cfg.max_text_queries, random_state=cfg.seed).sort_values("id")
    members = yl.links.groupby("project_id")["org_id"].apply(list)
    progress(f"{year}: {len(text_projects)} text queries")
    texts = [project_text(p.title, p.topic_title, p.objective)[0] for p in text_projects.itertuples(index=False)]
    resolved = index.resolve_many([Query(text=t) for t in texts])
    for rq, pid, prog in zip(resolved, text_projects["id"], text_projects["programme"], strict=True):
        weight = cfg.defence_weight if prog == "edf" else 1.0
        builder.add(GroupSpec("text", rq, {o: 1 for o in members.get(pid, [])}, weight))
    builder.flush()


def with_half_of_a_year_as_history(catalogue: Catalogue, year: int, half: set[str]) -> Catalogue:
    """The catalogue with the projects in ``half`` (of ``year``) moved to the year before, so that an index
    with cut-off ``year - 1`` counts them as history."""
    projects = catalogue.projects.copy()
    moved = projects["id"].isin(half).to_numpy()
    projects.loc[moved, "year"] = year - 1
    return Catalogue(catalogue.organisations, projects, catalogue.participations)


def simulated_defence_groups(
    ranker: LearnedRanker,
    catalogue: Catalogue,
    profiles: Profiles,
    encode: TextEncoderFn | None,
    rulebook,
    thresholds: np.ndarray | None,
    year: int,
    cfg: TrainConfig,
    groups: _Groups,
    projects: set[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    engine: Engine | None = None,
) -> None:
    """Defence groups of ``year`` whose history holds half of that year's EDF projects (see the module
    docstring); each half is history once and labels once."""
    chosen = catalogue.projects[(catalogue.projects["year"] == year) & (catalogue.projects["programme"] == "edf")]
    ids = np.array(sorted(set(chosen["id"]) & (projects if projects is not None else set(chosen["id"]))))
    if len(ids) < 4:
        return
    halves = np.random.default_rng(cfg.seed + year).permutation(len(ids)) % 2
    rng = np.random.default_rng(cfg.seed + year + 1)
    for h in (0, 1):
        history, labels = set(ids[halves == h]), set(ids[halves != h])
        shifted = with_half_of_a_year_as_history(catalogue, year, history)
        index = RankingIndex(
            shifted, profiles, build_graph(shifted, year - 1), encode, rulebook, priority_thresholds=thresholds
        )
        yl = year_links(index, catalogue, year, labels)
        grades = new_partner_grades(index, yl.links)
        europeans = sorted(o for o in grades if index.side_masks["EU"][index.row_of[o]])
        progress(f"{year}: {len(europeans)} defence queries with half of the year's EDF projects as history")
        builder = GroupBuilder(groups, ranker, index, rng, cfg.negatives_per_query, engine)
        for org in europeans:
            query = Query(org_id=org, region="EU", instrument=DEFENCE_INSTRUMENT)
            builder.add(GroupSpec("defence-simulated", index.resolve(query), grades[org], cfg.defence_weight))
        builder.flush()


def feedback_groups(
    ranker: LearnedRanker,
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    cfg: TrainConfig,
    groups: _Groups,
    feedback: FeedbackLabels,
    weight: float,
    engine: Engine | None = None,
) -> int:
    """One organisation group per query organisation with usable feedback, at label year ``year`` (see
    training/feedback.py): its generated candidates, its real new partners of ``year`` (facts win), the
    feedback pairs (explicit negatives always kept) and sampled negatives. The number of groups added."""
    rng = np.random.default_rng(cfg.seed + 104_729 + year)
    builder = GroupBuilder(groups, ranker, index, rng, cfg.negatives_per_query, engine)
    facts = new_partner_grades(index, year_links(index, catalogue, year).links)
    for query, labelled in sorted(feedback.labels.items()):
        grades = dict(facts.get(query, {}))
        for candidate, label in labelled.items():
            if label:
                grades[candidate] = max(grades.get(candidate, 0), 1)
        negatives = tuple(c for c, label in labelled.items() if not label)
        builder.add(GroupSpec("feedback", index.resolve(Query(org_id=query)), grades, weight, tuple(labelled),
                              negatives))
    builder.flush()
    return builder.added


def training_set(
    indexes: dict[int, RankingIndex],
    catalogue: Catalogue,
    cfg: TrainConfig,
    ranker: LearnedRanker,
    projects: dict[int, set[str]] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    feedback: FeedbackLabels | None = None,
    engine: Engine | None = None,
) -> tuple[TrainingSet, dict[str, int]]:
    """Groups of every label year (``indexes[year]`` knows up to year-1); ``projects`` restricts a year's
    labels to some of its projects (for folds grouped by project). ``feedback`` adds its groups at the newest
    label year, weighted as training/feedback.py says. ``engine`` builds the groups on its workers (the same
    training set as this process builds)."""
    groups = _Groups()
    for year in cfg.label_years:
        index = indexes[year]
        subset = (projects or {}).get(year)
        before = groups.kinds.get("organisation", 0)
        year_groups(ranker, index, catalogue, year, cfg, groups, subset, progress, engine)
        if feedback is not None and feedback.labels and year == cfg.train_year:
            weight = feedback.group_weight(groups.kinds.get("organisation", 0) - before)
            added = feedback_groups(ranker, index, catalogue, year, cfg, groups, feedback, weight, engine)
            progress(f"{year}: {added} feedback groups (weight {weight:.3f} each)")
        if cfg.simulated_defence_history:
            simulated_defence_groups(
                ranker, catalogue, index.profiles, index.encode_texts, index.rulebook, index.priority_thresholds,
                year, cfg, groups, subset, progress, engine,
            )
    return groups.training_set(), dict(groups.kinds)


# ---- evaluation ----------------------------------------------------------------------------------------------
def recommendations_frame(index: RankingIndex, ranker: Ranker, task: Task, k: int = 100) -> pd.DataFrame:
    rankings = ranker.rank_batch(index, task.queries, k)
    frames = [
        pd.DataFrame({"query_id": q.query_id, "item_id": ids, "rank": np.arange(1, len(ids) + 1)})
        for q, (ids, _) in zip(task.queries, rankings, strict=True)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["query_id", "item_id", "rank"])


def generator_recall(ranker: LearnedRanker, index: RankingIndex, task: Task) -> dict[str, float]:
    """Share of the task's relevant pairs that each candidate generator, and their union (pool), reaches."""
    truth = task.truth.groupby("query_id")["item_id"].apply(set)
    found = dict.fromkeys((*GENERATORS, "pool"), 0)
    total = 0
    for q, rq in zip(task.queries, index.resolve_many(task.queries), strict=True):
        relevant = truth.get(q.query_id, set())
        total += len(relevant)
        parts = ranker.generator_rows(index, rq)
        for name, rows in parts.items():
            found[name] += len(relevant & set(index.ids[rows]))
        pool = np.unique(np.concatenate(list(parts.values())))
        found["pool"] += len(relevant & set(index.ids[pool]))
    return {name: round(n / total, 4) if total else 0.0 for name, n in found.items()}


CURRENT = "current model"  # the served model, evaluated beside a retrained one (not a baseline)


def evaluate(
    index: RankingIndex,
    rankers: Mapping[str, Ranker],
    tasks: list[Task],
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Metrics of every ranker on every task over ``index`` (the index the tasks were built from), whether
    the learned ranker leads the best baseline on the primary metric (with a paired bootstrap interval), and
    the recall of its candidate generators."""
    results: dict = {}
    for task in tasks:
        results[task.name] = {
            "description": task.description,
            "queries": len(task.queries),
            "relevant_pairs": int(len(task.truth)),
            "required": task.name in REQUIRED_TASKS,
            "rankers": {},
        }
        per_query = {}
        for name, ranker in rankers.items():
            start = time.perf_counter()
            frame = recommendations_frame(index, ranker, task)
            report = ranking_report(frame, task.truth)
            per_query[name] = recall_per_query(frame, task.truth, PRIMARY_K)
            report["seconds"] = round(time.perf_counter() - start, 2)
            results[task.name]["rankers"][name] = report
            progress(f"{task.name} / {name}: {PRIMARY_METRIC} {report[PRIMARY_METRIC]:.3f}")
        if "learned" in rankers:
            learned = rankers["learned"]
            scores = {n: r[PRIMARY_METRIC] for n, r in results[task.name]["rankers"].items()}
            best_baseline = max((s, n) for n, s in scores.items() if n not in ("learned", CURRENT))
            results[task.name]["learned_leads"] = scores["learned"] > best_baseline[0]
            results[task.name]["best_baseline"] = best_baseline[1]
            results[task.name]["learned_minus_best_baseline"] = paired_bootstrap(
                per_query["learned"], per_query[best_baseline[1]]
            )
            if CURRENT in rankers:
                results[task.name]["learned_minus_current"] = paired_bootstrap(per_query["learned"],
                                                                               per_query[CURRENT])
            if isinstance(learned, LearnedRanker) and task.queries:
                results[task.name]["generator_recall"] = generator_recall(learned, index, task)
    return results


def gate(results: dict) -> tuple[bool, list[str]]:
    """Promotion gate: the learned ranker must lead the best baseline on every required task."""
    failing = [
        t for t, r in results.items() if r.get("required", t in REQUIRED_TASKS) and not r.get("learned_leads", False)
    ]
    return not failing, failing


def fit_ranker(
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    encode: TextEncoderFn,
    rulebook,
    cfg: TrainConfig,
    thresholds: np.ndarray | None = None,
    progress: Callable[[str], None] = lambda _: None,
    projects: dict[int, set[str]] | None = None,
    feedback: FeedbackLabels | None = None,
    engine: Engine | None = None,
) -> tuple[LearnedRanker, dict]:
    """Fit on ``cfg.label_years`` (each with an index that knows only the years before it), with
    ``feedback``'s groups at the newest of them; ``engine`` builds the training groups."""
    start = time.perf_counter()
    indexes = {y: index_at(catalogue, profiles_at, y - 1, encode, rulebook, thresholds) for y in cfg.label_years}
    ranker = LearnedRanker(random_state=cfg.seed)
    data, kinds = training_set(indexes, catalogue, cfg, ranker, projects, progress, feedback, engine)
    rows = ", ".join(f"{h} {len(v):,} ({int((v > 0).sum()):,} positive)" for h, v in data.y.items())
    progress(f"training rows: {rows}")
    ranker.fit(indexes[cfg.label_years[0]], data)
    meta = {
        "train_seconds": round(time.perf_counter() - start, 1),
        "training_rows": {
            h: {"rows": int(len(v)), "positives": int((v > 0).sum()), "groups": int(len(data.groups[h]))}
            for h, v in data.y.items()
        },
        "training_groups": kinds,
        "label_years": list(cfg.label_years),
    }
    return ranker, meta


def evaluate_design(
    ranker: LearnedRanker,
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    encode: TextEncoderFn,
    rulebook,
    cfg: TrainConfig,
    thresholds: np.ndarray | None = None,
    progress: Callable[[str], None] = lambda _: None,
    current: Ranker | None = None,
) -> dict:
    """The learned ranker and every baseline on the tasks of ``cfg.eval_year`` (features up to the year before);
    ``current``, the served model, too, when it can be compared (it never saw ``cfg.eval_year``)."""
    eval_index = index_at(catalogue, profiles_at, cfg.eval_year - 1, encode, rulebook, thresholds)
    rankers: dict[str, Ranker] = {"learned": ranker}
    if current is not None:
        rankers[CURRENT] = current
    for name, cls in BASELINES.items():
        rankers[name] = cls().fit(eval_index)
    tasks = build_tasks(
        eval_index, catalogue, cfg.eval_year, cfg.max_eval_text_queries, cfg.max_eval_priority_queries
    )
    return evaluate(eval_index, rankers, tasks, progress)


def train_and_evaluate(
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    encode: TextEncoderFn,
    rulebook,
    cfg: TrainConfig,
    thresholds: np.ndarray | None = None,
    progress: Callable[[str], None] = lambda _: None,
    current: Ranker | None = None,
    engine: Engine | None = None,
):
    """Fit on the label years before ``cfg.eval_year`` and evaluate on it (beside ``current``, if given)."""
    ranker, meta = fit_ranker(catalogue, profiles_at, encode, rulebook, cfg, thresholds, progress, engine=engine)
    start = time.perf_counter()
    results = evaluate_design(ranker, catalogue, profiles_at, encode, rulebook, cfg, thresholds, progress, current)
    meta["timings"] = {
        "train_seconds": meta.pop("train_seconds"),
        "evaluate_seconds": round(time.perf_counter() - start, 1),
    }
    return ranker, results, meta


def render_report(results: dict, meta: dict) -> str:
    years = meta.get("evaluation_label_years") or [meta["eval_year"] - 1]
    lines = [
        "# Corridor ranking evaluation",
        "",
        f"Temporal split: the evaluated model was trained on pairs formed in {', '.join(map(str, years))} "
        f"(features of each year from the years before it) and is judged on {meta['eval_year']} (features up to "
        f"{meta['eval_year'] - 1}). Every ranker leaves the query's past partners and funding bodies out, and with "
        "a priority keeps only organisations with demonstrated capability in it.",
        f"Primary metric: {PRIMARY_METRIC}. Model: {meta.get('model_version', '?')}.",
        "",
    ]
    for task, res in results.items():
        lines += [
            f"## {task}{'' if res.get('required', True) else ' (supplementary)'}",
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
        recall = res.get("generator_recall")
        if recall:
            lines += [
                "",
                "Candidate generators, share of relevant pairs reached: "
                + ", ".join(f"{name} {value:.3f}" for name, value in recall.items() if name != "pool")
                + f"; pool (union) {recall['pool']:.3f}.",
            ]
        lines.append("")
    cv = meta.get("newest_year_cv")
    if cv:
        lines += [
            f"## Cross-validation inside {cv['year']} (shipped design, folds grouped by project)",
            "",
            f"{cv['folds']} folds: trained on {', '.join(map(str, cv['train_years']))} plus the other folds' "
            f"projects of {cv['year']}, judged on the held-out projects' new pairs ({PRIMARY_METRIC}, "
            "mean over folds).",
            "",
            "| task | learned | best baseline | learned leads in folds |",
            "|---|---:|---|---:|",
        ]
        for task, r in cv["tasks"].items():
            lines.append(
                f"| {task} | {r['learned']:.3f} | {r['best_baseline']} {r['best']:.3f} | {r['leads']}/{cv['folds']} |"
            )
        lines.append("")
    return "\n".join(lines)


def newest_year_cv(
    catalogue: Catalogue,
    profiles_at: ProfilesAt,
    encode: TextEncoderFn,
    rulebook,
    cfg: TrainConfig,
    folds: int,
    thresholds: np.ndarray | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Cross-validation of the shipped design inside its newest label year, folds grouped by project: each
    fold trains on the earlier years plus the other folds' projects and is judged on its own projects."""
    year = max(cfg.label_years)
    projects = catalogue.projects
    ids = np.array(sorted(set(projects.loc[projects["year"] == year, "id"])), dtype=object)
    assignment = np.random.default_rng(cfg.seed).permutation(len(ids)) % folds
    eval_index = index_at(catalogue, profiles_at, year - 1, encode, rulebook, thresholds)
    per_task: dict[str, dict[str, list[float]]] = {}
    leads: dict[str, int] = {}
    for f in range(folds):
        held_out = set(ids[assignment == f])
        progress(f"newest-year CV: fold {f + 1}/{folds}")
        ranker, _ = fit_ranker(
            catalogue, profiles_at, encode, rulebook, cfg, thresholds, progress, {year: set(ids) - held_out}
        )
        rankers: dict[str, Ranker] = {"learned": ranker}
        rankers.update({name: cls().fit(eval_index) for name, cls in BASELINES.items()})
        tasks = build_tasks(
            eval_index, catalogue, year, cfg.max_eval_text_queries, cfg.max_eval_priority_queries, held_out
        )
        results = evaluate(eval_index, rankers, tasks, progress)
        for task, res in results.items():
            for name, r in res["rankers"].items():
                per_task.setdefault(task, {}).setdefault(name, []).append(r[PRIMARY_METRIC])
            leads[task] = leads.get(task, 0) + int(res.get("learned_leads", False))
    summary = {}
    for task, by_ranker in per_task.items():
        means = {name: float(np.mean(v)) for name, v in by_ranker.items()}
        best = max((s, n) for n, s in means.items() if n != "learned")
        summary[task] = {"learned": means["learned"], "best_baseline": best[1], "best": best[0], "leads": leads[task]}
    return {"year": year, "folds": folds, "train_years": [y for y in cfg.label_years if y < year], "tasks": summary}

"""Train and evaluate the priority tagger on weak labels, with a time split.

Labels come from CORDIS metadata (EuroSciVoc paths, policy priorities, call topics), which only Horizon
Europe projects carry. Evaluation trains on projects signed up to ``test_year - 1`` and tests on
``test_year``; per-priority decision thresholds of every method are tuned on training data only.
Compared methods: term matching alone (threshold on term counts), embedding similarity alone (threshold
on cosine to the priority description), and the calibrated combined tagger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import GroupKFold

from recommender.catalogue.build import Catalogue
from recommender.profiles.priorities import ThresholdBaseline, priority_features
from recommender.profiles.profiles import TextEncoder
from recommender.profiles.tagger import PriorityTagger
from recommender.profiles.taxonomy import Taxonomy, TermMatcher, has_weak_label_metadata, weak_labels
from recommender.profiles.text import project_text


@dataclass
class TaggingData:
    project_ids: np.ndarray
    years: np.ndarray
    vectors: np.ndarray
    term_counts: np.ndarray
    description_vectors: np.ndarray
    labels: np.ndarray
    texts: list[str]
    topics: np.ndarray  # call topic code (the project id when there is none): the unit of CV folds

    def features(self, rows: np.ndarray) -> np.ndarray:
        return priority_features(self.vectors[rows], self.term_counts[rows], self.description_vectors)

    def texts_of(self, rows: np.ndarray) -> list[str]:
        return [self.texts[i] for i in rows]


def tagging_data(
    catalogue: Catalogue, encoder: TextEncoder, taxonomy: Taxonomy, show_progress: bool = False
) -> TaggingData:
    projects = catalogue.projects
    projects = projects[has_weak_label_metadata(projects) & projects["title"].notna()].reset_index(drop=True)
    texts = [project_text(r.title, r.topic_title, r.objective)[0] for r in projects.itertuples(index=False)]
    return TaggingData(
        project_ids=projects["id"].to_numpy(dtype=object),
        years=projects["year"].astype(int).to_numpy(),
        vectors=encoder.encode(texts, show_progress=show_progress),
        term_counts=TermMatcher(taxonomy).counts(texts),
        description_vectors=encoder.encode([p.description for p in taxonomy.priorities]),
        labels=weak_labels(projects, taxonomy),
        texts=texts,
        topics=projects["topic"].fillna(projects["id"]).astype(str).to_numpy(dtype=object),
    )


def weak_labels_sha256(catalogue: Catalogue, taxonomy: Taxonomy) -> str:
    """A digest of the tagger's training labels: which projects carry weak labels, and which labels. The
    tagger is retrained when it changes (new or changed projects with EuroSciVoc paths or call topics)."""
    import hashlib

    projects = catalogue.projects
    projects = projects[has_weak_label_metadata(projects) & projects["title"].notna()].sort_values("id")
    digest = hashlib.sha256(taxonomy.version.encode())
    digest.update("\n".join(projects["id"].astype(str)).encode())
    digest.update(np.packbits(weak_labels(projects.reset_index(drop=True), taxonomy), axis=None).tobytes())
    return digest.hexdigest()


MIN_POSITIVES = 10  # a priority enters macro-F1 only with this many positives in training and in test


def _scores(y_true: np.ndarray, y_pred: np.ndarray, ids: list[str], scored: list[str]) -> dict:
    per = {}
    for j, pid in enumerate(ids):
        per[pid] = {
            "f1": float(f1_score(y_true[:, j], y_pred[:, j], zero_division=0)),
            "precision": float(precision_score(y_true[:, j], y_pred[:, j], zero_division=0)),
            "recall": float(recall_score(y_true[:, j], y_pred[:, j], zero_division=0)),
        }
    return {"macro_f1": float(np.mean([per[p]["f1"] for p in scored])), "per_priority": per}


def bootstrap_macro_f1_difference(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, columns: list[int], n: int = 1000, seed: int = 0
) -> dict:
    """Paired bootstrap over test rows of macro-F1(a) - macro-F1(b): mean and 95% interval."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(y_true), np.full(len(y_true), 1 / len(y_true)), size=n).astype(np.float64)
    y = y_true[:, columns].astype(np.float64)

    def macro(pred: np.ndarray) -> np.ndarray:
        p = pred[:, columns].astype(np.float64)
        tp, fp, fn = weights @ (y * p), weights @ ((1 - y) * p), weights @ (y * (1 - p))
        denom = 2 * tp + fp + fn
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0).mean(axis=1)

    diff = macro(pred_a) - macro(pred_b)
    low, high = np.quantile(diff, [0.025, 0.975])
    return {"mean": float(diff.mean()), "ci95": [float(low), float(high)], "resamples": n}


def evaluate_tagging(data: TaggingData, taxonomy: Taxonomy, test_year: int, random_state: int = 0) -> dict:
    """Macro-F1 per priority on ``test_year`` for term matching, embedding similarity and the tagger."""
    train = np.flatnonzero(data.years < test_year)
    test = np.flatnonzero(data.years == test_year)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"time split at {test_year} leaves an empty side ({len(train)} train, {len(test)} test)")
    ids = taxonomy.ids
    y_train, y_test = data.labels[train], data.labels[test]
    sims = data.vectors @ data.description_vectors.T
    terms = ThresholdBaseline().fit(data.term_counts[train].astype(float), y_train)
    embed = ThresholdBaseline().fit(sims[train], y_train)
    tagger = PriorityTagger(random_state=random_state).fit(data.features(train), y_train, data.texts_of(train))
    scored = [
        pid for j, pid in enumerate(ids) if y_train[:, j].sum() >= MIN_POSITIVES and y_test[:, j].sum() >= MIN_POSITIVES
    ]
    methods = {
        "term matching": terms.predict(data.term_counts[test].astype(float)),
        "embedding similarity": embed.predict(sims[test]),
        "combined tagger": tagger.predict(data.features(test), data.texts_of(test)),
    }
    cols = [ids.index(p) for p in scored]
    tagger_vs = {
        name: bootstrap_macro_f1_difference(y_test, methods["combined tagger"], pred, cols)
        for name, pred in methods.items()
        if name != "combined tagger"
    }
    return {
        "tagger_minus_baseline": tagger_vs,
        "split": {
            "train_years": f"<= {test_year - 1}",
            "test_year": test_year,
            "train_projects": int(len(train)),
            "test_projects": int(len(test)),
        },
        "support": {
            pid: {"train": int(y_train[:, j].sum()), "test": int(y_test[:, j].sum())} for j, pid in enumerate(ids)
        },
        "methods": {name: _scores(y_test, pred, ids, scored) for name, pred in methods.items()},
        "macro_over": scored,
        "taxonomy_version": taxonomy.version,
    }


def render_markdown(report: dict) -> str:
    methods = list(report["methods"])
    split = report["split"]
    lines = [
        "# Priority tagging evaluation",
        "",
        f"Time split: train on projects signed {split['train_years']} "
        f"({split['train_projects']:,} projects), test on {split['test_year']} ({split['test_projects']:,}). "
        "Labels: weak labels from EuroSciVoc paths, policy priorities and call topics "
        f"(taxonomy {report['taxonomy_version']}). Thresholds tuned on the training years only.",
        "",
        "| priority | test positives | " + " | ".join(f"F1 {m}" for m in methods) + " |",
        "|---|---:|" + "---:|" * len(methods),
    ]
    for pid, support in report["support"].items():
        cells = [f"{report['methods'][m]['per_priority'][pid]['f1']:.3f}" for m in methods]
        mark = "" if pid in report["macro_over"] else " (too few labels: not in macro-F1)"
        lines.append(f"| {pid}{mark} | {support['test']} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **macro-F1** ({len(report['macro_over'])} priorities) | | "
        + " | ".join(f"**{report['methods'][m]['macro_f1']:.3f}**" for m in methods)
        + " |"
    )
    best = max(methods, key=lambda m: report["methods"][m]["macro_f1"])
    lines += [
        "",
        f"Best macro-F1: {best}. A priority counts in macro-F1 when it has at least {MIN_POSITIVES} "
        "weak-labelled projects in both the training years and the test year.",
        "",
        "Combined tagger minus each baseline, macro-F1, paired bootstrap over test projects "
        f"({next(iter(report['tagger_minus_baseline'].values()))['resamples']} resamples):",
        "",
    ]
    for name, diff in report["tagger_minus_baseline"].items():
        low, high = diff["ci95"]
        lines.append(f"- vs {name}: {diff['mean']:+.3f} (95% interval {low:+.3f} to {high:+.3f})")
    return "\n".join(lines) + "\n"


def select_regularisation(
    data: TaggingData,
    test_year: int,
    Cs: tuple[float, ...] = (0.25, 1.0, 4.0),
    folds: int = 5,
    progress=lambda _: None,
) -> dict:
    """Choose the tagger's C by cross-validation inside the years before ``test_year`` only.

    Folds are grouped by call topic: a new year brings new topics, and random folds would put projects of
    one topic (shared wording, topic-code labels) on both sides, rewarding memorised topic words.
    Term matching is scored on the same folds for reference. The held-out year is never read.
    """
    train = np.flatnonzero(data.years < test_year)
    Y = data.labels
    methods: dict[str, list[float]] = {"term matching": [], **{f"tagger C={c:g}": [] for c in Cs}}
    for k, (a, b) in enumerate(GroupKFold(folds).split(train, groups=data.topics[train])):
        tr, te = train[a], train[b]
        cols = [j for j in range(Y.shape[1]) if Y[tr, j].sum() >= MIN_POSITIVES and Y[te, j].sum() >= 3]

        def macro(pred: np.ndarray, te=te, cols=cols) -> float:
            return float(np.mean([f1_score(Y[te, j], pred[:, j], zero_division=0) for j in cols]))

        terms = ThresholdBaseline().fit(data.term_counts[tr].astype(float), Y[tr])
        methods["term matching"].append(macro(terms.predict(data.term_counts[te].astype(float))))
        for c in Cs:
            tagger = PriorityTagger(C=c).fit(data.features(tr), Y[tr], data.texts_of(tr))
            methods[f"tagger C={c:g}"].append(macro(tagger.predict(data.features(te), data.texts_of(te))))
        progress(f"fold {k + 1}/{folds}: " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in methods.items()))
    means = {m: float(np.mean(v)) for m, v in methods.items()}
    best = max(Cs, key=lambda c: (means[f"tagger C={c:g}"], -c))  # ties: the stronger regularisation
    return {"train_years": f"<= {test_year - 1}", "folds": methods, "mean_macro_f1": means, "chosen_C": best}


def render_selection(report: dict) -> str:
    n_folds = len(next(iter(report["folds"].values())))
    lines = [
        "# Priority tagger: choice of regularisation",
        "",
        f"Cross-validation on projects signed {report['train_years']} only, folds grouped by call topic. "
        "Macro-F1 per fold and mean:",
        "",
        "| method | " + " | ".join(f"fold {i + 1}" for i in range(n_folds)) + " | mean |",
        "|---|" + "---:|" * (n_folds + 1),
    ]
    for name, values in report["folds"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values)
                     + f" | **{report['mean_macro_f1'][name]:.3f}** |")
    lines += ["", f"Chosen: C={report['chosen_C']:g} (the PriorityTagger default)."]
    return "\n".join(lines) + "\n"


def train_tagger(data: TaggingData, random_state: int = 0) -> PriorityTagger:
    """The shipped tagger: trained on every labelled project (all years)."""
    rows = np.arange(len(data.labels))
    return PriorityTagger(random_state=random_state).fit(data.features(rows), data.labels, data.texts)


def train_and_save_tagger(catalogue: Catalogue, encoder: TextEncoder, taxonomy: Taxonomy, target, test_year: int,
                          weak_sha: str | None = None, show_progress: bool = False) -> dict:
    """Evaluate the tagger design on ``test_year``, train it on every labelled project and save it into
    ``target`` with that evaluation and the digest of its weak labels (retraining compares it). The evaluation."""
    from recommender.profiles.tagger_store import save_tagger

    data = tagging_data(catalogue, encoder, taxonomy, show_progress=show_progress)
    evaluation = evaluate_tagging(data, taxonomy, test_year)
    tagger = train_tagger(data)
    save_tagger(tagger, target, encoder_fingerprint=encoder.fingerprint, taxonomy_version=taxonomy.version,
                priorities=taxonomy.ids, metrics=evaluation, config=tagger.get_params(),
                weak_labels_sha256=weak_sha or weak_labels_sha256(catalogue, taxonomy))
    return evaluation

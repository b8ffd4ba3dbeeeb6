"""TreeSHAP contributions from tables precomputed per leaf: LightGBM's values, several times faster per query.

LightGBM's ``predict(pred_contrib=True)`` runs path-dependent TreeSHAP (Lundberg et al., 2018) row by row: for
150 trees of 15 leaves it takes about 0.26 ms per row, so explaining the ten rows of a ranking costs more than
predicting all 700 candidates. The same values follow from a table per leaf (the idea of Fast TreeSHAP v2, Yang,
2021). Along the path from the root to a leaf, each distinct feature ``i`` has a zero fraction ``z_i`` (the
product of the training-count ratios of the path's splits on it) and a one fraction ``o_i``, which is 1 when
the row follows every one of those splits and 0 otherwise. The leaf's share of feature ``j``'s contribution is

    v * (o_j - z_j) * sum over S within D \\ {j} with o_i = 1 on S of
        |S|! (d - |S| - 1)! / d! * prod_{i in D \\ {j} \\ S} z_i

with ``v`` the leaf value and ``D`` the ``d`` distinct features of the path. It depends on the row only through
which path features it follows: a pattern of ``d`` bits. Every (pattern, feature) value of every leaf is
computed once per model; a query then reads one pattern per leaf (interval tests on the row's features), looks
its values up and adds them per feature. The tables sum to LightGBM's contributions within float64 rounding
(tests/test_path_shap.py compares them on the shipped heads and on random forests).

Numerical splits with missing type None only (LightGBM then reads NaN as 0): a model with other splits, or
whose tables would pass ``MAX_TABLE_VALUES`` (deep trees: a leaf's table doubles with each feature on its
path), keeps LightGBM's TreeSHAP (:func:`path_explainer` returns None). The shipped heads' tables hold about
4 MB each. :func:`cached_path_explainer` saves them beside the compiled heads, under a key of the model text
and this module's source, so that a one-off command reads them back instead of importing LightGBM.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import factorial
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from recommender.atomic import atomic_write
from recommender.ranking.compiled_trees import mark_used

log = logging.getLogger(__name__)

MAX_PATH_FEATURES = 16  # a leaf's table holds 2**d * d values; deeper paths keep LightGBM's TreeSHAP
MAX_TABLE_VALUES = 16_000_000  # 128 MB of float64 for a model; larger ones keep LightGBM's TreeSHAP


@dataclass(frozen=True)
class PathExplainer:
    """Per-leaf TreeSHAP tables of one LightGBM model; :meth:`contributions` is ``pred_contrib`` without its
    expected-value column. A leaf's (leaf, path feature) pairs are contiguous."""

    n_features: int
    feature: np.ndarray  # (P,) the feature of each pair
    low: np.ndarray  # (P, 1): the row follows the leaf's splits on the feature iff low < x <= high
    high: np.ndarray  # (P, 1)
    pair_leaf: np.ndarray  # (P,) the pair's leaf
    pair_place: np.ndarray  # (P, 1) the pair's place on its leaf's path
    leaf_width: np.ndarray  # (L, 1) d: the number of distinct features on the leaf's path
    leaf_offset: np.ndarray  # (L, 1) where the leaf's table starts in ``table``
    table: np.ndarray  # leaf tables, each (2 ** d, d) row-major: [pattern, place] -> contribution
    to_pattern: Any  # (L, P) sparse: 2 ** place where the pair is the leaf's
    to_feature: Any  # (n_features, P) sparse: 1 where the pair is the feature's

    STORED = ("feature", "low", "high", "pair_leaf", "pair_place", "leaf_width", "leaf_offset", "table")

    @classmethod
    def from_arrays(cls, n_features: int, feature: np.ndarray, low: np.ndarray, high: np.ndarray,
                    pair_leaf: np.ndarray, pair_place: np.ndarray, leaf_width: np.ndarray, leaf_offset: np.ndarray,
                    table: np.ndarray) -> PathExplainer:
        """The explainer of the stored arrays (1-D or columns), with its two sparse maps derived."""
        feature, pair_leaf = np.asarray(feature, dtype=np.int64).ravel(), np.asarray(pair_leaf, dtype=np.int64).ravel()
        pair_place = np.asarray(pair_place, dtype=np.int64).ravel()
        leaf_width = np.asarray(leaf_width, dtype=np.int64).ravel()
        every_pair = np.arange(len(feature))
        return cls(
            n_features=n_features,
            feature=feature,
            low=np.asarray(low, dtype=np.float64).reshape(-1, 1),
            high=np.asarray(high, dtype=np.float64).reshape(-1, 1),
            pair_leaf=pair_leaf,
            pair_place=pair_place[:, None],
            leaf_width=leaf_width[:, None],
            leaf_offset=np.asarray(leaf_offset, dtype=np.int64).reshape(-1, 1),
            table=np.asarray(table, dtype=np.float64),
            to_pattern=sparse.csr_matrix((2.0**pair_place, (pair_leaf, every_pair)),
                                         shape=(len(leaf_width), len(feature))),
            to_feature=sparse.csr_matrix((np.ones(len(feature)), (feature, every_pair)),
                                         shape=(n_features, len(feature))),
        )

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(rows, n_features) TreeSHAP contributions of the feature rows ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected (rows, {self.n_features}) features, got {X.shape}")
        if len(X) == 0 or len(self.feature) == 0:
            return np.zeros((len(X), self.n_features))
        values = np.ascontiguousarray(np.where(np.isnan(X), 0.0, X).T)[self.feature]  # (P, rows); NaN reads as 0
        follows = ((values > self.low) & (values <= self.high)).astype(np.float64)
        patterns = (self.to_pattern @ follows).astype(np.int64)  # (L, rows): exact, sums of distinct powers of 2
        where = (self.leaf_offset + patterns * self.leaf_width)[self.pair_leaf] + self.pair_place
        return np.asarray(self.to_feature @ self.table[where]).T


def path_explainer(booster: Any) -> PathExplainer | None:
    """The per-leaf tables of a LightGBM booster, or None when a split is not numerical with missing type
    None, a path holds more than ``MAX_PATH_FEATURES`` distinct features or the tables would hold more than
    ``MAX_TABLE_VALUES`` values."""
    model = booster.dump_model()
    leaves: list[tuple[float, list[tuple[int, float, float, float]]]] = []
    for tree in model["tree_info"]:
        if not _collect(tree["tree_structure"], [], leaves):
            return None
    return _tables(int(model["max_feature_idx"]) + 1, leaves)


def cached_path_explainer(model_text: str, booster: Callable[[], Any], cache_dir: Path | None,
                          build: bool) -> PathExplainer | None:
    """The tables of the LightGBM model ``model_text``: read from ``cache_dir`` when saved there before, else
    built from ``booster()`` when ``build`` (and saved when there is a ``cache_dir``), else None. A damaged
    file is logged and treated as missing."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + b"\n" + model_text.encode()).hexdigest()[:32]
    cached = None if cache_dir is None else cache_dir / f"{digest}.shap.npz"
    if cached is not None and cached.exists():
        try:
            with np.load(cached) as stored:
                read_back = PathExplainer.from_arrays(int(stored["n_features"]),
                                                      *(stored[name] for name in PathExplainer.STORED))
            mark_used(cached)
            return read_back
        except Exception:  # noqa: BLE001 - a torn or foreign file (zip, array or key errors) is built again
            log.exception("TreeSHAP tables at %s are unreadable; building them again", cached)
    if not build:
        return None
    explainer = path_explainer(booster())
    if explainer is not None and cached is not None:
        atomic_write(cached, partial(_save_tables, explainer))
    return explainer


def _save_tables(explainer: PathExplainer, path: Path) -> None:
    with open(path, "wb") as out:  # a file object: np.savez would add ".npz" to a name
        np.savez(out, n_features=explainer.n_features,
                 **{name: getattr(explainer, name) for name in PathExplainer.STORED})
    os.chmod(path, 0o644)  # readable as the compiled heads beside it are


def _collect(node: dict, path: list[tuple[int, float, bool, float]],
             leaves: list[tuple[float, list[tuple[int, float, float, float]]]]) -> bool:
    """Append each leaf under ``node`` as (value, [(feature, low, high, zero fraction)]) with one entry per
    distinct path feature; ``path`` holds (feature, threshold, went left, count ratio) per split above."""
    if "split_index" not in node:
        if path:
            leaves.append((float(node["leaf_value"]), _merge(path)))
        return True
    if node.get("decision_type") != "<=" or node.get("missing_type", "None") != "None":
        return False
    count = float(node["internal_count"])
    feature, threshold = int(node["split_feature"]), float(node["threshold"])
    for child, left in ((node["left_child"], True), (node["right_child"], False)):
        ratio = _count(child) / count
        if not _collect(child, [*path, (feature, threshold, left, ratio)], leaves):
            return False
    return True


def _count(node: dict) -> float:
    return float(node["leaf_count"] if "split_index" not in node else node["internal_count"])


def _merge(path: list[tuple[int, float, bool, float]]) -> list[tuple[int, float, float, float]]:
    """One (feature, low, high, zero fraction) per distinct feature, in order of first use."""
    merged: dict[int, list[float]] = {}
    for feature, threshold, left, ratio in path:
        low, high, zero = merged.get(feature, [-np.inf, np.inf, 1.0])
        if left:
            high = min(high, threshold)
        else:
            low = max(low, threshold)
        merged[feature] = [low, high, zero * ratio]
    return [(f, lo, hi, z) for f, (lo, hi, z) in merged.items()]


def _tables(n_features: int, leaves: list[tuple[float, list[tuple[int, float, float, float]]]]) -> PathExplainer | None:
    if any(len(path) > MAX_PATH_FEATURES for _, path in leaves):
        return None
    widths = np.array([len(path) for _, path in leaves], dtype=np.int64)
    sizes = (2**widths) * widths
    if sizes.sum() > MAX_TABLE_VALUES:
        return None
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros(int(sizes.sum()))
    for d in np.unique(widths):
        members = np.flatnonzero(widths == d)
        zero = np.array([[z for *_, z in leaves[m][1]] for m in members])  # (G, d)
        value = np.array([leaves[m][0] for m in members])
        block = _leaf_tables(int(d), zero, value)  # (G, 2**d, d)
        for g, m in enumerate(members):
            table[offsets[m] : offsets[m] + sizes[m]] = block[g].ravel()
    pairs = [(leaf, place, *entry) for leaf, (_, path) in enumerate(leaves) for place, entry in enumerate(path)]
    return PathExplainer.from_arrays(
        n_features,
        feature=np.array([p[2] for p in pairs], dtype=np.int64),
        low=np.array([p[3] for p in pairs], dtype=np.float64),
        high=np.array([p[4] for p in pairs], dtype=np.float64),
        pair_leaf=np.array([p[0] for p in pairs], dtype=np.int64),
        pair_place=np.array([p[1] for p in pairs], dtype=np.int64),
        leaf_width=widths,
        leaf_offset=offsets,
        table=table,
    )


def _leaf_tables(d: int, zero: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(G, 2**d, d): for leaves of ``d`` distinct path features with zero fractions ``zero`` (G, d) and values
    ``value`` (G,), the contribution to each path feature under each pattern of followed splits."""
    patterns = np.arange(2**d)
    follows = ((patterns[:, None] >> np.arange(d)[None, :]) & 1).astype(np.float64)  # (2**d, d)
    weights = np.array([factorial(k) * factorial(d - k - 1) / factorial(d) for k in range(d)])
    out = np.empty((len(zero), 2**d, d))
    for j in range(d):
        # coefficients[..., k]: sum over sets S of k followed features (j aside) of the product of the zero
        # fractions of the other features (j aside); a feature not followed can only be outside S
        coefficients = np.zeros((len(zero), 2**d, d))
        coefficients[..., 0] = 1.0
        for i in range(d):
            if i == j:
                continue
            z = zero[:, i][:, None, None]
            shifted = np.zeros_like(coefficients)
            shifted[..., 1:] = coefficients[..., :-1] * follows[None, :, i, None]
            coefficients = coefficients * z + shifted
        out[..., j] = (coefficients @ weights) * (follows[None, :, j] - zero[:, j][:, None]) * value[:, None]
    return out

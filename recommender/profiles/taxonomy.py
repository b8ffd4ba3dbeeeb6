"""The technology-priority taxonomy (a versioned YAML data file) and what can be derived from it alone:
term evidence in text and weak labels from CORDIS metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from recommender.errors import CorridorError


class TaxonomyError(CorridorError):
    """The taxonomy file is malformed."""


class UnknownPriorityError(CorridorError, KeyError):
    def __init__(self, priority: str, known: list[str]) -> None:
        super().__init__(priority)
        self.priority = priority
        self.known = known

    def __str__(self) -> str:
        return f"unknown priority {self.priority!r}; known priorities: {', '.join(self.known)}"


@dataclass(frozen=True)
class Priority:
    id: str
    label: str
    partnership: bool
    description: str
    terms: tuple[str, ...]
    euroscivoc: tuple[str, ...]
    policy_priorities: tuple[str, ...]
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: str
    valid_as_of: str
    priorities: tuple[Priority, ...]
    policy_min_weight: int = 100

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.priorities]

    def get(self, priority_id: str) -> Priority:
        for p in self.priorities:
            if p.id == priority_id:
                return p
        raise UnknownPriorityError(priority_id, self.ids)

    def index(self, priority_id: str) -> int:
        return self.ids.index(self.get(priority_id).id)


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse and check the taxonomy file (unique ids, a description and terms for every priority)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"cannot read taxonomy {path}: {exc}") from exc
    if not isinstance(raw, dict) or not raw.get("version") or not isinstance(raw.get("priorities"), list):
        raise TaxonomyError(f"{path}: needs 'version' and a 'priorities' list")
    priorities = []
    for i, entry in enumerate(raw["priorities"]):
        pid = entry.get("id")
        if not pid or not entry.get("description") or not entry.get("terms"):
            raise TaxonomyError(f"{path}: priorities[{i}] ({pid}): id, description and terms are required")
        priorities.append(
            Priority(
                id=pid,
                label=entry.get("label", pid),
                partnership=bool(entry.get("partnership", False)),
                description=" ".join(str(entry["description"]).split()),
                terms=tuple(str(t).lower() for t in entry["terms"]),
                euroscivoc=tuple(str(t).lower() for t in entry.get("euroscivoc") or ()),
                policy_priorities=tuple(entry.get("policy_priorities") or ()),
                topics=tuple(str(t).upper() for t in entry.get("topics") or ()),
            )
        )
    ids = [p.id for p in priorities]
    if len(set(ids)) != len(ids):
        raise TaxonomyError(f"{path}: duplicate priority ids")
    weak = raw.get("weak_labels") or {}
    return Taxonomy(
        version=str(raw["version"]),
        valid_as_of=str(raw.get("valid_as_of", "")),
        priorities=tuple(priorities),
        policy_min_weight=int(weak.get("policy_min_weight", 100)),
    )


class TermMatcher:
    """Whole-word, case-insensitive matching of each priority's indicative terms."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.ids = taxonomy.ids
        self._patterns = []
        for p in taxonomy.priorities:
            alternation = "|".join(re.escape(t) for t in sorted(p.terms, key=len, reverse=True))
            self._patterns.append(re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])"))

    def find(self, text: str) -> list[list[str]]:
        """For each priority, the list of term occurrences in ``text`` (with repeats)."""
        low = text.lower()
        return [pattern.findall(low) for pattern in self._patterns]

    def counts(self, texts: list[str]) -> np.ndarray:
        """(n, P) matrix of term-occurrence counts."""
        out = np.zeros((len(texts), len(self.ids)), dtype=np.int32)
        for i, text in enumerate(texts):
            low = text.lower()
            for j, pattern in enumerate(self._patterns):
                out[i, j] = len(pattern.findall(low))
        return out


def weak_labels(projects: pd.DataFrame, taxonomy: Taxonomy) -> np.ndarray:
    """(n, P) boolean weak labels from EuroSciVoc paths, policy priorities and call topics.

    Rows without any metadata get all-False labels, so callers should train and evaluate on rows where
    ``has_weak_label_metadata`` is True.
    """
    esv = projects["euroscivoc"].fillna("").str.lower()
    topic = projects["topic"].fillna("").str.upper()
    policy = [_policy_weights(str(v)) for v in projects["policy_priorities"].fillna("")]
    out = np.zeros((len(projects), len(taxonomy.priorities)), dtype=bool)
    for j, p in enumerate(taxonomy.priorities):
        hit = pd.Series(False, index=projects.index)
        for sub in p.euroscivoc:
            hit |= esv.str.contains(sub, regex=False)
        for sub in p.topics:
            hit |= topic.str.contains(sub, regex=False)
        for code in p.policy_priorities:
            hit |= pd.Series([w.get(code, 0) >= taxonomy.policy_min_weight for w in policy], index=projects.index)
        out[:, j] = hit.to_numpy()
    return out


def has_weak_label_metadata(projects: pd.DataFrame) -> np.ndarray:
    """Projects that carry some labelling metadata: EuroSciVoc paths (Horizon Europe) or a call topic code
    (Horizon Europe, EDF, security research: topic codes label the defence priorities HE hardly has)."""
    return (projects["euroscivoc"].notna() | projects["topic"].notna()).to_numpy()


def _policy_weights(text: str) -> dict[str, int]:
    weights = {}
    for part in text.split(";"):
        code, _, weight = part.partition(":")
        if code:
            try:
                weights[code.strip()] = int(float(weight))
            except ValueError:
                continue
    return weights

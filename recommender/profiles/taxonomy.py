"""The technology-priority taxonomy (a versioned YAML data file) and what can be derived from it alone:
term evidence in text and weak labels from CORDIS metadata."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from recommender.errors import CorridorError


class TaxonomyError(CorridorError):
    """The taxonomy file is malformed."""


class UnknownPriorityError(CorridorError, KeyError):
    """A name that is no priority's id, label or synonym; ``suggestions`` are the closest names as
    'id' or 'id (name)', best first."""

    def __init__(self, priority: str, known: list[str], suggestions: list[str] | None = None) -> None:
        super().__init__(priority)
        self.priority = priority
        self.known = known
        self.suggestions = list(suggestions or ())

    def __str__(self) -> str:
        hint = f"did you mean {' or '.join(self.suggestions)}? " if self.suggestions else ""
        return f"unknown priority {self.priority!r}; {hint}known priorities: {', '.join(self.known)}"


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
    synonyms: tuple[str, ...] = ()  # names people type for it (input aliases only; never used for scoring)


_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015]+")


def name_key(name: str) -> str:
    """How priority names are compared: case, whitespace, hyphens and underscores are ignored."""
    return _SEPARATORS.sub("", name).casefold()


def priority_names(priorities: tuple[Priority, ...]) -> dict[str, tuple[str, str]]:
    """``name_key`` -> (priority id, the name as written) for every id, label and synonym.

    Raises TaxonomyError when one name (after ``name_key``) belongs to two priorities, or is empty."""
    names: dict[str, tuple[str, str]] = {}
    for p in priorities:
        for written in (p.id, p.label, *p.synonyms):
            key = name_key(written)
            if not key:
                raise TaxonomyError(f"priority {p.id}: empty name {written!r}")
            owner = names.setdefault(key, (p.id, written))
            if owner[0] != p.id:
                raise TaxonomyError(
                    f"priority name {written!r} of {p.id} collides with {owner[1]!r} of {owner[0]} "
                    "(names are compared ignoring case, spaces, hyphens and underscores; one name, one priority)"
                )
    return names


@dataclass(frozen=True)
class Taxonomy:
    version: str
    valid_as_of: str
    priorities: tuple[Priority, ...]
    policy_min_weight: int = 100

    def __post_init__(self) -> None:
        self._names  # noqa: B018 - validates names (one name, one priority) and caches the lookup

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.priorities]

    @cached_property
    def _names(self) -> dict[str, tuple[str, str]]:
        return priority_names(self.priorities)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {p.id: i for i, p in enumerate(self.priorities)}

    def resolve(self, name: str) -> str:
        """The id of the priority called ``name``: its id, label or one of its synonyms, ignoring case,
        whitespace, hyphens and underscores ('Sensors-EW', 'UAV', 'Drones', 'chips'). Raises
        UnknownPriorityError naming the closest names otherwise."""
        if isinstance(name, str) and name in self._positions:
            return name
        hit = self._names.get(name_key(name)) if isinstance(name, str) else None
        if hit is None:
            raise UnknownPriorityError(str(name), self.ids, self.suggestions(name))
        return hit[0]

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` priorities whose names are closest to ``name`` (difflib similarity, then names it
        begins), as 'id' or 'id (closest name)', best first."""
        key = name_key(name) if isinstance(name, str) else ""
        if not key:
            return []
        close = difflib.get_close_matches(key, list(self._names), n=3 * n, cutoff=0.6)
        if len(key) >= 3:
            close += sorted((k for k in self._names if k.startswith(key)), key=len)
        out: list[str] = []
        for k in close:
            pid, written = self._names[k]
            if any(s == pid or s.startswith(f"{pid} (") for s in out):
                continue
            out.append(pid if name_key(written) == name_key(pid) else f"{pid} ({written})")
            if len(out) == n:
                break
        return out

    def get(self, name: str) -> Priority:
        """The priority called ``name`` (an id, label or synonym, see :meth:`resolve`)."""
        return self.priorities[self.index(name)]

    def index(self, name: str) -> int:
        """Position of the priority called ``name`` in :attr:`priorities` (see :meth:`resolve`)."""
        if isinstance(name, str) and (pos := self._positions.get(name)) is not None:
            return pos  # the id itself: the hot path of ranking
        return self._positions[self.resolve(name)]


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse and check the taxonomy file (unique ids, a description and terms for every priority, each
    id, label and synonym naming one priority only)."""
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
        synonyms = entry.get("synonyms") or []
        if not isinstance(synonyms, list):
            raise TaxonomyError(f"{path}: priorities[{i}] ({pid}): synonyms must be a list of names")
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
                synonyms=tuple(" ".join(str(t).split()).lower() for t in synonyms),
            )
        )
    ids = [p.id for p in priorities]
    if len(set(ids)) != len(ids):
        raise TaxonomyError(f"{path}: duplicate priority ids")
    weak = raw.get("weak_labels") or {}
    try:
        return Taxonomy(
            version=str(raw["version"]),
            valid_as_of=str(raw.get("valid_as_of", "")),
            priorities=tuple(priorities),
            policy_min_weight=int(weak.get("policy_min_weight", 100)),
        )
    except TaxonomyError as exc:
        raise TaxonomyError(f"{path}: {exc}") from None


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

"""The ranking index: every organisation's profile, graph position and attributes as aligned arrays,
plus query resolution (organisation id or free text) and per-instrument eligibility of candidates.

Rankers hold no index; every ranker call takes one (see :mod:`recommender.ranking.contract`). The index is
frozen, so whoever holds one keeps a consistent view: a changed catalogue is a new index."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.catalogue.kinds import KIND_FILTERS, KINDS, classify_organisations, kind_mask
from recommender.errors import CorridorError, UnknownOrganisationError
from recommender.graph import CollaborationGraph
from recommender.history import ProgrammeHistory, build_history
from recommender.profiles.profiles import Profiles
from recommender.profiles.taxonomy import TermMatcher
from recommender.ranking.lexical import LexicalIndex, build_lexical_index
from recommender.ranking.vector_search import VectorSearch, build_vector_search

if TYPE_CHECKING:
    from recommender.rules.model import RuleBook

EUROPE_REGIONS = frozenset({"EU27", "EEA-EFTA", "UA"})
SIDES = ("EU", "KR", "ANY")
ACTIVITY_CODES = ("PRC", "REC", "HES", "PUB", "OTH")
ELIGIBILITY_VALUE = {"ELIGIBLE": 1.0, "CONDITIONAL": 0.5, "INELIGIBLE": 0.0}


class InvalidQueryError(CorridorError):
    """A query that cannot be ranked (no org id and no text, unknown side or priority ...)."""


@dataclass(frozen=True)
class Query:
    """A ranking request. Exactly one of ``org_id`` / ``text`` is needed (both: text refines the org)."""

    org_id: str | None = None
    text: str | None = None
    region: str = "ANY"  # the side the candidates come from: EU, KR or ANY
    instrument: str | None = None
    priority: str | None = None
    exclude: frozenset[str] = frozenset()
    query_id: str | None = None
    keep_ineligible: bool = False  # with an instrument: keep ineligible candidates (flagged) instead of dropping
    include_known: bool = False  # also rank organisations the query has already worked with
    kind: str | None = None  # company, research, university, public, any; None: every kind but funding bodies

    def __post_init__(self) -> None:
        if not self.org_id and not (self.text and self.text.strip()):
            raise InvalidQueryError("a query needs an org_id or a text")
        if self.region not in SIDES:
            raise InvalidQueryError(f"region must be one of {', '.join(SIDES)}, got {self.region!r}")
        if self.kind is not None and self.kind not in KIND_FILTERS:
            raise InvalidQueryError(f"kind must be one of {', '.join(KIND_FILTERS)}, got {self.kind!r}")


@dataclass
class ResolvedQuery:
    """A query turned into arrays: its vector, priority scores and (for organisations) graph row."""

    query: Query
    row: int | None
    vector: np.ndarray
    scores: np.ndarray
    has_profile: bool
    country_code: int  # -1 when unknown (free text)
    activity: str | None
    sme: bool
    has_graph: bool
    outside_europe: bool = False


TextEncoderFn = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]
DEFAULT_EVIDENCE_THRESHOLD = 0.5
EVIDENCE_THRESHOLD_RANGE = (0.2, 0.5)  # per-priority tagger thresholds are clipped into this range


@dataclass(frozen=True, eq=False)
class RankingIndex:
    """Everything a ranker reads about the organisations of one catalogue at one cut-off year.

    Frozen: a changed catalogue (a live addition) is a new index, never an edit of one that readers hold.
    The fields after ``priority_thresholds`` are derived from the inputs at construction; ``cache`` holds
    what is derived lazily (eligibility verdicts per instrument, generators' presorted lists, a ranker's document
    matrix), valid for exactly this index."""

    catalogue: Catalogue
    profiles: Profiles
    graph: CollaborationGraph
    encode_texts: TextEncoderFn | None = None
    rulebook: RuleBook | None = None
    history: ProgrammeHistory | None = None  # built from the catalogue when not given
    lexical: LexicalIndex | None = None  # built from the profiles when not given
    organisation_kinds: pd.DataFrame | None = None  # classify_organisations of the catalogue, when known
    priority_thresholds: np.ndarray | None = None  # (P,) a project shows a priority at this score
    search: VectorSearch | None = None  # nearest-profile search over ``vectors``, built on first use when not given

    ids: np.ndarray = field(init=False, repr=False)
    row_of: dict[str, int] = field(init=False, repr=False)
    names: np.ndarray = field(init=False, repr=False)
    countries: np.ndarray = field(init=False, repr=False)
    side_masks: dict[str, np.ndarray] = field(init=False, repr=False)
    activity: np.ndarray = field(init=False, repr=False)
    activity_onehot: np.ndarray = field(init=False, repr=False)
    industry: np.ndarray = field(init=False, repr=False)
    academic: np.ndarray = field(init=False, repr=False)
    sme: np.ndarray = field(init=False, repr=False)
    large: np.ndarray = field(init=False, repr=False)
    vectors: np.ndarray = field(init=False, repr=False)
    scores: np.ndarray = field(init=False, repr=False)
    has_profile: np.ndarray = field(init=False, repr=False)
    experience: np.ndarray = field(init=False, repr=False)
    degree: np.ndarray = field(init=False, repr=False)
    coordination: np.ndarray = field(init=False, repr=False)
    outside_europe: np.ndarray = field(init=False, repr=False)
    partners: sparse.csr_matrix = field(init=False, repr=False)
    international: np.ndarray = field(init=False, repr=False)
    reference_year: int = field(init=False, repr=False)
    recency: np.ndarray = field(init=False, repr=False)
    kinds: np.ndarray = field(init=False, repr=False)
    kind_reasons: np.ndarray = field(init=False, repr=False)
    funding_body: np.ndarray = field(init=False, repr=False)
    kind_onehot: np.ndarray = field(init=False, repr=False)
    evidence_thresholds: np.ndarray = field(init=False, repr=False)
    own_projects: np.ndarray = field(init=False, repr=False)
    evidence_projects: np.ndarray = field(init=False, repr=False)
    declared: np.ndarray = field(init=False, repr=False)
    evidence: np.ndarray = field(init=False, repr=False)
    evidence_in_text: np.ndarray = field(init=False, repr=False)
    evidence_share: np.ndarray = field(init=False, repr=False)
    cache: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __post_init__(self) -> None:
        orgs = self.catalogue.organisations
        if not np.array_equal(orgs["id"].to_numpy(dtype=object), self.profiles.org_ids):
            raise CorridorError("profiles and catalogue are not row-aligned; rebuild the profiles")
        self._set(ids=orgs["id"].to_numpy(dtype=object))
        self._set(row_of={oid: i for i, oid in enumerate(self.ids)})
        self._set(names=orgs["name"].fillna("").to_numpy(dtype=object))
        self._set(countries=orgs["country"].fillna("").to_numpy(dtype=object))
        region = orgs["region"].fillna("OTHER").to_numpy(dtype=object)
        named = orgs["name"].notna().to_numpy()
        # Unnamed organisations (H2020 link table only) stay in the graph but are never recommended.
        self._set(
            side_masks={
                "EU": named & np.isin(region, list(EUROPE_REGIONS)),
                "KR": named & (region == "KR"),
                "ANY": named,
            }
        )
        activity = orgs["activity_type"].fillna("").to_numpy(dtype=object)
        self._set(activity=activity)
        self._set(activity_onehot=np.stack([activity == a for a in ACTIVITY_CODES], axis=1).astype(np.float32))
        self._set(industry=activity == "PRC")
        self._set(academic=np.isin(activity, ["REC", "HES"]))
        self._set(sme=orgs["sme"].fillna(False).to_numpy(dtype=bool))
        self._set(large=(orgs["size_class"].fillna("") == "large").to_numpy())
        self._set(vectors=self.profiles.org_vectors)
        self._set(scores=self.profiles.org_scores)
        self._set(has_profile=self.profiles.org_has_profile)
        self._set(experience=np.log1p(self.graph.projects))
        self._set(degree=np.log1p(self.graph.degree))
        self._set(coordination=np.log1p(self.graph.coordinated))
        # How international an organisation's network is: partners from outside Europe (KR and OTHER).
        self._set(outside_europe=~np.isin(region, list(EUROPE_REGIONS)))
        partners = self.graph.adjacency.sign().tocsr()
        self._set(partners=partners)
        self._set(international=np.log1p(np.asarray(partners @ self.outside_europe.astype(np.float64)).ravel()))
        ref = self.graph.cutoff_year or int(np.max(self.graph.last_year)) or 0
        self._set(reference_year=ref)
        self._set(recency=np.where(self.graph.last_year > 0, np.clip(ref - self.graph.last_year, 0, 30), 30.0))
        if self.history is None:
            self._set(history=build_history(self.catalogue, self.graph.cutoff_year))
        if self.lexical is None:
            self._set(lexical=organisation_lexical_index(self.profiles))
        kinds = self.organisation_kinds
        if kinds is None:
            kinds = classify_organisations(orgs, self.catalogue.projects, self._participations_until_cutoff())
        elif not np.array_equal(kinds["id"].to_numpy(dtype=object), self.ids):
            raise CorridorError("organisation kinds and catalogue are not row-aligned")
        self._set(kinds=kinds["kind"].to_numpy(dtype=object))
        self._set(kind_reasons=kinds["kind_reason"].to_numpy(dtype=object))
        self._set(funding_body=kinds["funding_body"].to_numpy(dtype=bool))
        self._set(kind_onehot=np.stack([self.kinds == k for k in KINDS], axis=1).astype(np.float32))
        self._evidence()

    def _participations_until_cutoff(self, org_ids: Any = None) -> pd.DataFrame:
        """The participations in projects up to the graph's cutoff year; only those of ``org_ids`` if given."""
        links = self.catalogue.participations
        if org_ids is not None:
            links = links[links["org_id"].isin(org_ids)]
        if self.graph.cutoff_year is None or links.empty:
            return links
        year = self.catalogue.projects.drop_duplicates("id").set_index("id")["year"].astype("float")
        return links[links["project_id"].map(year).fillna(0).to_numpy() <= self.graph.cutoff_year]

    def _evidence(self) -> None:
        """Demonstrated capability per priority: own projects scoring at least the priority's threshold,
        an own description that does, or a declared technology area."""
        prof = self.profiles
        n_p = prof.org_scores.shape[1]
        if self.priority_thresholds is None:
            thresholds = np.full(n_p, DEFAULT_EVIDENCE_THRESHOLD)
        else:
            thresholds = np.clip(np.asarray(self.priority_thresholds, dtype=np.float64), *EVIDENCE_THRESHOLD_RANGE)
        self._set(evidence_thresholds=thresholds)
        owns = prof.org_weights.copy().tocsr()
        owns.data[:] = 1.0
        self._set(own_projects=np.asarray(owns.sum(axis=1)).ravel())
        tagged = (prof.project_scores >= thresholds[None, :]).astype(np.float64)
        self._set(evidence_projects=np.asarray(owns @ tagged) if tagged.size else np.zeros((len(self.ids), n_p)))
        orgs = self.catalogue.organisations
        declared = np.zeros((len(self.ids), n_p), dtype=bool)
        column = {pid: j for j, pid in enumerate(prof.taxonomy.ids)}
        areas = orgs["technology_areas"].fillna("").to_numpy(dtype=object)
        for declaring in np.flatnonzero(areas != ""):  # few organisations declare areas: no pass per priority
            for area in str(areas[declaring]).split(";"):
                if area in column:
                    declared[declaring, column[area]] = True
        self._set(declared=declared)
        has_description = np.array([oid in prof.org_description_texts for oid in self.ids], dtype=bool)
        description_only = has_description & (self.own_projects == 0)
        described = description_only[:, None] & (prof.org_scores >= thresholds[None, :])
        self._set(evidence=(self.evidence_projects > 0) | self.declared | described)
        # Evidence in the organisation's own words (a tagged project, or a curated term of the priority in
        # its description), as opposed to a declared area alone: maps show such pairs first.
        matcher = TermMatcher(prof.taxonomy)
        in_description = np.zeros_like(self.evidence)
        for oid, text in prof.org_description_texts.items():
            row = self.row_of.get(oid)
            if row is not None and text:
                in_description[row] = [bool(found) for found in matcher.find(text)]
        self._set(evidence_in_text=(self.evidence_projects > 0) | (in_description & self.evidence))
        self._set(
            evidence_share=np.divide(
                self.evidence_projects,
                self.own_projects[:, None],
                out=np.zeros_like(self.evidence_projects),
                where=self.own_projects[:, None] > 0,
            )
        )

    def with_encoder(self, encode_texts: TextEncoderFn | None) -> RankingIndex:
        """The same index with another text encoder (None: one that cannot resolve free texts, light enough
        to ship to worker processes). Arrays, frames and ``cache`` are shared, not copied or rebuilt."""
        slim = copy.copy(self)
        object.__setattr__(slim, "encode_texts", encode_texts)
        return slim

    # ---------------------------------------------------------------------------------------------------
    def row(self, org_id: str) -> int:
        try:
            return self.row_of[org_id]
        except KeyError:
            raise UnknownOrganisationError(org_id) from None

    @overload
    def priority_index(self, priority: str) -> int: ...

    @overload
    def priority_index(self, priority: None) -> None: ...

    @overload
    def priority_index(self, priority: str | None) -> int | None: ...

    def priority_index(self, priority: str | None) -> int | None:
        if priority is None:
            return None
        return self.profiles.taxonomy.index(priority)

    def resolve(self, query: Query) -> ResolvedQuery:
        self.priority_index(query.priority)  # unknown priority raises early
        if query.org_id:
            row = self.row(query.org_id)
            vector, scores = self.vectors[row], self.scores[row]
            has_profile = bool(self.has_profile[row])
            if query.text and query.text.strip():
                t_vec, t_scores = self._encode([query.text])
                vector = _normalise(vector + t_vec[0]) if has_profile else t_vec[0]
                scores = 0.5 * (scores + t_scores[0]) if has_profile else t_scores[0]
                has_profile = True
            return ResolvedQuery(
                query,
                row,
                vector,
                scores,
                has_profile,
                int(self.graph.country_codes[row]),
                self.activity[row] or None,
                bool(self.sme[row]),
                bool(self.graph.degree[row] > 0),
                bool(self.outside_europe[row]),
            )
        t_vec, t_scores = self._encode([query.text or ""])
        return ResolvedQuery(query, None, t_vec[0], t_scores[0], True, -1, None, False, False)

    def resolve_many(self, queries: list[Query]) -> list[ResolvedQuery]:
        """Resolve a batch, encoding all free texts in one encoder call."""
        texts = [q.text or "" for q in queries if not q.org_id]
        encoded = iter(zip(*self._encode(texts), strict=True)) if texts else iter(())
        out = []
        for q in queries:
            if q.org_id:
                out.append(self.resolve(q))
            else:
                vec, sc = next(encoded)
                out.append(ResolvedQuery(q, None, vec, sc, True, -1, None, False, False))
        return out

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.encode_texts is None:
            raise InvalidQueryError("free-text queries need an encoder; this index has none")
        return self.encode_texts(texts)

    def candidate_mask(self, rq: ResolvedQuery) -> np.ndarray:
        """The side, minus the query itself, its exclusions, its known partners (unless included), the
        kinds not asked for (funding bodies by default) and, with a priority, organisations that show
        no capability in it."""
        mask = self.side_masks[rq.query.region].copy()
        if rq.row is not None:
            mask[rq.row] = False
            if not rq.query.include_known:
                mask[self.graph.neighbours(rq.row)] = False
        for oid in rq.query.exclude:
            row = self.row_of.get(oid)
            if row is not None:
                mask[row] = False
        mask &= self.kind_allowed(rq.query.kind)
        p = self.priority_index(rq.query.priority)
        if p is not None:
            mask &= self.evidence[:, p]
        return mask

    def kind_allowed(self, kind_filter: str | None) -> np.ndarray:
        """The organisations a kind filter allows (see ``kind_mask``), built once per filter."""
        key = f"kind:{kind_filter}"
        if key not in self.cache:
            self.cache[key] = kind_mask(self.kinds, kind_filter)
        return self.cache[key]

    @property
    def vector_search(self) -> VectorSearch:
        """Nearest-profile search for the semantic generator (exact on catalogues of the shipped size; an HNSW
        graph, saved in the serving snapshot, above it)."""
        if self.search is not None:
            return self.search
        if "vector_search" not in self.cache:
            self.cache["vector_search"] = build_vector_search(self.vectors)
        return self.cache["vector_search"]

    def known_partners(self, rq: ResolvedQuery) -> np.ndarray:
        """Rows the query organisation has worked with (empty for free text)."""
        if rq.row is None:
            return np.zeros(0, dtype=np.int64)
        return self.graph.neighbours(rq.row)

    def left_out(self, rq: ResolvedQuery) -> dict[str, int]:
        """How many organisations of the requested side each default filter left out (for the output)."""
        side = self.side_masks[rq.query.region].copy()
        if rq.row is not None:
            side[rq.row] = False
        out = {}
        if rq.row is not None and not rq.query.include_known:
            out["known_partners"] = int(side[self.graph.neighbours(rq.row)].sum())
        if rq.query.kind is None:
            out["funding_bodies"] = int((side & self.funding_body).sum())
        p = self.priority_index(rq.query.priority)
        if p is not None:
            out["without_priority_evidence"] = int((side & ~self.evidence[:, p]).sum())
        return out

    def column(self, name: str) -> np.ndarray:
        """A catalogue column as an object array aligned with the rows (built once per column)."""
        key = ("column", name)
        if key not in self.cache:
            self.cache[key] = self.catalogue.organisations[name].to_numpy(dtype=object)
        return self.cache[key]

    @property
    def graph_project_ids(self) -> np.ndarray:
        """Project id of each column of the graph's incidence matrix."""
        if self.graph.project_ids is None:
            raise CorridorError("this collaboration graph does not record its project ids")
        return self.graph.project_ids

    @property
    def project_years(self) -> dict[str, int]:
        """Project id -> year, built once."""
        if "project_years" not in self.cache:
            projects = self.catalogue.projects
            self.cache["project_years"] = dict(zip(projects["id"], projects["year"].fillna(0).astype(int), strict=True))
        return self.cache["project_years"]

    @property
    def project_titles(self) -> dict[str, str]:
        """Project id -> title, built once (explanations look titles up for every recommendation)."""
        if "project_titles" not in self.cache:
            projects = self.catalogue.projects
            self.cache["project_titles"] = dict(zip(projects["id"], projects["title"].fillna(""), strict=True))
        return self.cache["project_titles"]

    def partners_in_country(self, country_code: int, rows: np.ndarray) -> np.ndarray:
        """How many past partners each of ``rows`` has in the country with code ``country_code`` (a sparse
        lookup: no pass over every organisation)."""
        if "partners_per_country" not in self.cache:
            codes = self.graph.country_codes
            n_countries = int(codes.max()) + 1 if len(codes) else 0
            by_country = sparse.csr_matrix(
                (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), n_countries)
            )
            counts = (self.partners @ by_country).tocsc()
            counts.sort_indices()
            self.cache["partners_per_country"] = counts
        counts = self.cache["partners_per_country"]
        if not 0 <= country_code < counts.shape[1]:
            return np.zeros(len(rows))
        start, end = counts.indptr[country_code], counts.indptr[country_code + 1]
        holders, values = counts.indices[start:end], counts.data[start:end]
        at = np.minimum(np.searchsorted(holders, rows), max(len(holders) - 1, 0))
        found = (holders[at] == rows) if len(holders) else np.zeros(len(rows), dtype=bool)
        return np.where(found, values[at] if len(holders) else 0.0, 0.0)

    def allowed(self, rq: ResolvedQuery) -> np.ndarray:
        """Candidate mask after the side, the exclusions and (unless kept) instrument ineligibility."""
        mask = self.candidate_mask(rq)
        if rq.query.instrument and not rq.query.keep_ineligible:
            mask &= self.eligibility(rq.query.instrument)[0] > 0
        return mask

    def ranked_rows(self, generator: str, priority: int = 0) -> np.ndarray:
        """Rows in a generator's order, built once per index: ``popular`` (most projects first), ``defence``
        (defence experience first; only organisations with an EDF or security-research participation) and
        ``specialists`` (own projects in priority column ``priority`` plus a declared area; only those with
        either). Ties go to the smaller row, as in ``top_k``."""
        key = ("ranked_rows", generator, priority if generator == "specialists" else 0)
        if key not in self.cache:
            if generator == "popular":
                score = self.graph.projects.astype(np.float64)
                rows = np.arange(len(score))
            elif generator == "defence":
                score = self.defence_experience_score()
                rows = np.flatnonzero(score >= 1e3)
            elif generator == "specialists":
                score = (self.evidence_projects[:, priority] + self.declared[:, priority]).astype(np.float64)
                rows = np.flatnonzero(score > 0)
            else:
                raise ValueError(f"unknown generator {generator!r}")
            self.cache[key] = rows[np.lexsort((rows, -score[rows]))]
        return self.cache[key]

    def experience_percentiles(self) -> tuple[np.ndarray, np.ndarray]:
        """(defence, overall) experience of every organisation as a percentile among the experienced ones
        (1 = the most; 0 = none). Percentiles keep their meaning from one cut-off year to the next, when
        EDF participations join the security-research record the model first learned from."""
        if "experience_percentiles" not in self.cache:
            out = []
            defence = self.defence_experience_score()
            overall = self.graph.projects.astype(np.float64)
            for score, active in ((defence, defence >= 1e3), (overall, overall > 0)):
                pct = np.zeros(len(score))
                if active.any():
                    ranks = pd.Series(score[active]).rank(method="average", pct=True).to_numpy()
                    pct[active] = ranks
                out.append(pct)
            self.cache["experience_percentiles"] = np.stack(out)
        pct = self.cache["experience_percentiles"]
        return pct[0], pct[1]

    def defence_experience_score(self) -> np.ndarray:
        """EDF participations first, then security research, then all participations (one sortable number)."""
        if "defence_score" not in self.cache:
            h = self.history
            assert h is not None  # built in __post_init__ when not given
            edf = h.participations[:, h.family_index("edf")]
            security = h.participations[:, h.family_index("security")]
            self.cache["defence_score"] = edf * 1e6 + security * 1e3 + np.minimum(self.graph.projects, 999)
        return self.cache["defence_score"]

    # ---------------------------------------------------------------------------------------------------
    def eligibility(self, instrument: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Per organisation: (value 1 / 0.5 / 0, verdict label) under ``instrument``; all 1 when None."""
        if instrument is None or self.rulebook is None:
            if "eligibility_none" not in self.cache:
                n = len(self.ids)
                self.cache["eligibility_none"] = (np.ones(n), np.full(n, "", dtype=object))
            return self.cache["eligibility_none"]
        cache_key = ("eligibility", instrument)
        if cache_key not in self.cache:
            from recommender.rules import Organisation, evaluate_organisation

            self.rulebook.instrument(instrument)  # unknown instruments raise with the known list
            codes, uniques = self._eligibility_keys()
            verdicts: list[Any] = []
            for country, control, activity in uniques:
                # A recommended partner is meant to be a funded participant, so it is judged in that role.
                verdicts.append(None if not country else evaluate_organisation(
                    self.rulebook,
                    instrument,
                    Organisation(
                        country=country,
                        control_country=control or None,
                        activity_type=activity or None,
                        role="participant",
                        name="candidate",
                    ),
                ))
            unique_labels = np.array([str(v.verdict) if v is not None else "INELIGIBLE" for v in verdicts],
                                     dtype=object)
            labels = unique_labels[codes]
            values = np.array([ELIGIBILITY_VALUE[label] for label in unique_labels])[codes]
            self.cache[cache_key] = (values, labels, verdicts, codes)
        values, labels, _, _ = self.cache[cache_key]
        return values, labels

    def _eligibility_keys(self) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
        """Per organisation, the code of its (country, control country, activity type): all that an
        organisation rule reads; and the distinct keys. Each instrument judges every distinct key once."""
        if "eligibility_keys" not in self.cache:
            orgs = self.catalogue.organisations
            parts = [orgs[c].fillna("").astype(str) for c in ("country", "control_country", "activity_type")]
            codes, uniques = pd.factorize(parts[0] + "\x1f" + parts[1] + "\x1f" + parts[2])
            self.cache["eligibility_keys"] = (codes, [tuple(u.split("\x1f")) for u in uniques])
        return self.cache["eligibility_keys"]

    def organisation_verdict(self, instrument: str, row: int):
        """The rules engine's verdict object for one organisation (reasons, citations)."""
        self.eligibility(instrument)
        _, _, verdicts, codes = self.cache[("eligibility", instrument)]
        return verdicts[codes[row]]


def organisation_lexical_index(profiles: Profiles) -> LexicalIndex:
    """BM25 over project texts and descriptions, each owned by the organisations whose profile it is in."""
    owns = profiles.org_weights.tocsr().copy()
    owns.data[:] = 1.0
    n_orgs = len(profiles.org_ids)
    described = [i for i, oid in enumerate(profiles.org_ids) if oid in profiles.org_description_texts]
    desc_owner = sparse.csr_matrix(
        (np.ones(len(described)), (described, np.arange(len(described)))), shape=(n_orgs, len(described))
    )
    texts = list(profiles.project_texts) + [profiles.org_description_texts[profiles.org_ids[i]] for i in described]
    return build_lexical_index(texts, sparse.hstack([owns, desc_owner]).tocsr(), len(profiles.project_texts))


def _normalise(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def frame_of_ids(ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"org_id": ids, "score": scores})

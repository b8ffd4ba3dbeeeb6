"""The ranking index: every organisation's profile, graph position and attributes as aligned arrays,
plus query resolution (organisation id or free text) and per-instrument eligibility of candidates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.catalogue import Catalogue
from recommender.errors import CorridorError, UnknownOrganisationError
from recommender.graph import CollaborationGraph
from recommender.profiles.profiles import Profiles

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

    def __post_init__(self) -> None:
        if not self.org_id and not (self.text and self.text.strip()):
            raise InvalidQueryError("a query needs an org_id or a text")
        if self.region not in SIDES:
            raise InvalidQueryError(f"region must be one of {', '.join(SIDES)}, got {self.region!r}")


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


@dataclass
class RankingIndex:
    catalogue: Catalogue
    profiles: Profiles
    graph: CollaborationGraph
    encode_texts: TextEncoderFn | None = None
    rulebook: object | None = None
    _eligibility: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        orgs = self.catalogue.organisations
        if not np.array_equal(orgs["id"].to_numpy(dtype=object), self.profiles.org_ids):
            raise CorridorError("profiles and catalogue are not row-aligned; rebuild the profiles")
        self.ids = orgs["id"].to_numpy(dtype=object)
        self.row_of = {oid: i for i, oid in enumerate(self.ids)}
        self.names = orgs["name"].fillna("").to_numpy(dtype=object)
        self.countries = orgs["country"].fillna("").to_numpy(dtype=object)
        region = orgs["region"].fillna("OTHER").to_numpy(dtype=object)
        named = orgs["name"].notna().to_numpy()
        # Unnamed organisations (H2020 link table only) stay in the graph but are never recommended.
        self.side_masks = {
            "EU": named & np.isin(region, list(EUROPE_REGIONS)),
            "KR": named & (region == "KR"),
            "ANY": named,
        }
        activity = orgs["activity_type"].fillna("").to_numpy(dtype=object)
        self.activity = activity
        self.activity_onehot = np.stack([activity == a for a in ACTIVITY_CODES], axis=1).astype(np.float32)
        self.industry = activity == "PRC"
        self.academic = np.isin(activity, ["REC", "HES"])
        self.sme = orgs["sme"].fillna(False).to_numpy(dtype=bool)
        self.large = (orgs["size_class"].fillna("") == "large").to_numpy()
        self.vectors = self.profiles.org_vectors
        self.scores = self.profiles.org_scores
        self.has_profile = self.profiles.org_has_profile
        self.experience = np.log1p(self.graph.projects)
        self.degree = np.log1p(self.graph.degree)
        self.coordination = np.log1p(self.graph.coordinated)
        # How international an organisation's network is: partners from outside Europe (KR and OTHER).
        self.outside_europe = ~np.isin(region, list(EUROPE_REGIONS))
        partners = self.graph.adjacency.sign().tocsr()
        self.partners = partners
        self.international = np.log1p(np.asarray(partners @ self.outside_europe.astype(np.float64)).ravel())
        ref = self.graph.cutoff_year or int(np.max(self.graph.last_year)) or 0
        self.reference_year = ref
        self.recency = np.where(self.graph.last_year > 0, np.clip(ref - self.graph.last_year, 0, 30), 30.0)
        self._popular: dict[str, np.ndarray] = {}
        self._titles: dict[str, str] | None = None

    # ---------------------------------------------------------------------------------------------------
    def row(self, org_id: str) -> int:
        try:
            return self.row_of[org_id]
        except KeyError:
            raise UnknownOrganisationError(org_id) from None

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
        texts = [q.text for q in queries if not q.org_id]
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
        mask = self.side_masks[rq.query.region].copy()
        if rq.row is not None:
            mask[rq.row] = False
        for oid in rq.query.exclude:
            row = self.row_of.get(oid)
            if row is not None:
                mask[row] = False
        return mask

    @property
    def project_titles(self) -> dict[str, str]:
        """Project id -> title, built once (explanations look titles up for every recommendation)."""
        if self._titles is None:
            projects = self.catalogue.projects
            self._titles = dict(zip(projects["id"], projects["title"].fillna(""), strict=True))
        return self._titles

    def partners_in_country(self, country_code: int, rows: np.ndarray) -> np.ndarray:
        """How many past partners each of ``rows`` has in the country with code ``country_code``."""
        in_country = (self.graph.country_codes == country_code).astype(np.float64)
        return np.asarray(self.partners[rows] @ in_country).ravel()

    def allowed(self, rq: ResolvedQuery) -> np.ndarray:
        """Candidate mask after the side, the exclusions and (unless kept) instrument ineligibility."""
        mask = self.candidate_mask(rq)
        if rq.query.instrument and not rq.query.keep_ineligible:
            mask &= self.eligibility(rq.query.instrument)[0] > 0
        return mask

    def popular(self, side: str, n: int) -> np.ndarray:
        """The ``n`` most experienced organisations of a side (rows), most experienced first."""
        key = f"{side}:{n}"
        if key not in self._popular:
            rows = np.flatnonzero(self.side_masks[side])
            order = np.lexsort((rows, -self.graph.projects[rows]))
            self._popular[key] = rows[order[:n]]
        return self._popular[key]

    # ---------------------------------------------------------------------------------------------------
    def eligibility(self, instrument: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Per organisation: (value 1 / 0.5 / 0, verdict label) under ``instrument``; all 1 when None."""
        if instrument is None or self.rulebook is None:
            n = len(self.ids)
            return np.ones(n), np.full(n, "", dtype=object)
        if instrument not in self._eligibility:
            from recommender.rules import Organisation, evaluate_organisation

            self.rulebook.instrument(instrument)  # unknown instruments raise with the known list
            orgs = self.catalogue.organisations
            keys = list(
                zip(
                    orgs["country"].fillna(""),
                    orgs["control_country"].fillna(""),
                    orgs["activity_type"].fillna(""),
                    strict=True,
                )
            )
            verdicts: dict[tuple, object] = {}
            for key in set(keys):
                country, control, activity = key
                if not country:
                    verdicts[key] = None
                    continue
                # A recommended partner is meant to be a funded participant, so it is judged in that role.
                verdicts[key] = evaluate_organisation(
                    self.rulebook,
                    instrument,
                    Organisation(
                        country=country,
                        control_country=control or None,
                        activity_type=activity or None,
                        role="participant",
                        name="candidate",
                    ),
                )
            labels = np.array(
                [str(verdicts[k].verdict) if verdicts[k] is not None else "INELIGIBLE" for k in keys], dtype=object
            )
            values = np.array([ELIGIBILITY_VALUE[label] for label in labels])
            self._eligibility[instrument] = (values, labels, verdicts, keys)
        values, labels, _, _ = self._eligibility[instrument]
        return values, labels

    def organisation_verdict(self, instrument: str, row: int):
        """The rules engine's verdict object for one organisation (reasons, citations)."""
        self.eligibility(instrument)
        _, _, verdicts, keys = self._eligibility[instrument]
        return verdicts[keys[row]]


def _normalise(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def frame_of_ids(ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"org_id": ids, "score": scores})

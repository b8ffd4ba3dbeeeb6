"""Programme-aware collaboration history: what each organisation did in which programme family, and the
collaboration graphs that count as research-and-development and as defence work.

A European Defence Fund participation says more about a defence co-development partner than a Marie
Curie fellowship, and a coordination-and-support or co-fund action (where funding agencies meet funding
agencies) is not co-development at all. So, per programme family (``FAMILIES``), every organisation gets
participations, coordinations, recency-weighted activity and distinct partners, and pairs are weighed by
type of action (``action_weight``): the R&D graph keeps only links from R&D-type actions, the defence graph
only links from EDF and security-research projects. Everything is row-aligned with the catalogue's
organisations and built from projects of ``cutoff_year`` or earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.row_scores import RowScores, neighbourhood

FAMILIES: tuple[str, ...] = ("edf", "security", "he_cluster3", "he_other", "h2020_other")
FAMILY_LABELS: dict[str, str] = {
    "edf": "European Defence Fund",
    "security": "security research (FP7/H2020)",
    "he_cluster3": "Horizon Europe Cluster 3 (civil security)",
    "he_other": "other Horizon Europe",
    "h2020_other": "other Horizon 2020",
}
DEFENCE_FAMILIES = ("edf", "security")
CLUSTER3_PART = "HORIZON.2.3"
RECENT_HALF_LIFE_YEARS = 2.0
RD_MIN_WEIGHT = 0.5  # links from actions weighing less (coordination, co-fund) are not R&D collaboration

# The programme family whose experience matters for a requested instrument.
INSTRUMENT_FAMILIES: dict[str, tuple[str, ...]] = {
    "edf-research": DEFENCE_FAMILIES,
    "edf-development": DEFENCE_FAMILIES,
    "edip": DEFENCE_FAMILIES,
    "safe": DEFENCE_FAMILIES,
    "horizon-europe": ("he_cluster3", "he_other"),
}


def project_family(programme: pd.Series, programme_part: pd.Series) -> np.ndarray:
    """The programme family of each project (see ``FAMILIES``)."""
    prog = programme.fillna("").to_numpy(dtype=object)
    part = programme_part.fillna("").to_numpy(dtype=object)
    out = np.full(len(prog), "h2020_other", dtype=object)
    out[prog == "horizon-europe"] = "he_other"
    out[(prog == "horizon-europe") & (part == CLUSTER3_PART)] = "he_cluster3"
    out[(prog == "h2020") & (part == "SC7")] = "security"
    out[prog == "security"] = "security"
    out[prog == "edf"] = "edf"
    return out


def action_weight(type_of_action: pd.Series, programme_part: pd.Series) -> np.ndarray:
    """How much a shared project counts as co-development, by type of action.

    1.0 research, innovation, development and defence actions; 0.8 unknown (the H2020 link table has no
    type); 0.5 training networks and frontier-research grants (MSCA, ERC: hosts and trainees, not a
    consortium building something); 0.2 coordination-and-support and co-fund actions."""
    toa = type_of_action.fillna("").str.upper()
    part = programme_part.fillna("").str.upper()
    w = np.full(len(toa), 1.0)
    w[(toa == "").to_numpy()] = 0.8
    training = toa.str.contains("MSCA|ERC", regex=True) | (toa == "") & part.isin(["MSCA", "ERC"])
    w[training.to_numpy()] = 0.5
    coordination = toa.str.contains("CSA|COFUND|ERA-NET", regex=True) & ~toa.str.startswith("CP-")
    coordination |= toa.isin(["CSA-CA", "CSA-SA", "CP-CSA"])
    w[coordination.to_numpy()] = 0.2
    return w


@dataclass(frozen=True)
class ProgrammeHistory:
    """Per organisation and programme family: counts and graphs up to ``cutoff_year`` (all when None)."""

    cutoff_year: int | None
    participations: np.ndarray  # (n_orgs, F)
    coordinations: np.ndarray  # (n_orgs, F)
    recent: np.ndarray  # (n_orgs, F) participations weighted 0.5 ** (age / RECENT_HALF_LIFE_YEARS)
    partners: np.ndarray  # (n_orgs, F) distinct partners met in that family
    coordination_share: np.ndarray  # (n_orgs,) share of participations in coordination/co-fund actions
    rd_adjacency: sparse.csr_matrix  # links from R&D-type actions only (binary)
    defence_adjacency: sparse.csr_matrix  # links from EDF and security-research projects only (binary)
    rd_aa_weight: np.ndarray
    defence_aa_weight: np.ndarray

    def family_index(self, family: str) -> int:
        return FAMILIES.index(family)

    @property
    def defence(self) -> np.ndarray:
        """(n_orgs,) EDF plus security-research participations."""
        cols = [FAMILIES.index(f) for f in DEFENCE_FAMILIES]
        return self.participations[:, cols].sum(axis=1)

    def instrument_experience(self, instrument: str | None) -> np.ndarray | None:
        """(n_orgs,) participations in the programme family of ``instrument``; None when it has none."""
        families = INSTRUMENT_FAMILIES.get(instrument or "")
        if not families:
            return None
        return self.participations[:, [FAMILIES.index(f) for f in families]].sum(axis=1)

    def neighbour_scores(self, graph: str, row: int) -> tuple[RowScores, RowScores]:
        """(common neighbours, Adamic-Adar) of ``row`` with the organisations two steps away in the ``rd`` or
        ``defence`` graph."""
        adjacency = self.rd_adjacency if graph == "rd" else self.defence_adjacency
        weight = self.rd_aa_weight if graph == "rd" else self.defence_aa_weight
        return neighbourhood(adjacency, weight, row)


def _binary_adjacency(rows: np.ndarray, cols: np.ndarray, n_orgs: int, n_projects: int) -> sparse.csr_matrix:
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_orgs, n_projects)
    )
    incidence.data[:] = 1.0
    adjacency = (incidence @ incidence.T).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    adjacency.data[:] = 1.0
    return adjacency.astype(np.float32)


def _aa_weight(adjacency: sparse.csr_matrix) -> np.ndarray:
    degree = np.diff(adjacency.indptr).astype(np.float64)
    return np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0)


def build_history(catalogue: Catalogue, cutoff_year: int | None = None) -> ProgrammeHistory:
    """Programme-aware history from participations in projects of ``cutoff_year`` or earlier."""
    orgs, projects = catalogue.organisations, catalogue.projects
    n = len(orgs)
    org_index = pd.Series(np.arange(n), index=orgs["id"].to_numpy())
    proj = projects.drop_duplicates("id").set_index("id")
    links = catalogue.participations
    links = links[links["org_id"].isin(org_index.index) & links["project_id"].isin(proj.index)]
    year = links["project_id"].map(proj["year"].astype("float")).fillna(0).to_numpy()
    if cutoff_year is not None:
        keep = year <= cutoff_year
        links, year = links[keep], year[keep]
    links = links.assign(_year=year).drop_duplicates(["org_id", "project_id"])
    year = links["_year"].to_numpy()
    rows = org_index.loc[links["org_id"].to_numpy()].to_numpy()
    p = proj.loc[links["project_id"].to_numpy()]
    family = project_family(p["programme"], p["programme_part"])
    weight = action_weight(p["type_of_action"], p["programme_part"])
    fam_col = pd.Series(np.arange(len(FAMILIES)), index=list(FAMILIES)).loc[family].to_numpy()
    coordinator = (links["role"].to_numpy() == "coordinator").astype(np.float64)
    reference = cutoff_year if cutoff_year is not None else (int(year.max()) if len(year) else 0)
    recency = 0.5 ** (np.clip(reference - year, 0, None) / RECENT_HALF_LIFE_YEARS)
    shape = (n, len(FAMILIES))

    def per_family(values: np.ndarray) -> np.ndarray:
        return sparse.coo_matrix((values, (rows, fam_col)), shape=shape).toarray()

    participations = per_family(np.ones(len(rows)))
    coordinations = per_family(coordinator)
    recent = per_family(recency)
    proj_codes, proj_uniques = pd.factorize(links["project_id"])
    n_projects = len(proj_uniques)
    partners = np.zeros(shape)
    for j, fam in enumerate(FAMILIES):
        sel = family == fam
        if sel.any():
            adj = _binary_adjacency(rows[sel], proj_codes[sel], n, n_projects)
            partners[:, j] = np.diff(adj.indptr)
    total = participations.sum(axis=1)
    coordination_links = np.bincount(rows[weight <= 0.2], minlength=n)
    share = np.divide(coordination_links, total, out=np.zeros(n), where=total > 0)
    rd = weight >= RD_MIN_WEIGHT
    rd_adjacency = _binary_adjacency(rows[rd], proj_codes[rd], n, n_projects)
    defence = np.isin(family, DEFENCE_FAMILIES)
    defence_adjacency = _binary_adjacency(rows[defence], proj_codes[defence], n, n_projects)
    return ProgrammeHistory(
        cutoff_year=cutoff_year,
        participations=participations,
        coordinations=coordinations,
        recent=recent,
        partners=partners,
        coordination_share=share,
        rd_adjacency=rd_adjacency,
        defence_adjacency=defence_adjacency,
        rd_aa_weight=_aa_weight(rd_adjacency),
        defence_aa_weight=_aa_weight(defence_adjacency),
    )

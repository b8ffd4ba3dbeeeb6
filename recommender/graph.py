"""The past collaboration graph: organisations linked by shared projects up to a cut-off year.

Built from participations as a sparse organisation x project incidence matrix B (1 where an organisation
took part); co-participation counts are B B^T. Everything is row-aligned with the catalogue's
organisations, so a row index is the same everywhere in the ranking code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.row_scores import RowScores, neighbourhood


@dataclass
class CollaborationGraph:
    cutoff_year: int | None
    incidence: sparse.csr_matrix  # (n_orgs, n_projects) 1 = took part
    coordinated: np.ndarray  # (n_orgs,) projects coordinated
    adjacency: sparse.csr_matrix  # (n_orgs, n_orgs) shared projects (diagonal removed)
    degree: np.ndarray  # (n_orgs,) distinct partners
    projects: np.ndarray  # (n_orgs,) projects taken part in
    last_year: np.ndarray  # (n_orgs,) year of the latest project (0 if none)
    aa_weight: np.ndarray  # (n_orgs,) 1 / log(degree) for Adamic-Adar (0 where degree < 2)
    country_codes: np.ndarray  # (n_orgs,) index of each organisation's country in country_links
    country_links: np.ndarray  # (n_countries, n_countries) log(1 + collaborating organisation pairs)
    project_ids: np.ndarray | None = None  # (n_projects,) the project of each incidence column

    def neighbours(self, row: int) -> np.ndarray:
        a = self.adjacency
        return a.indices[a.indptr[row] : a.indptr[row + 1]]

    def shared_projects(self, row: int) -> np.ndarray:
        """(n_orgs,) projects shared with ``row``."""
        return self.adjacency.getrow(row).toarray().ravel()

    @property
    def binary(self) -> sparse.csr_matrix:
        """The adjacency with every edge weight 1 (its index arrays shared; built once)."""
        binary = self.__dict__.get("_binary")
        if binary is None:
            a = self.adjacency
            binary = sparse.csr_matrix((np.ones(a.nnz, dtype=np.float32), a.indices, a.indptr), shape=a.shape)
            self.__dict__["_binary"] = binary
        return binary

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_binary"}  # rebuilt on use, never saved

    def neighbour_scores(self, row: int) -> tuple[RowScores, RowScores]:
        """(common neighbours, Adamic-Adar) of ``row`` with the organisations two steps away."""
        return neighbourhood(self.binary, self.aa_weight, row)

    def adamic_adar(self, row: int) -> np.ndarray:
        """(n_orgs,) Adamic-Adar index of ``row`` with every organisation."""
        nb = self.neighbours(row)
        if len(nb) == 0:
            return np.zeros(self.adjacency.shape[0])
        weights = sparse.csr_matrix(
            (self.aa_weight[nb], (np.zeros(len(nb), dtype=int), nb)), shape=(1, self.adjacency.shape[0])
        )
        binary = self.adjacency[nb].sign()
        out = (weights[:, nb] @ binary).toarray().ravel()
        out[row] = 0.0
        return out

    def common_neighbours(self, row: int) -> np.ndarray:
        nb = self.neighbours(row)
        if len(nb) == 0:
            return np.zeros(self.adjacency.shape[0])
        out = np.asarray(self.adjacency[nb].sign().sum(axis=0)).ravel()
        out[row] = 0.0
        return out


def build_graph(catalogue: Catalogue, cutoff_year: int | None = None) -> CollaborationGraph:
    """The graph of collaborations in projects of ``cutoff_year`` or earlier (all when None)."""
    orgs = catalogue.organisations
    projects = catalogue.projects
    year = projects.set_index("id")["year"].astype("float").fillna(0)
    links = catalogue.participations
    org_index = pd.Series(np.arange(len(orgs)), index=orgs["id"].to_numpy())
    links = links[links["org_id"].isin(org_index.index)]
    link_year = links["project_id"].map(year).fillna(0).to_numpy()
    if cutoff_year is not None:
        keep = link_year <= cutoff_year
        links, link_year = links[keep], link_year[keep]
    proj_codes, proj_uniques = pd.factorize(links["project_id"])
    rows = org_index.loc[links["org_id"].to_numpy()].to_numpy()
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, proj_codes)), shape=(len(orgs), len(proj_uniques))
    )
    incidence.data[:] = 1.0  # an organisation counts once per project
    adjacency = (incidence @ incidence.T).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    degree = np.diff(adjacency.indptr).astype(np.float64)
    aa_weight = np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0)
    coordinated = np.bincount(rows[(links["role"] == "coordinator").to_numpy()], minlength=len(orgs))
    last_year = np.zeros(len(orgs))
    np.maximum.at(last_year, rows, link_year)
    codes, _ = pd.factorize(orgs["country"].fillna("??"))
    n_countries = int(codes.max()) + 1 if len(codes) else 1
    upper = sparse.triu(adjacency, k=1).tocoo()
    counts = sparse.coo_matrix(
        (np.ones(len(upper.row)), (codes[upper.row], codes[upper.col])), shape=(n_countries, n_countries)
    ).toarray()
    country_links = np.log1p(counts + counts.T - np.diag(np.diag(counts)))
    return CollaborationGraph(
        cutoff_year=cutoff_year,
        incidence=incidence,
        coordinated=coordinated.astype(np.float64),
        adjacency=adjacency,
        degree=degree,
        projects=np.asarray(incidence.sum(axis=1)).ravel(),
        last_year=last_year,
        aa_weight=aa_weight,
        country_codes=codes,
        country_links=country_links,
        project_ids=np.asarray(proj_uniques, dtype=object),
    )

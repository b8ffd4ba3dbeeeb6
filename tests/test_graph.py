from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS
from recommender.graph import build_graph
from tests.synthetic import make_world


def tiny_graph_catalogue() -> Catalogue:
    # A-B in P1 (2019), B-C in P2 (2020), C-D in P3 (2021), A-C in P4 (2022)
    orgs = pd.DataFrame({c: None for c in ORGANISATIONS.names}, index=range(4))
    orgs["id"] = ["A", "B", "C", "D"]
    orgs["name"] = orgs["id"]
    orgs["country"] = ["FR", "DE", "KR", "FR"]
    projects = pd.DataFrame({c: None for c in PROJECTS.names}, index=range(4))
    projects["id"], projects["year"] = ["P1", "P2", "P3", "P4"], [2019, 2020, 2021, 2022]
    links = pd.DataFrame([("A", "P1"), ("B", "P1"), ("B", "P2"), ("C", "P2"), ("C", "P3"), ("D", "P3"),
                          ("A", "P4"), ("C", "P4")], columns=["org_id", "project_id"])
    links["role"], links["contribution"], links["country"] = "participant", 1.0, None
    return Catalogue(conform(orgs, ORGANISATIONS), conform(projects, PROJECTS), conform(links, PARTICIPATIONS))


def test_known_common_neighbours_and_adamic_adar():
    g = build_graph(tiny_graph_catalogue())
    a, b, c, d = range(4)
    common, adamic_adar = g.neighbour_scores(a)  # N(A) = {B, C}; N(C) = {A, B, D} (degree 3); N(B) = {A, C}
    cn, aa = common.dense(), adamic_adar.dense()
    assert cn.tolist() == [0, 1, 1, 1]  # B via C, C via B, D via C
    assert common.rows.tolist() == [b, c, d] and common.at(np.array([d, a, b])).tolist() == [1, 0, 1]
    assert aa[d] == pytest.approx(1 / math.log(3))
    assert aa[b] == pytest.approx(1 / math.log(3)) and aa[c] == pytest.approx(1 / math.log(2))
    assert g.degree.tolist() == [2, 2, 3, 1] and g.projects.tolist() == [2, 2, 3, 1]


def test_cutoff_hides_later_collaborations():
    g = build_graph(tiny_graph_catalogue(), cutoff_year=2020)
    assert g.degree.tolist() == [1, 2, 1, 0]  # P3 and P4 are in the future
    assert g.last_year.tolist() == [2019, 2020, 2020, 0]


def test_one_slice_scores_equal_the_separate_ones():
    g = build_graph(make_world())
    for row in range(0, 34, 3):
        cn, aa = g.neighbour_scores(row)
        np.testing.assert_allclose(cn.dense(), g.common_neighbours(row))
        np.testing.assert_allclose(aa.dense(), g.adamic_adar(row))
        assert np.all(np.diff(cn.rows) > 0) and row not in cn.rows and np.all(cn.values > 0)

"""Adding organisations to an index incrementally equals rebuilding it (recommender/ranking/incremental.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.schema import ORGANISATIONS
from recommender.catalogue.store import overlay_organisations
from recommender.catalogue.useradd import validate_row
from recommender.ranking.incremental import description_texts, with_organisations
from recommender.ranking.index import Query
from recommender.ranking.rankers import EmbeddingRanker
from tests.api_support import encode_fn, make_index, world

PRIORITIES = frozenset({"unmanned", "semiconductors", "sensors_ew"})


def org(**fields):
    rec = {"name": "Test Org", "country": "FR", "description": "Radar and sonar sensing for naval drones.", **fields}
    row, error = validate_row(rec, 1, PRIORITIES)
    assert error is None, error
    return row


def rebuilt(rows):
    base = world()
    frame = conform(pd.DataFrame(rows, columns=list(ORGANISATIONS.names)), ORGANISATIONS)
    catalogue = Catalogue(overlay_organisations(base.organisations, frame), base.projects, base.participations)
    return make_index(catalogue)


def incremental(rows, index=None):
    index = index or make_index()
    _, _, encode = encode_fn()
    vectors, scores = encode(description_texts(rows))
    return with_organisations(index, rows, vectors, scores)


def assert_same_profiles(a, b, ids):
    for oid in ids:
        ra, rb = a.row(oid), b.row(oid)
        np.testing.assert_allclose(a.vectors[ra], b.vectors[rb], atol=1e-6)
        np.testing.assert_allclose(a.scores[ra], b.scores[rb], atol=1e-9)
        assert a.has_profile[ra] == b.has_profile[rb]
        for side in ("EU", "KR", "ANY"):
            assert a.side_masks[side][ra] == b.side_masks[side][rb]
        assert a.graph.projects[ra] == b.graph.projects[rb]
        assert a.graph.degree[ra] == b.graph.degree[rb]
        assert (a.kinds[ra], a.kind_reasons[ra], a.funding_body[ra]) == (b.kinds[rb], b.kind_reasons[rb],
                                                                          b.funding_body[rb]), oid
        ha, hb = a.history, b.history
        for name in ("participations", "coordinations", "recent", "partners", "coordination_share", "rd_aa_weight",
                     "defence_aa_weight"):
            np.testing.assert_allclose(getattr(ha, name)[ra], getattr(hb, name)[rb], err_msg=f"{oid} {name}")
        for name in ("rd_adjacency", "defence_adjacency"):
            near_a = set(a.ids[getattr(ha, name)[ra].indices])
            assert near_a == set(b.ids[getattr(hb, name)[rb].indices]), f"{oid} {name}"


def test_new_organisations_match_a_full_rebuild():
    rows = [
        org(id="new-fr", technology_areas="unmanned"),
        org(id="new-jp", country="JP", description="Semiconductor chip packaging."),  # a country new to the graph
        org(id="new-kr", country="KR", description="Drone swarm autonomy."),
    ]
    inc, full = incremental(rows), rebuilt(rows)
    assert len(inc.ids) == len(full.ids) == len(world().organisations) + 3
    assert_same_profiles(inc, full, [r["id"] for r in rows] + ["drones-eu-0", "kr-cold-drones"])
    assert inc.scores[inc.row("new-fr"), inc.priority_index("unmanned")] >= 0.6  # declared floor
    assert inc.side_masks["KR"][inc.row("new-kr")] and inc.side_masks["EU"][inc.row("new-fr")]
    jp, fr = inc.row("new-jp"), inc.row("new-fr")
    assert inc.graph.country_links[inc.graph.country_codes[jp]].sum() == 0  # no collaborations yet
    old_fr = next(r for r in range(len(world().organisations)) if inc.countries[r] == "FR")
    assert inc.graph.country_codes[fr] == inc.graph.country_codes[old_fr]  # an existing country keeps its code


def test_replacing_a_catalogue_organisation_keeps_its_projects_and_matches_a_rebuild():
    replacement = org(id="drones-eu-3", name="Drones Org 3", country="FR", description="Sonar and radar sensing.")
    inc, full = incremental([replacement]), rebuilt([replacement])
    assert len(inc.ids) == len(world().organisations)
    assert_same_profiles(inc, full, ["drones-eu-3", "drones-eu-0"])
    row = inc.row("drones-eu-3")
    assert inc.graph.projects[row] > 0 and inc.catalogue.organisations.iloc[row]["sources"] == "user"
    assert inc.profiles.org_description_texts["drones-eu-3"] == "Sonar and radar sensing."


def test_rankings_over_the_incremental_index_equal_the_rebuilt_ones():
    rows = [org(id="new-radar", description="Radar sonar sensing systems.")]
    inc, full = incremental(rows), rebuilt(rows)
    for query in (Query(org_id="new-radar", region="EU"), Query(org_id="radar-kr-8", region="ANY")):
        a = EmbeddingRanker().fit(inc).rank(inc, query, 10)
        b = EmbeddingRanker().fit(full).rank(full, query, 10)
        assert a[0].tolist() == b[0].tolist()
        np.testing.assert_allclose(a[1], b[1], atol=1e-6)
    ids, _ = EmbeddingRanker().fit(inc).rank(inc, Query(org_id="radar-kr-8", region="ANY"), 12)
    assert "new-radar" in ids  # rankable at once, as a candidate too


def test_the_old_index_is_untouched_and_one_ranker_serves_both():
    index = make_index()
    n = len(index.ids)
    inc = incremental([org(id="new-x", description="Radar sonar sensing systems.")], index)
    assert len(index.ids) == n and "new-x" not in index.row_of
    assert inc.encode_texts is index.encode_texts and inc.rulebook is index.rulebook
    ranker = EmbeddingRanker().fit(index)
    query = Query(org_id="radar-kr-8", region="ANY")
    assert "new-x" in ranker.rank(inc, query, 12)[0] and "new-x" not in ranker.rank(index, query, 12)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.catalogue = index.catalogue  # type: ignore[misc]


def test_bad_input_is_refused():
    from recommender.errors import CorridorError

    index = make_index()
    rows = [org(id="a"), org(id="a")]
    with pytest.raises(CorridorError, match="duplicate"):
        with_organisations(index, rows, np.zeros((2, 14)), np.zeros((2, 3)))
    with pytest.raises(CorridorError, match="expected vectors"):
        with_organisations(index, [org(id="b")], np.zeros((1, 3)), np.zeros((1, 3)))
    assert with_organisations(index, [], np.zeros((0, 14)), np.zeros((0, 3))) is index


# ---- the lexical index: descriptions added after the build ---------------------------------------------------


def test_a_new_document_is_scored_as_the_indexed_ones_are():
    """Scored under the corpus's statistics, an indexed document's text gets the indexed document's own BM25
    term scores (so an added description is weighed as if it had been indexed)."""
    lexical = make_index().lexical
    for doc in (0, 3, lexical.n_docs - 1):
        text = " ".join(next(k for k, v in lexical.vocab.items() if v == t) for t in lexical.doc_terms[doc])
        added, terms = lexical.term_scores([text])
        np.testing.assert_array_equal(np.sort(terms[0]), np.sort(lexical.doc_terms[doc]))
        for term in np.unique(terms[0]):
            expected = lexical.bm25.get_scores_from_ids([int(term)])[doc]
            np.testing.assert_allclose(added[0, term], expected, rtol=1e-5)


def test_added_descriptions_are_searchable_at_once_and_replace_old_ones():
    rows = [
        org(id="new-radar", description="Hydroacoustic sonar arrays for naval drones."),
        org(id="drones-eu-3", name="Drones Org 3", country="FR", description="Hydroacoustic sonar arrays."),
    ]
    base = make_index()
    inc, full = incremental(rows, base), rebuilt(rows)
    terms = inc.lexical.text_terms("hydroacoustic sonar arrays")
    assert len(terms) > 0
    a = inc.lexical.scores(terms).dense()
    b = full.lexical.scores(full.lexical.text_terms("hydroacoustic sonar arrays")).dense()
    for oid in ("new-radar", "drones-eu-3"):
        assert a[inc.row(oid)] > 0 and b[full.row(oid)] > 0
    order_a = [inc.ids[r] for r in np.argsort(-a, kind="stable")[:5] if a[r] > 0]
    order_b = [full.ids[r] for r in np.argsort(-b, kind="stable")[:5] if b[r] > 0]
    assert set(order_a) == set(order_b)
    old_text = base.profiles.org_description_texts.get("drones-eu-3")
    if old_text:  # the replaced description no longer speaks for the organisation
        own = inc.lexical.owner.indices[inc.lexical.owner.indptr[inc.row("drones-eu-3")]:
                                        inc.lexical.owner.indptr[inc.row("drones-eu-3") + 1]]
        assert (own >= inc.lexical.first_description).sum() == 1
    assert inc.lexical.bm25 is base.lexical.bm25  # nothing re-indexed


def test_name_search_over_an_added_row_equals_a_fresh_one():
    from recommender.ranking.pairings import OrganisationSearch

    base = make_index()
    rows = [org(id="new-sonar", name="Hanbit Sonar Works", short_name="HSW", country="KR"),
            org(id="drones-eu-3", name="Renamed Drone Makers", country="FR", description="Quadcopters.")]
    inc = incremental(rows, base)
    changed = np.array([inc.row(r["id"]) for r in rows])
    patched, fresh = OrganisationSearch(base).with_index(inc, changed), OrganisationSearch(inc)
    for name in ("named", "haystack", "region", "name_rank"):
        np.testing.assert_array_equal(getattr(patched, name), getattr(fresh, name), err_msg=name)
    assert patched.names_folded == fresh.names_folded and patched.short_folded == fresh.short_folded
    for text in ("hanbit sonar", "HSW", "renamed drone", "quadcopters", "drones org 3"):
        a, b = patched.search(text=text), fresh.search(text=text)
        assert (a.total, a.rows.tolist()) == (b.total, b.rows.tolist()), text
    assert patched.search(text="hanbit").rows.tolist() == [inc.row("new-sonar")]

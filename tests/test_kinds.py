from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recommender.catalogue.kinds import (
    KIND_FILTERS,
    KIND_LABELS,
    KINDS,
    UnknownKindFilterError,
    classify_organisations,
    kind_mask,
)
from recommender.errors import CorridorError

# id, name, short_name, activity_type, project types (one project each), expected kind, reason fragment
WORLD = [
    ("ministry", "MINISTERIE VAN ECONOMISCHE ZAKEN", "MINISTRY OF ECONOMIC AFFAIRS", "PUB", [], "funding",
     "name: 'ministry'"),
    ("council", "VETENSKAPSRADET - SWEDISH RESEARCH COUNCIL", None, "PUB", ["HORIZON-RIA"], "funding",
     "research council"),
    ("forskningsrad", "NORGES FORSKNINGSRÅD", None, "PUB", [], "funding", "research council"),
    ("eranet", "VLAAMSE GEWEST", "VL O", "PUB", ["ERA-NET-Cofund", "HORIZON-COFUND", "HORIZON-CSA", "HORIZON-RIA"],
     "funding", "public body whose 3 of 4 typed projects are coordination/co-fund actions (2 co-fund)"),
    ("publab", "MET OFFICE", None, "PUB", ["HORIZON-RIA", "HORIZON-RIA", "HORIZON-IA", "HORIZON-CSA"], "public",
     "activity type PUB"),
    ("foi", "Swedish Defence Research Agency", "FOI", "REC", ["HORIZON-CSA", "HORIZON-COFUND"], "research",
     "activity type REC"),
    ("add", "Agency for Defense Development", "ADD", "REC", [], "research", "activity type REC"),
    ("cnr", "CONSIGLIO NAZIONALE DELLE RICERCHE", "CNR", "REC", ["HORIZON-COFUND", "HORIZON-CSA"], "research",
     "activity type REC"),
    ("nrc", "National Research Council of Exampleland", None, "PUB", [], "public", "research performer"),
    ("company", "Acme Defence Systems GmbH", "Acme", "PRC", ["HORIZON-CSA", "HORIZON-CSA", "HORIZON-COFUND"],
     "company", "activity type PRC"),
    ("agency-co", "Innovation Agency Consulting Ltd", None, "PRC", [], "company", "activity type PRC"),
    ("projekttraeger", "Projektträger Musterstadt GmbH", None, "PRC", [], "funding", "projekttrager"),
    ("university", "UNIVERSITY OF SOMEWHERE", None, "HES", ["HORIZON-CSA", "HORIZON-COFUND", "ERA-NET-Cofund"],
     "university", "activity type HES"),
    ("kiat", "KOREA INSTITUTE FOR ADVANCEMENT OF TECHNOLOGY", "KIAT", "PUB", [], "funding",
     "Korea Institute for Advancement of Technology"),
    ("mod", "MINISTRY OF NATIONAL DEFENCE", "MOD", "PUB", ["HORIZON-RIA"], "public", "end-user portfolio"),
    ("moh-lab", "NATIONAL INSTITUTE OF HEALTH OF THE MINISTRY OF HEALTH", None, "PUB", [], "public",
     "activity type PUB"),
    ("association", "EUROPEAN WIDGET ASSOCIATION", None, "OTH",
     ["HORIZON-CSA", "HORIZON-CSA", "HORIZON-CSA", "HORIZON-CSA", "HORIZON-COFUND"], "public", "activity type OTH"),
    ("msca", "SOME RESEARCH FOUNDATION", None, "OTH",
     ["HORIZON-TMA-MSCA-Cofund-D", "HORIZON-TMA-MSCA-Cofund-P", "HORIZON-TMA-MSCA-Cofund-D"], "public",
     "activity type OTH"),
    ("esa", "EUROPEAN SPACE AGENCY", "ESA", "OTH", [], "public", "activity type OTH"),
    ("eda", "EUROPEAN DEFENCE AGENCY", "EDA", "PUB", [], "funding", "European Defence Agency"),
    ("blank", None, None, None, [None, None, None], "public", "no activity type"),
]


def make_world(rows=WORLD) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    organisations = pd.DataFrame(
        [(oid, name, short, act) for oid, name, short, act, *_ in rows],
        columns=["id", "name", "short_name", "activity_type"],
    )
    projects, links = [], []
    for oid, *_, types, _kind, _reason in rows:
        for j, toa in enumerate(types):
            projects.append((f"{oid}-p{j}", toa))
            links.append((oid, f"{oid}-p{j}", "participant"))
    # An untyped (H2020 link-table) project shared by everybody: it must not count towards any record.
    projects.append(("h2020", None))
    links += [(oid, "h2020", "participant") for oid, *_ in rows]
    return (
        organisations,
        pd.DataFrame(projects, columns=["id", "type_of_action"]),
        pd.DataFrame(links, columns=["org_id", "project_id", "role"]),
    )


@pytest.fixture(scope="module")
def classified() -> pd.DataFrame:
    return classify_organisations(*make_world())


@pytest.mark.parametrize("row", WORLD, ids=[r[0] for r in WORLD])
def test_known_answers(classified, row):
    oid, *_, kind, reason = row
    got = classified.set_index("id").loc[oid]
    assert got["kind"] == kind, got["kind_reason"]
    assert reason in got["kind_reason"]
    assert got["funding_body"] == (kind == "funding")


def test_output_shape_order_and_index():
    organisations, projects, participations = make_world()
    organisations.index = pd.Index([f"r{i}" for i in range(len(organisations))])
    out = classify_organisations(organisations, projects, participations)
    assert list(out.columns) == ["id", "kind", "funding_body", "kind_reason"]
    assert out.index.equals(organisations.index)
    assert out["id"].tolist() == organisations["id"].tolist()
    assert set(out["kind"]) <= set(KINDS)
    assert out["funding_body"].dtype == bool


def test_organisation_without_participations_is_judged_by_activity_and_name():
    organisations, projects, participations = make_world()
    out = classify_organisations(organisations, projects.iloc[:0], participations.iloc[:0])
    kinds = dict(zip(out["id"], out["kind"], strict=True))
    assert kinds["eranet"] == "public"  # its record was the only evidence
    assert kinds["council"] == "funding" and kinds["company"] == "company"


def test_labels_cover_every_kind():
    assert set(KIND_LABELS) == set(KINDS)
    assert KIND_LABELS["research"] == "research organisation"


KINDS_ARRAY = np.array(["company", "research", "university", "public", "funding", "public"], dtype=object)


@pytest.mark.parametrize(
    ("kind_filter", "expected"),
    [
        (None, [True, True, True, True, False, True]),
        ("any", [True] * 6),
        ("public", [False, False, False, True, True, True]),
        ("company", [True, False, False, False, False, False]),
        ("research", [False, True, False, False, False, False]),
        ("university", [False, False, True, False, False, False]),
    ],
)
def test_kind_mask(kind_filter, expected):
    assert kind_mask(KINDS_ARRAY, kind_filter).tolist() == expected


@pytest.mark.parametrize("bad", ["funding", "Company", "companies", ""])
def test_unknown_filter_names_the_known_ones(bad):
    with pytest.raises(UnknownKindFilterError) as err:
        kind_mask(KINDS_ARRAY, bad)
    assert isinstance(err.value, CorridorError)
    for known in KIND_FILTERS:
        assert known in str(err.value)


def test_kind_mask_on_empty_array():
    assert kind_mask(np.array([], dtype=object), None).shape == (0,)


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(WORLD))), st.randoms(use_true_random=False))
def test_answer_does_not_depend_on_row_order(order, rnd):
    organisations, projects, participations = make_world([WORLD[i] for i in order])
    links = participations.sample(frac=1.0, random_state=rnd.randint(0, 2**31 - 1))
    out = classify_organisations(organisations, projects.iloc[::-1], links)
    assert out["id"].tolist() == organisations["id"].tolist()
    expected = {oid: (kind, reason) for oid, *_, kind, reason in WORLD}
    for oid, kind, why in zip(out["id"], out["kind"], out["kind_reason"], strict=True):
        assert kind == expected[oid][0] and expected[oid][1] in why


def each_organisation_alone(test):
    for i in range(len(WORLD)):
        test = example({i})(test)
    return test


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, len(WORLD) - 1), max_size=len(WORLD)))
@each_organisation_alone
def test_a_subset_with_its_own_participations_is_classified_as_in_the_whole(chosen):
    """A live addition classifies only its rows, with only their participations (ranking/incremental.py):
    each row's answer must be the one the whole catalogue gives it."""
    organisations, projects, participations = make_world()
    whole = classify_organisations(organisations, projects, participations).set_index("id")
    subset = organisations.iloc[sorted(chosen)]
    links = participations[participations["org_id"].isin(subset["id"])]
    part = classify_organisations(subset, projects, links).set_index("id")
    assert part.index.tolist() == subset["id"].tolist()
    pd.testing.assert_frame_equal(part, whole.loc[part.index])

"""Real funded EDF consortia must not be called INELIGIBLE under the EDF rules.

Every EDF consortium in the data was funded, so an INELIGIBLE verdict means a rule is wrong (or the data
is). How rows are read:
- ``thirdParty`` rows are affiliated entities / linked third parties: they are checked as organisations
  (they must be established in the EU or an associated country too) but do not count toward the
  "3 entities in 3 countries" minima; ``associatedPartner`` rows likewise take part without counting.
- Calls for disruptive technologies (call or topic code with a DIS / RDIS segment) use the
  ``disruptive`` action type, whose calls may allow fewer participants: project 101103001 (SMiEQ,
  EDF-2021-OPEN-RDIS-2) has 3 entities in only 2 countries (FR, IT) and was funded.
- Research vs development comes from the type of action / EDF action, else the call code
  (``-R-``/``-RA``/``RDIS`` research, ``-D-``/``-DA`` development); an undecidable project (a framework
  partnership) is checked under both EDF instruments.
The shipped catalogue (data/catalogue) is used when the lead has built it; the public source files in
/work/shared/data are used directly meanwhile.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from recommender.catalogue.countries import normalise_country
from recommender.rules import Consortium, Organisation, Verdict, evaluate_consortium
from tests.rules_support import shipped_rulebook

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = REPO / "data" / "catalogue"
SHARED = Path("/work/shared/data")
DISRUPTIVE = re.compile(r"(^|-)R?DIS(-|$)")
RESEARCH = re.compile(r"-(R|RA)(-|$)|RDIS")
DEVELOPMENT = re.compile(r"-(D|DA)(-|$)")


def edf_instruments(type_of_action: object, edf_action: object, call: str) -> list[str]:
    text = f"{type_of_action or ''} {edf_action or ''}".lower()
    if "research" in text:
        return ["edf-research"]
    if "development" in text:
        return ["edf-development"]
    if RESEARCH.search(call):
        return ["edf-research"]
    if DEVELOPMENT.search(call):
        return ["edf-development"]
    return ["edf-research", "edf-development"]


def action_type(codes: list[str]) -> str | None:
    return "disruptive" if any(DISRUPTIVE.search(c) for c in codes if c) else None


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def check_projects(projects: list[tuple[str, list[str], str | None, tuple[Organisation, ...]]]) -> list[str]:
    """Evaluate each (project id, instruments, action type, members); describe every INELIGIBLE verdict."""
    book = shipped_rulebook()
    problems = []
    for project_id, instruments, action, members in projects:
        for instrument in instruments:
            verdict = evaluate_consortium(book, Consortium(instrument, members, action_type=action))
            if verdict.verdict is Verdict.INELIGIBLE:
                reasons = "; ".join(f"{r.rule_id}: {r.reason}" for r in verdict.failed)
                problems.append(f"{project_id} ({instrument}, action {action or 'standard'}): {reasons}")
    return problems


def shared_projects() -> list[tuple[str, list[str], str | None, tuple[Organisation, ...]]]:
    parts = pd.read_parquet(SHARED / "edf_participations.parquet").drop_duplicates(["project_id", "pic"])
    projects = pd.read_parquet(SHARED / "edf_projects.parquet").drop_duplicates("project_id").set_index("project_id")
    out = []
    for project_id, rows in parts.groupby("project_id"):
        p = projects.loc[project_id]
        members = tuple(
            Organisation(country=r.country, id=str(r.pic), name=r.name, role=r.role) for r in rows.itertuples()
        )
        codes = [str(p.call_identifier), str(p.topic)]
        out.append((str(project_id), edf_instruments(p.type_of_action, None, codes[0]), action_type(codes), members))
    return out


@pytest.mark.skipif(not (SHARED / "edf_participations.parquet").exists(), reason="shared EDF source data not present")
def test_funded_edf_consortia_from_source_data_are_not_ineligible():
    projects = shared_projects()
    assert len(projects) == 82
    problems = check_projects(projects)
    assert not problems, "funded EDF consortia judged INELIGIBLE:\n" + "\n".join(problems)


@pytest.mark.skipif(not (SHARED / "edf_participations.parquet").exists(), reason="shared EDF source data not present")
def test_the_only_composition_exception_is_the_disruptive_technologies_call():
    """Without the disruptive-call action type exactly one funded project would fail: documented above."""
    projects = [(pid, inst, None, members) for pid, inst, _, members in shared_projects()]
    problems = check_projects(projects)
    assert [p.split(" ")[0] for p in problems] == ["101103001"], problems


def test_funded_edf_consortia_in_shipped_catalogue_are_not_ineligible():
    tables = {name: CATALOGUE / f"{name}.parquet" for name in ("organisations", "projects", "participations")}
    missing = [str(p.relative_to(REPO)) for p in tables.values() if not p.exists()]
    if missing:
        pytest.skip(f"shipped catalogue not built yet (missing {', '.join(missing)}): run `corridor data build`")
    orgs = pd.read_parquet(tables["organisations"]).set_index("id")
    projects = pd.read_parquet(tables["projects"])
    projects = projects[projects["programme"] == "edf"].set_index("id")
    parts = pd.read_parquet(tables["participations"])
    parts = parts[parts["project_id"].isin(projects.index)].drop_duplicates(["project_id", "org_id"])
    assert len(projects) > 0, "the catalogue holds no EDF project"
    out = []
    for project_id, rows in parts.groupby("project_id"):
        p = projects.loc[project_id]
        members = []
        for r in rows.itertuples():
            o = orgs.loc[r.org_id] if r.org_id in orgs.index else None
            country = _text(o["country"]) if o is not None else None
            members.append(
                Organisation(
                    country=normalise_country(country or _text(getattr(r, "country", None))),
                    id=str(r.org_id),
                    name=_text(o["name"]) if o is not None else None,
                    control_country=_text(o["control_country"]) if o is not None else None,
                    role=_text(r.role),
                )
            )
        codes = [_text(p.get(c)) or "" for c in ("call", "topic", "call_identifier") if c in p.index]
        out.append(
            (str(project_id), edf_instruments(p.get("type_of_action"), p.get("edf_action"), " ".join(codes)),
             action_type(codes), tuple(members))
        )
    problems = check_projects(out)
    assert not problems, "funded EDF consortia judged INELIGIBLE:\n" + "\n".join(problems)

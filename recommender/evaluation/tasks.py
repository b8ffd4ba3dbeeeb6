"""The temporal evaluation tasks (three required, one supplementary), built from the catalogue for one evaluation year.

Every task ranks with what was known before ``year`` (the index is built with cutoff ``year - 1``) and
is judged on collaborations that first happened in ``year``:
  1. kr-to-eu: a Korean organisation -> its new European partners in projects of ``year``;
  2. text-to-consortium: a project's text -> the organisations in its consortium;
  3. edf-new-partners: a European organisation in an EDF consortium of ``year`` -> its new European
     partners in EDF consortia of that year;
  4. outside-europe-to-eu: any organisation from outside Europe (Korean ones among them) -> its new
     European partners in ``year``. The Korean task has under twenty queries a year, too few to tell
     rankers apart; this one measures the same behaviour on a population a hundred times larger;
  5. priority-new-partners: an organisation in projects of ``year`` tagged with a priority, asking with
     that priority -> its new European partners in those projects.

Queries ask as a user would: past partners and funding bodies are left out (the default), the EDF task
asks under the EDF instrument, the priority task with its priority. ``projects`` restricts the truth to
pairs formed in some projects of the year (the folds of cross-validation grouped by project).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.catalogue import Catalogue
from recommender.profiles.text import project_text
from recommender.ranking.index import Query, RankingIndex

TASKS = ("kr-to-eu", "text-to-consortium", "edf-new-partners", "outside-europe-to-eu", "priority-new-partners")
REQUIRED_TASKS = TASKS
EDF_INSTRUMENT = "edf-research"


@dataclass
class Task:
    name: str
    description: str
    queries: list[Query]
    truth: pd.DataFrame  # query_id, item_id


def _year_links(
    catalogue: Catalogue,
    year: int,
    programmes: tuple[str, ...] | None = None,
    projects_subset: set[str] | None = None,
) -> pd.DataFrame:
    projects = catalogue.projects
    chosen = projects[(projects["year"] == year)]
    if programmes:
        chosen = chosen[chosen["programme"].isin(programmes)]
    if projects_subset is not None:
        chosen = chosen[chosen["id"].isin(projects_subset)]
    links = catalogue.participations
    return links[links["project_id"].isin(chosen["id"])][["org_id", "project_id"]]


def _new_partner_task(
    index: RankingIndex,
    name: str,
    description: str,
    links: pd.DataFrame,
    query_mask: np.ndarray,
    candidate_side: str,
    instrument: str | None = None,
    priority: str | None = None,
    max_queries: int | None = None,
    seed: int = 0,
) -> Task:
    pairs = links.merge(links, on="project_id", suffixes=("_q", "_c"))
    pairs = pairs[pairs["org_id_q"] != pairs["org_id_c"]].drop_duplicates(["org_id_q", "org_id_c"])
    if pairs.empty:
        return Task(name, description, [], pd.DataFrame(columns=["query_id", "item_id"]))
    rows_q = pairs["org_id_q"].map(index.row_of).to_numpy()
    rows_c = pairs["org_id_c"].map(index.row_of).to_numpy()
    side_q = query_mask[rows_q]
    side_c = index.side_masks[candidate_side][rows_c]
    prior = np.asarray(index.graph.adjacency[rows_q, rows_c]).ravel() > 0
    pairs = pairs[side_q & side_c & ~prior]
    queries, truth = [], []
    grouped = list(pairs.groupby("org_id_q", sort=True))
    if max_queries is not None and len(grouped) > max_queries:
        keep = np.sort(np.random.default_rng(seed).choice(len(grouped), size=max_queries, replace=False))
        grouped = [grouped[i] for i in keep]
    for org_id, group in grouped:
        qid = f"{name}:{org_id}" if priority is None else f"{name}:{priority}:{org_id}"
        queries.append(
            Query(org_id=org_id, region=candidate_side, instrument=instrument, priority=priority, query_id=qid)
        )
        truth.append(pd.DataFrame({"query_id": qid, "item_id": sorted(group["org_id_c"])}))
    truth_frame = pd.concat(truth, ignore_index=True) if truth else pd.DataFrame(columns=["query_id", "item_id"])
    return Task(name, description, queries, truth_frame)


def kr_to_eu(index: RankingIndex, catalogue: Catalogue, year: int, projects: set[str] | None = None) -> Task:
    return _new_partner_task(
        index,
        "kr-to-eu",
        f"Korean organisation -> new European partners ({year})",
        _year_links(catalogue, year, projects_subset=projects),
        index.side_masks["KR"],
        "EU",
    )


def edf_new_partners(index: RankingIndex, catalogue: Catalogue, year: int, projects: set[str] | None = None) -> Task:
    return _new_partner_task(
        index,
        "edf-new-partners",
        f"European organisation asking under {EDF_INSTRUMENT} -> new European partners in EDF consortia ({year})",
        _year_links(catalogue, year, ("edf",), projects),
        index.side_masks["EU"],
        "EU",
        instrument=EDF_INSTRUMENT,
    )


def outside_europe_to_eu(
    index: RankingIndex, catalogue: Catalogue, year: int, projects: set[str] | None = None
) -> Task:
    return _new_partner_task(
        index,
        "outside-europe-to-eu",
        f"organisation from outside Europe (Korea included) -> new European partners ({year})",
        _year_links(catalogue, year, projects_subset=projects),
        index.side_masks["ANY"] & index.outside_europe,
        "EU",
    )


def priority_new_partners(
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    max_per_priority: int = 120,
    projects: set[str] | None = None,
    seed: int = 0,
) -> Task:
    """Per priority: organisations in projects of ``year`` tagged with it -> new European partners there."""
    links = _year_links(catalogue, year, projects_subset=projects)
    prof = index.profiles
    queries, truth = [], []
    for p, pid in enumerate(prof.taxonomy.ids):
        tagged = set(prof.project_ids[prof.project_scores[:, p] >= index.evidence_thresholds[p]])
        sub = _new_partner_task(
            index,
            "priority-new-partners",
            "",
            links[links["project_id"].isin(tagged)],
            index.side_masks["ANY"],
            "EU",
            priority=pid,
            max_queries=max_per_priority,
            seed=seed + p,
        )
        queries += sub.queries
        truth.append(sub.truth)
    return Task(
        "priority-new-partners",
        f"organisation + priority -> new European partners in projects of that priority ({year})",
        queries,
        pd.concat(truth, ignore_index=True) if truth else pd.DataFrame(columns=["query_id", "item_id"]),
    )


def text_to_consortium(
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    max_queries: int = 400,
    seed: int = 0,
    projects_subset: set[str] | None = None,
) -> Task:
    projects = catalogue.projects
    chosen = projects[
        (projects["year"] == year) & projects["title"].notna() & projects["programme"].isin(["horizon-europe", "edf"])
    ]
    if projects_subset is not None:
        chosen = chosen[chosen["id"].isin(projects_subset)]
    links = catalogue.participations
    links = links[links["project_id"].isin(chosen["id"])]
    named = links["org_id"].map(index.row_of).map(lambda r: bool(index.side_masks["ANY"][r]))
    links = links[named.to_numpy()]
    chosen = chosen[chosen["id"].isin(links["project_id"])]
    # Every EDF project (the defence core) plus a seeded sample of the rest.
    edf = chosen[chosen["programme"] == "edf"]
    rest = chosen[chosen["programme"] != "edf"]
    n_rest = max(0, min(len(rest), max_queries - len(edf)))
    sample = pd.concat([edf, rest.sample(n=n_rest, random_state=seed)]).sort_values("id")
    queries, truth = [], []
    for p in sample.itertuples(index=False):
        qid = f"text-to-consortium:{p.id}"
        queries.append(Query(text=project_text(p.title, p.topic_title, p.objective)[0], region="ANY", query_id=qid))
        members = sorted(links.loc[links["project_id"] == p.id, "org_id"])
        truth.append(pd.DataFrame({"query_id": qid, "item_id": members}))
    return Task(
        "text-to-consortium",
        f"project text -> its consortium members ({year})",
        queries,
        pd.concat(truth, ignore_index=True),
    )


def build_tasks(
    index: RankingIndex,
    catalogue: Catalogue,
    year: int,
    max_text_queries: int = 400,
    max_priority_queries: int = 120,
    projects: set[str] | None = None,
) -> list[Task]:
    return [
        kr_to_eu(index, catalogue, year, projects),
        text_to_consortium(index, catalogue, year, max_text_queries, projects_subset=projects),
        edf_new_partners(index, catalogue, year, projects),
        outside_europe_to_eu(index, catalogue, year, projects),
        priority_new_partners(index, catalogue, year, max_priority_queries, projects),
    ]

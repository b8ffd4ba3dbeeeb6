"""A small synthetic world with obvious answers: three technology communities that collaborate inside
their community, year after year, with Korean members in each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.countries import region_of
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS

TOPICS = {
    "drones": "drone swarm unmanned autonomy",
    "chips": "semiconductor chip microelectronics",
    "radar": "radar sonar sensing",
}
EU_COUNTRIES = ["FR", "DE", "IT", "ES", "NL", "PL", "SE", "FI"]


def make_world(
    seed: int = 0, eu_per_topic: int = 8, kr_per_topic: int = 3, years: tuple[int, ...] = (2019, 2020, 2021, 2022, 2023)
) -> Catalogue:
    rng = np.random.default_rng(seed)
    orgs, projects, links = [], [], []
    members: dict[str, list[str]] = {}
    for t, (topic, words) in enumerate(TOPICS.items()):
        ids = []
        for i in range(eu_per_topic + kr_per_topic):
            korean = i >= eu_per_topic
            country = "KR" if korean else EU_COUNTRIES[(i + t) % len(EU_COUNTRIES)]
            oid = f"{topic}-{'kr' if korean else 'eu'}-{i}"
            ids.append(oid)
            orgs.append(
                {
                    "id": oid,
                    "name": f"{topic.title()} Org {i}",
                    "short_name": None,
                    "country": country,
                    "region": region_of(country),
                    "activity_type": ["PRC", "REC", "HES"][i % 3],
                    "sme": i % 4 == 0,
                    "control_country": None,
                    "size_class": None,
                    "city": None,
                    "description": f"We build {words} systems." if korean else None,
                    "technology_areas": None,
                    "sources": "synthetic",
                }
            )
        members[topic] = ids
    # one organisation nobody has heard of: a cold-start curated drone maker
    orgs.append(
        {
            "id": "kr-cold-drones",
            "name": "Cold Drones",
            "short_name": None,
            "country": "KR",
            "region": "KR",
            "activity_type": "PRC",
            "sme": True,
            "control_country": "KR",
            "size_class": "sme",
            "city": None,
            "description": "Unmanned drone swarm autonomy for inspection.",
            "technology_areas": "unmanned",
            "sources": "curated",
        }
    )
    n = 0
    for year in years:
        for topic, ids in members.items():
            for _ in range(3):
                n += 1
                pid = f"p{n:04d}"
                chosen = rng.choice(ids, size=5, replace=False)
                projects.append(
                    {
                        "id": pid,
                        "programme": "edf" if n % 4 == 0 else "horizon-europe",
                        "programme_part": None,
                        "type_of_action": None,
                        "edf_action": None,
                        "call": None,
                        "topic": None,
                        "topic_title": None,
                        "acronym": None,
                        "title": f"{topic} project {n}",
                        "objective": f"Advancing {TOPICS[topic]}.",
                        "keywords": None,
                        "start_date": f"{year}-01-01",
                        "end_date": None,
                        "signature_date": f"{year}-01-01",
                        "year": year,
                        "euroscivoc": None,
                        "policy_priorities": None,
                    }
                )
                for j, oid in enumerate(sorted(chosen)):
                    links.append(
                        {
                            "org_id": oid,
                            "project_id": pid,
                            "role": "coordinator" if j == 0 else "participant",
                            "contribution": 1.0,
                            "country": next(o["country"] for o in orgs if o["id"] == oid),
                        }
                    )
    return Catalogue(
        conform(pd.DataFrame(orgs), ORGANISATIONS),
        conform(pd.DataFrame(projects), PROJECTS),
        conform(pd.DataFrame(links), PARTICIPATIONS),
    )

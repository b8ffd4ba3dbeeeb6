"""Catalogue summary counts."""

from __future__ import annotations

import pandas as pd

from recommender.catalogue.build import Catalogue
from recommender.catalogue.schema import PROGRAMMES


def catalogue_stats(catalogue: Catalogue) -> dict:
    """Counts of organisations by region, activity type and source, plus project and link totals."""
    orgs = catalogue.organisations
    sources = orgs["sources"].fillna("").str.split(";").explode()
    curated = orgs[orgs["sources"].fillna("").str.contains("curated")]
    projects = catalogue.projects
    return {
        "organisations": int(len(orgs)),
        "named_organisations": int(orgs["name"].notna().sum()),
        "by_region": _counts(orgs["region"]),
        "by_activity_type": _counts(orgs["activity_type"].fillna("unknown")),
        "by_source": _counts(sources[sources != ""]),
        "curated_by_region": _counts(curated["region"]),
        "curated_eu27_and_norway": int(((curated["region"] == "EU27") | (curated["country"] == "NO")).sum()),
        "korean_organisations": int((orgs["country"] == "KR").sum()),
        "projects": int(len(projects)),
        "projects_by_programme": {p: int((projects["programme"] == p).sum()) for p in PROGRAMMES},
        "participations": int(len(catalogue.participations)),
    }


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.astype("string").fillna("unknown").value_counts()
    return {str(k): int(v) for k, v in counts.sort_index().items()}

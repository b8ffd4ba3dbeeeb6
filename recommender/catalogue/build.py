"""Build the normalised catalogue from the public source files (CORDIS, EU Funding & Tenders portal).

The PIC is the organisation id in every source, so an organisation seen in several sources is one row.
Source-specific quirks handled here: Greece as EL and the UK as UK (normalised to ISO GR/GB), H2020
link-table projects identified by CORDIS record number (rcn) rather than grant id, repeated participation
rows, EDF keywords stored as arrays, amounts stored as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from recommender.catalogue.countries import normalise_country, region_of
from recommender.catalogue.curated import CuratedOrganisation
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS
from recommender.errors import SourceDataError

SOURCE_FILES: dict[str, str] = {
    "he_projects": "cordis_he_projects.parquet",
    "he_participations": "cordis_he_participations.parquet",
    "h2020_links": "cordis_h2020_links.csv.gz",
    "h2020_parts": "cordis_h2020_programme_parts.csv.gz",
    "security_projects": "security_research_projects.parquet",
    "security_participations": "security_research_participations.parquet",
    "edf_projects": "edf_projects.parquet",
    "edf_participations": "edf_participations.parquet",
}

# Precedence when sources disagree on an organisation's name or type: richest and most recent first.
SOURCE_ORDER: tuple[str, ...] = ("horizon-europe", "edf", "security", "h2020")
ROLE_ORDER: dict[str, int] = {
    "coordinator": 0,
    "participant": 1,
    "partner": 2,
    "associatedPartner": 3,
    "thirdParty": 4,
}
EDF_CLASSIFICATION: dict[str, tuple[str, bool | None]] = {
    "Private for profit organisation": ("PRC", False),
    "Small or medium-size enterprise": ("PRC", True),
    "Research Organisation": ("REC", None),
    "Higher or secondary education establishment": ("HES", None),
    "Public organisation": ("PUB", None),
    "Non-governmental organization": ("OTH", None),
    "Other": ("OTH", None),
}


@dataclass(frozen=True)
class Catalogue:
    """The three normalised tables. Frames follow the Arrow schemas in :mod:`recommender.catalogue.schema`."""

    organisations: pd.DataFrame
    projects: pd.DataFrame
    participations: pd.DataFrame


def _read(source_dir: Path, key: str, columns: Iterable[str]) -> pd.DataFrame:
    path = source_dir / SOURCE_FILES[key]
    if not path.exists():
        raise SourceDataError(f"missing source file {path}")
    frame = pd.read_csv(path, dtype=str) if path.name.endswith(".csv.gz") else pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceDataError(f"{path.name}: missing columns {missing}")
    return frame


def _text(series: pd.Series) -> pd.Series:
    """Strip strings and turn empty strings into missing values."""
    out = series.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def _money(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _year(*dates: pd.Series) -> pd.Series:
    """First non-missing year among the given date columns (YYYY-...)."""
    year = pd.Series(pd.NA, index=dates[0].index, dtype="Int16")
    for d in dates:
        y = pd.to_numeric(d.astype("string").str[:4], errors="coerce").astype("Int16")
        year = year.fillna(y)
    return year


def _edf_action(call: pd.Series, type_of_action: pd.Series) -> pd.Series:
    """EDF research or development action, from the type of action or else the call identifier."""
    toa = type_of_action.astype("string").str.lower()
    call = call.astype("string").str.upper()
    dev = toa.str.contains("development") | call.str.contains(r"-D-|-DA\b|-DA-|-FPA", regex=True)
    res = toa.str.contains("research") | call.str.contains(r"-R-|-RA\b|-RA-|RDIS", regex=True)
    out = pd.Series(pd.NA, index=call.index, dtype="string")
    out = out.mask(res.fillna(False), "research")
    return out.mask(dev.fillna(False) & ~res.fillna(False), "development")


def _edf_keywords(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        text = "; ".join(str(v) for v in value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text or None


HE_PROJECT_COLUMNS = ["projectID", "title", "objective", "ecSignatureDate"]
EDF_PROJECT_COLUMNS = ["project_id", "title", "objective", "ec_signature_date"]
HE_PARTICIPATION_COLUMNS = ["projectID", "organisationID", "role", "country"]
EDF_PARTICIPATION_COLUMNS = ["project_id", "pic", "role", "country"]


def horizon_project_rows(he: pd.DataFrame, programme: str = "horizon-europe") -> pd.DataFrame:
    """Catalogue project rows from CORDIS project records (Horizon Europe column names)."""
    return pd.DataFrame(
        {
            "id": _text(he["projectID"]),
            "programme": programme,
            "programme_part": _text(he["legalBasis"]),
            "type_of_action": _text(he["fundingScheme"]),
            "edf_action": pd.NA,
            "call": _text(he["masterCall"]),
            "topic": _text(he["topic"]),
            "topic_title": _text(he["topicTitle"]),
            "acronym": _text(he["acronym"]),
            "title": _text(he["title"]),
            "objective": _text(he["objective"]),
            "keywords": _text(he["keywords"]),
            "start_date": _text(he["startDate"]),
            "end_date": _text(he["endDate"]),
            "signature_date": _text(he["ecSignatureDate"]),
            "year": _year(he["ecSignatureDate"], he["startDate"]),
            "euroscivoc": _text(he["euroSciVoc"]),
            "policy_priorities": _text(he["policyPriorities"]),
        }
    )


def edf_project_rows(edf: pd.DataFrame) -> pd.DataFrame:
    """Catalogue project rows from European Defence Fund project records."""
    return pd.DataFrame(
        {
            "id": _text(edf["project_id"]),
            "programme": "edf",
            "programme_part": "EDF",
            "type_of_action": _text(edf["type_of_action"]),
            "edf_action": _edf_action(edf["call_identifier"], edf["type_of_action"]),
            "call": _text(edf["call_identifier"]),
            "topic": _text(edf["topic"]),
            "topic_title": pd.NA,
            "acronym": _text(edf["acronym"]),
            "title": _text(edf["title"]),
            "objective": _text(edf["objective"]),
            "keywords": _text(edf["keywords"].map(_edf_keywords)),
            "start_date": _text(edf["start_date"]),
            "end_date": _text(edf["end_date"]),
            "signature_date": _text(edf["ec_signature_date"]),
            "year": _year(edf["ec_signature_date"], edf["start_date"]),
            "euroscivoc": pd.NA,
            "policy_priorities": pd.NA,
        }
    )


def horizon_sightings(he: pd.DataFrame, source: str = "horizon-europe") -> pd.DataFrame:
    """Participation sightings (one row per organisation and project, with what the row says about the
    organisation) from CORDIS organisation records (Horizon Europe column names)."""
    return pd.DataFrame(
        {
            "org_id": _text(he["organisationID"]),
            "project_id": _text(he["projectID"]),
            "role": _text(he["role"]),
            "contribution": _money(he["ecContribution"]),
            "country": he["country"].map(normalise_country),
            "source": source,
            "name": _text(he["name"]),
            "short_name": _text(he["shortName"]),
            "activity_type": _text(he["activityType"]),
            "sme": he["sme"].astype("boolean"),
            "city": _text(he["city"]),
        }
    )


def edf_sightings(edf: pd.DataFrame) -> pd.DataFrame:
    """Participation sightings from European Defence Fund participant records."""
    edf_kind = edf["classification_type"].map(lambda v: EDF_CLASSIFICATION.get(v, (None, None)))
    return pd.DataFrame(
        {
            "org_id": _text(edf["pic"]),
            "project_id": _text(edf["project_id"]),
            "role": _text(edf["role"]),
            "contribution": np.nan,
            "country": edf["country"].map(normalise_country),
            "source": "edf",
            "name": _text(edf["name"]),
            "short_name": pd.NA,
            "activity_type": edf_kind.str[0],
            "sme": edf_kind.str[1].astype("boolean"),
            "city": _text(edf["city"]),
        }
    )


def build_projects(source_dir: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Projects of every source, plus the map from H2020 record numbers (rcn) to project ids."""
    he_rows = horizon_project_rows(_read(source_dir, "he_projects", HE_PROJECT_COLUMNS))

    sec = _read(source_dir, "security_projects", ["id", "rcn", "title", "objective", "startDate"])
    sec_rows = pd.DataFrame(
        {
            "id": _text(sec["id"]),
            "programme": "security",
            "programme_part": _text(sec["fp"]),
            "type_of_action": _text(sec["fundingScheme"]),
            "edf_action": pd.NA,
            "call": _text(sec["call"]),
            "topic": _text(sec["topics"]),
            "topic_title": pd.NA,
            "acronym": _text(sec["acronym"]),
            "title": _text(sec["title"]),
            "objective": _text(sec["objective"]),
            "keywords": _text(sec["subjects"]),
            "start_date": _text(sec["startDate"]),
            "end_date": _text(sec["endDate"]),
            "signature_date": pd.NA,
            "year": _year(sec["startDate"]),
            "euroscivoc": pd.NA,
            "policy_priorities": pd.NA,
        }
    )
    rcn_map = dict(zip(_text(sec["rcn"]).astype(str), sec_rows["id"].astype(str), strict=True))

    edf_rows = edf_project_rows(_read(source_dir, "edf_projects", EDF_PROJECT_COLUMNS))

    links = _read(source_dir, "h2020_links", ["rcn", "pic", "start_date", "end_date"])
    parts = _read(source_dir, "h2020_parts", ["rcn", "programme_part"])
    link_projects = (
        links.assign(rcn=_text(links["rcn"]))
        .groupby("rcn", sort=True)
        .agg(start_date=("start_date", "first"), end_date=("end_date", "first"))
        .reset_index()
    )
    link_projects = link_projects[~link_projects["rcn"].isin(rcn_map.keys())]
    part_of = parts.assign(rcn=_text(parts["rcn"])).drop_duplicates("rcn").set_index("rcn")["programme_part"]
    h2020_rows = pd.DataFrame(
        {
            "id": "h2020-rcn-" + link_projects["rcn"],
            "programme": "h2020",
            "programme_part": _text(link_projects["rcn"].map(part_of)),
            "type_of_action": pd.NA,
            "edf_action": pd.NA,
            "call": pd.NA,
            "topic": pd.NA,
            "topic_title": pd.NA,
            "acronym": pd.NA,
            "title": pd.NA,
            "objective": pd.NA,
            "keywords": pd.NA,
            "start_date": _text(link_projects["start_date"]),
            "end_date": _text(link_projects["end_date"]),
            "signature_date": pd.NA,
            "year": _year(link_projects["start_date"]),
            "euroscivoc": pd.NA,
            "policy_priorities": pd.NA,
        }
    )
    rcn_map.update(dict(zip(link_projects["rcn"], h2020_rows["id"], strict=True)))

    # The EDF export repeats some projects row for row: one row per id within a source.
    frames = [f.drop_duplicates("id") for f in (he_rows, edf_rows, sec_rows, h2020_rows)]
    projects = pd.concat(frames, ignore_index=True)
    clash = projects["id"][projects["id"].duplicated()]
    if len(clash):
        raise SourceDataError(f"project ids shared by two sources: {sorted(set(clash))[:5]}")
    return projects, rcn_map


def _participations_and_sightings(source_dir: Path, rcn_map: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participation rows of every source, and per-source sightings of each organisation."""
    he = _read(source_dir, "he_participations", HE_PARTICIPATION_COLUMNS)
    sec = _read(source_dir, "security_participations", ["projectID", "id", "role", "country"])
    edf = _read(source_dir, "edf_participations", EDF_PARTICIPATION_COLUMNS)
    links = _read(source_dir, "h2020_links", ["rcn", "pic", "role", "country", "type"])

    frames = [
        horizon_sightings(he),
        edf_sightings(edf),
        pd.DataFrame(
            {
                "org_id": _text(sec["id"]),
                "project_id": _text(sec["projectID"]),
                "role": _text(sec["role"]),
                "contribution": _money(sec["ecContribution"]),
                "country": sec["country"].map(normalise_country),
                "source": "security",
                "name": _text(sec["name"]),
                "short_name": _text(sec["shortName"]),
                "activity_type": _text(sec["activityType"]),
                "sme": pd.Series(pd.NA, index=sec.index, dtype="boolean"),
                "city": _text(sec["city"]),
            }
        ),
        pd.DataFrame(
            {
                "org_id": _text(links["pic"]),
                "project_id": _text(links["rcn"]).map(rcn_map),
                "role": _text(links["role"]),
                "contribution": _money(links["contribution"]),
                "country": links["country"].map(normalise_country),
                "source": "h2020",
                "name": pd.NA,
                "short_name": pd.NA,
                "activity_type": _text(links["type"]),
                "sme": pd.Series(pd.NA, index=links.index, dtype="boolean"),
                "city": pd.NA,
            }
        ),
    ]
    return participations_from_sightings(pd.concat(frames, ignore_index=True))


def participations_from_sightings(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(participations, sightings): one participation per organisation and project -- the strongest role
    from the richest source when several rows say so (repeated rows; H2020 security projects present both in
    the link table and the security files) -- and the sightings ranked for choosing organisation attributes."""
    rows = rows.reset_index(drop=True)
    bad = rows["org_id"].isna() | rows["project_id"].isna()
    if bad.any():
        raise SourceDataError(f"{int(bad.sum())} participation rows without organisation or project id")
    rows["role_rank"] = rows["role"].map(ROLE_ORDER).fillna(9)
    rows["source_rank"] = rows["source"].map({s: i for i, s in enumerate(SOURCE_ORDER)})
    ordered = rows.sort_values(["org_id", "project_id", "role_rank", "source_rank"], kind="stable")
    participations = ordered.drop_duplicates(["org_id", "project_id"])[
        ["org_id", "project_id", "role", "contribution", "country"]
    ].reset_index(drop=True)
    return participations, rows


def organisations_from_sightings(sightings: pd.DataFrame, projects: pd.DataFrame) -> pd.DataFrame:
    """One row per PIC: attributes from the richest, most recent sighting that has them."""
    year = sightings["project_id"].map(projects.set_index("id")["year"]).fillna(0).astype(int)
    ordered = sightings.assign(year=year).sort_values(
        ["org_id", "source_rank", "year"], ascending=[True, True, False], kind="stable"
    )
    grouped = ordered.groupby("org_id", sort=True)
    orgs = grouped[["name", "short_name", "country", "activity_type", "sme", "city"]].first()
    orgs["sources"] = grouped["source"].agg(lambda s: ";".join(x for x in SOURCE_ORDER if x in set(s)))
    orgs = orgs.reset_index().rename(columns={"org_id": "id"})
    orgs["region"] = orgs["country"].map(region_of)
    orgs["control_country"] = pd.NA
    orgs["size_class"] = pd.NA
    orgs["description"] = pd.NA
    orgs["technology_areas"] = pd.NA
    return orgs


def merge_curated(orgs: pd.DataFrame, curated: list[CuratedOrganisation]) -> pd.DataFrame:
    """Overlay curated entries: enrich the PIC's row where the PIC is known, else add a new row."""
    orgs = orgs.set_index("id")
    new_rows = []
    for c in curated:
        fields = {
            "short_name": c.short_name,
            "control_country": c.control_country,
            "size_class": c.size_class,
            "description": c.description,
            "technology_areas": ";".join(c.technology_areas),
        }
        if c.pic is not None and c.pic in orgs.index:
            for key, value in fields.items():
                orgs.at[c.pic, key] = value
            if pd.isna(cast(Any, orgs.at[c.pic, "name"])):
                orgs.at[c.pic, "name"] = c.name
            orgs.at[c.pic, "sources"] = str(orgs.at[c.pic, "sources"]) + ";curated"
        else:
            new_rows.append(
                {
                    "id": c.pic or c.id,
                    "name": c.name,
                    "country": c.country,
                    "region": region_of(c.country),
                    "activity_type": c.activity_type,
                    "sme": c.size_class == "sme",
                    "city": None,
                    "sources": "curated",
                    **fields,
                }
            )
    out = orgs.reset_index()
    if new_rows:
        out = pd.concat([out, pd.DataFrame(new_rows)], ignore_index=True)
    return out


def conform(frame: pd.DataFrame, schema) -> pd.DataFrame:
    """Order and type the columns as the Arrow schema says (missing values as None/NA)."""
    out = pd.DataFrame(index=frame.index)
    for field in schema:
        col = frame[field.name]
        if field.type == "string":
            out[field.name] = col.astype("string")
        elif field.type == "bool":
            out[field.name] = col.astype("boolean")
        elif field.type == "float64":
            out[field.name] = col.astype("float64")
        else:
            out[field.name] = col.astype("Int16")
    return out.reset_index(drop=True)


def build_catalogue(source_dir: Path, curated: list[CuratedOrganisation]) -> Catalogue:
    """Read every source file in ``source_dir`` and return the normalised, de-duplicated catalogue."""
    projects, rcn_map = build_projects(source_dir)
    participations, sightings = _participations_and_sightings(source_dir, rcn_map)
    orgs = organisations_from_sightings(sightings, projects)
    orgs = merge_curated(orgs, curated)
    orgs = orgs.sort_values("id", kind="stable")
    projects = projects.sort_values("id", kind="stable")
    participations = participations.sort_values(["project_id", "org_id"], kind="stable")
    return Catalogue(
        organisations=conform(orgs, ORGANISATIONS),
        projects=conform(projects, PROJECTS),
        participations=conform(participations, PARTICIPATIONS),
    )


def catalogue_until(catalogue: Catalogue, year: int) -> Catalogue:
    """The catalogue as it stood with the projects signed up to ``year``: their participations, and the
    organisations that took part in them or are curated (curated entries are listed whatever their record)."""
    projects = catalogue.projects[catalogue.projects["year"].isna() | (catalogue.projects["year"] <= year)]
    participations = catalogue.participations[catalogue.participations["project_id"].isin(set(projects["id"]))]
    seen_ever = set(catalogue.participations["org_id"])
    orgs = catalogue.organisations
    curated = orgs["sources"].fillna("").str.contains("curated", regex=False)
    keep = orgs["id"].isin(set(participations["org_id"])) | ~orgs["id"].isin(seen_ever) | curated
    return Catalogue(orgs[keep].reset_index(drop=True), projects.reset_index(drop=True),
                     participations.reset_index(drop=True))

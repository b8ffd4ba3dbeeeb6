"""Column schema of the three catalogue tables, shared by the builder, the loader and `data add`."""

from __future__ import annotations

import pyarrow as pa

ACTIVITY_TYPES: tuple[str, ...] = ("PRC", "REC", "HES", "PUB", "OTH")
SIZE_CLASSES: tuple[str, ...] = ("large", "mid-cap", "sme")
PROGRAMMES: tuple[str, ...] = ("horizon-europe", "h2020", "security", "edf")
PROGRAMME_LABELS: dict[str, str] = {
    "horizon-europe": "Horizon Europe",
    "h2020": "Horizon 2020",
    "security": "FP7/H2020 security research",
    "edf": "European Defence Fund",
}

ORGANISATIONS = pa.schema(
    [
        ("id", pa.string()),
        ("name", pa.string()),  # null for H2020 link-table organisations named nowhere
        ("short_name", pa.string()),
        ("country", pa.string()),  # ISO 3166-1 alpha-2 (GR, GB; never EL, UK)
        ("region", pa.string()),  # EU27, EEA-EFTA, UA, KR, OTHER
        ("activity_type", pa.string()),  # PRC, REC, HES, PUB, OTH
        ("sme", pa.bool_()),
        ("control_country", pa.string()),  # where known
        ("size_class", pa.string()),  # large, mid-cap, sme (curated and user rows)
        ("city", pa.string()),
        ("description", pa.string()),  # capability description: what it does, never whom it works with
        ("technology_areas", pa.string()),  # ';'-separated priority ids (curated and user rows)
        ("sources", pa.string()),  # ';'-separated: horizon-europe, h2020, security, edf, curated, user
    ]
)

PROJECTS = pa.schema(
    [
        ("id", pa.string()),
        ("programme", pa.string()),  # one of PROGRAMMES
        ("programme_part", pa.string()),  # legal basis / H2020 part / FP7-SECURITY, H2020-SC7
        ("type_of_action", pa.string()),
        ("edf_action", pa.string()),  # research / development for EDF projects, else null
        ("call", pa.string()),
        ("topic", pa.string()),
        ("topic_title", pa.string()),
        ("acronym", pa.string()),
        ("title", pa.string()),
        ("objective", pa.string()),
        ("keywords", pa.string()),
        ("start_date", pa.string()),  # ISO dates as text: sources are partial and mixed
        ("end_date", pa.string()),
        ("signature_date", pa.string()),
        ("year", pa.int16()),  # signature year, else start year: the time axis of every split
        ("euroscivoc", pa.string()),  # ';'-separated EuroSciVoc paths
        ("policy_priorities", pa.string()),  # ';'-separated code:weight
    ]
)

PARTICIPATIONS = pa.schema(
    [
        ("org_id", pa.string()),
        ("project_id", pa.string()),
        ("role", pa.string()),  # coordinator, participant, partner, associatedPartner, thirdParty
        ("contribution", pa.float64()),  # EU contribution in EUR, where known
        ("country", pa.string()),  # country of the participation as recorded (normalised)
    ]
)

TABLES: dict[str, pa.Schema] = {
    "organisations": ORGANISATIONS,
    "projects": PROJECTS,
    "participations": PARTICIPATIONS,
}

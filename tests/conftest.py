from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CATALOGUE = REPO / "data" / "catalogue"


def write_tiny_sources(root: Path) -> Path:
    """A miniature copy of the eight public source files with known quirks:

    - PIC 111111111 (Thales-like) appears in Horizon Europe, EDF and security research: one organisation;
    - PIC 222222222 is Greek and written EL; PIC 333333333 is British and written UK;
    - PIC 444444444 appears only in the H2020 link table (no name anywhere);
    - security project 700001 (rcn 9001) is also in the link table: its participations merge;
    - the EDF export repeats project 101100001 and one participation row.
    """
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "projectID": ["101000001", "101000002"],
            "rcn": ["1", "2"],
            "acronym": ["SWARM", "CHIPS"],
            "title": ["Drone swarm autonomy", "Radiation-hard microelectronics"],
            "teaser": ["", ""],
            "objective": ["Autonomous drone swarms for search and rescue.", "Rad-hard chips for space."],
            "keywords": ["drones", "semiconductors"],
            "startDate": ["2022-09-01", "2023-01-01"],
            "endDate": ["2025-08-31", "2026-01-01"],
            "ecSignatureDate": ["2022-05-12", "2023-02-01"],
            "status": ["SIGNED", "SIGNED"],
            "totalCost": [1.0, 2.0],
            "ecMaxContribution": [1.0, 2.0],
            "masterCall": ["HORIZON-CL3-2021", "HORIZON-CL4-2023"],
            "subCall": ["HORIZON-CL3-2021", "HORIZON-CL4-2023"],
            "topic": ["HORIZON-CL3-2021-01", "HORIZON-CL4-2023-02"],
            "topicTitle": ["Unmanned systems for civil security", "Chips"],
            "legalBasis": ["HORIZON.2.3", "HORIZON.2.4"],
            "legalBasisTitle": ["Civil Security", "Digital"],
            "fundingScheme": ["HORIZON-RIA", "HORIZON-IA"],
            "euroSciVoc": ["/engineering and technology/drones", "/engineering and technology/semiconductors"],
            "policyPriorities": ["ai:100", "digitalAgenda:100"],
        }
    ).to_parquet(root / "cordis_he_projects.parquet")
    pd.DataFrame(
        {
            "projectID": ["101000001", "101000001", "101000002", "101000002"],
            "organisationID": ["111111111", "222222222", "111111111", "555555555"],
            "role": ["coordinator", "participant", "participant", "associatedPartner"],
            "order": [1, 2, 1, 2],
            "sme": [False, True, False, None],
            "terminated": [False] * 4,
            "ecContribution": [100.0, 50.0, 80.0, 0.0],
            "netEcContribution": [100.0, 50.0, 80.0, 0.0],
            "totalCost": [100.0, 50.0, 80.0, 0.0],
            "name": ["THALES SA", "ATHENA RESEARCH CENTER", "THALES", "KOREA INSTITUTE OF CHIPS"],
            "shortName": ["THALES", "ATHENA", "", "KIC"],
            "activityType": ["PRC", "REC", "PRC", "REC"],
            "city": ["Paris", "Athens", "Paris", "Daejeon"],
            "country": ["FR", "EL", "FR", "KR"],
            "nutsCode": [""] * 4,
            "organizationURL": [""] * 4,
            "geolocation": [""] * 4,
        }
    ).to_parquet(root / "cordis_he_participations.parquet")
    pd.DataFrame(
        {
            "rcn": [9001, 9001, 9002, 9002],
            "role": ["coordinator", "participant", "coordinator", "participant"],
            "pic": [333333333, 444444444, 444444444, 222222222],
            "type": ["PRC", "HES", "HES", "REC"],
            "contribution": [10.0, 20.0, 30.0, 40.0],
            "country": ["UK", "DE", "DE", "EL"],
            "start_date": ["2016-01-01", "2016-01-01", "2017-03-01", "2017-03-01"],
            "end_date": ["2018-01-01", "2018-01-01", "2019-03-01", "2019-03-01"],
            "max_contribution": [1.0] * 4,
            "total_cost": [1.0] * 4,
            "start_year": [2016.0, 2016.0, 2017.0, 2017.0],
            "end_year": [2018.0, 2018.0, 2019.0, 2019.0],
            "duration": [24.0] * 4,
            "group": ["eu15"] * 4,
            "nunique": [2] * 4,
        }
    ).to_csv(root / "cordis_h2020_links.csv.gz", index=False)
    pd.DataFrame({"rcn": [9001, 9002], "programme_part": ["SC7", "LEIT"]}).to_csv(
        root / "cordis_h2020_programme_parts.csv.gz", index=False
    )
    sec_cols = [
        "status",
        "programme",
        "topics",
        "frameworkProgramme",
        "projectUrl",
        "totalCost",
        "ecMaxContribution",
        "call",
        "fundingScheme",
        "coordinator",
        "coordinatorCountry",
        "participants",
        "participantCountries",
        "subjects",
    ]
    pd.DataFrame(
        {
            "rcn": ["9001"],
            "id": ["700001"],
            "acronym": ["GUARD"],
            "title": ["Border surveillance radar"],
            "startDate": ["2016-01-01"],
            "endDate": ["2018-01-01"],
            "objective": ["Radar for borders."],
            "fp": ["H2020-SC7"],
            **{c: [""] for c in sec_cols},
        }
    ).to_parquet(root / "security_research_projects.parquet")
    pd.DataFrame(
        {
            "projectRcn": ["9001", "9001"],
            "projectID": ["700001", "700001"],
            "projectAcronym": ["GUARD"] * 2,
            "role": ["coordinator", "participant"],
            "id": ["333333333", "111111111"],
            "name": ["BRITISH SENSORS LTD", "THALES"],
            "shortName": ["BSL", "THALES"],
            "activityType": ["PRC", "PRC"],
            "endOfParticipation": ["false"] * 2,
            "ecContribution": ["10", "15"],
            "country": ["UK", "FR"],
            "city": ["London", "Paris"],
            "organizationUrl": [""] * 2,
            "fp": ["H2020-SC7"] * 2,
        }
    ).to_parquet(root / "security_research_participations.parquet")
    edf_project = {
        "project_id": "101100001",
        "acronym": "NAVY",
        "title": "Naval drones",
        "status": "Ongoing",
        "call_identifier": "EDF-2022-DA",
        "topic": "EDF-2022-DA-NAVAL-MSAS",
        "type_of_action": "EDF Development Actions",
        "start_date": "2023-01-01",
        "end_date": "2026-01-01",
        "ec_signature_date": "2022-12-01",
        "eu_contribution": 1.0,
        "overall_budget": 1.0,
        "eu_contribution_rate": 100.0,
        "objective": "Unmanned surface vessels.",
        "keywords": np.array(["USV; naval"], dtype=object),
    }
    pd.DataFrame([edf_project, edf_project]).to_parquet(root / "edf_projects.parquet")
    pd.DataFrame(
        {
            "project_id": ["101100001"] * 3,
            "pic": ["111111111", "111111111", "222222222"],
            "name": ["THALES SA", "THALES SA", "ATHENA RC"],
            "role": ["coordinator", "coordinator", "participant"],
            "country": ["FR", "FR", "EL"],
            "city": ["Paris", "Paris", "Athens"],
            "classification_type": ["Private for profit organisation"] * 2 + ["Research Organisation"],
        }
    ).to_parquet(root / "edf_participations.parquet")
    return root


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def shipped_catalogue():
    from recommender.catalogue import load_catalogue

    if not (SHIPPED_CATALOGUE / "organisations.parquet").exists():
        pytest.fail("the shipped catalogue data/catalogue is missing: run `corridor data build`")
    return load_catalogue(SHIPPED_CATALOGUE)

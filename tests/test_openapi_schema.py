"""The served OpenAPI schema is built from the data files the server loads, so it names exactly the priorities
and instruments the server knows, and the request models accept what the schema calls valid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.app import create_app
from api.schemas import ConsortiumRequest, FeedbackIn
from recommender.profiles.taxonomy import load_taxonomy
from recommender.rules import load_rulebook
from recommender.settings import Settings
from tests.api_support import write_data_dir


@pytest.fixture(scope="module")
def spec_and_settings(tmp_path_factory):
    settings = Settings(data_dir=write_data_dir(tmp_path_factory.mktemp("data")), database_url="sqlite://",
                        model_poll_seconds=0)
    return create_app(settings).openapi(), settings


def test_priority_and_instrument_enums_come_from_the_data_files(spec_and_settings):
    spec, settings = spec_and_settings
    priorities = load_taxonomy(settings.taxonomy_file).ids
    instruments = load_rulebook(settings.rules_file).instrument_ids
    schemas = spec["components"]["schemas"]
    assert schemas["MatchRequest"]["properties"]["priority"]["anyOf"][0]["enum"] == priorities
    assert schemas["ConsortiumIn"]["properties"]["instrument"]["enum"] == instruments
    assert schemas["OrganisationIn"]["properties"]["technology_areas"]["items"]["enum"] == priorities
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/v1/pairings"]["get"]["parameters"]}
    assert parameters["priority"]["enum"] == priorities
    assert parameters["instrument"]["anyOf"][0]["enum"] == instruments


def test_a_whole_json_number_is_an_integer_and_a_fraction_is_not():
    body = {"lead": "kr-a", "instrument": "edf-research"}
    whole = '{"lead": "kr-a", "instrument": "edf-research", "pool": 68.0}'
    assert ConsortiumRequest.model_validate_json(whole).pool == 68
    with pytest.raises(ValidationError):
        ConsortiumRequest.model_validate({**body, "pool": 68.5})
    with pytest.raises(ValidationError):
        ConsortiumRequest.model_validate({**body, "pool": "68"})


def test_feedback_states_its_one_query_field(spec_and_settings):
    spec, _ = spec_and_settings
    one_of = spec["components"]["schemas"]["FeedbackIn"]["oneOf"]
    assert [alternative["required"] for alternative in one_of] == [
        ["query_org_id"], ["query_text_sha256"], ["query_text"]
    ]
    with pytest.raises(ValidationError):
        FeedbackIn.model_validate({"query_org_id": "a", "query_text": "b", "candidate_org_id": "c",
                                   "verdict": "contacted"})

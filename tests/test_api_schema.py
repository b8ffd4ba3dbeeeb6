"""Schemathesis against the served OpenAPI schema: generated requests (valid and invalid) to every route
must never produce a 5xx, and every response must match the documented schema and status codes.

The schema is loaded at collection time from an app without state (the schema does not depend on it);
requests go to a fully served synthetic app through the ASGI transport.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from recommender.settings import Settings
from tests.api_support import synthetic_state, train_model

SPEC = create_app(Settings(database_url="sqlite://", model_poll_seconds=0)).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemathesis")
    state = synthetic_state(train_model(root / "ranker"))
    app = create_app(Settings(state_dir=root / "state", model_poll_seconds=0), state)
    _, secret = app.state.store.create_key("write", "schemathesis")
    yield app, {"X-API-Key": secret}
    app.state.store.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case, served):
    app, headers = served
    case.call_and_validate(app=app, headers=headers)

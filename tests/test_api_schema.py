"""Schemathesis against the served OpenAPI schema, all phases (examples, coverage, fuzzing, stateful) and all
checks: a request the schema calls valid is accepted, one it calls invalid is rejected, no 5xx, and every
response matches the documented schema, status codes and headers. Derandomized, so CI draws the same cases.

The schema (built from the settings' data files, not from the service state) is generated at collection time
from a small data directory with the synthetic world's taxonomy and the shipped rules, and served by a small
ASGI proxy; the module fixture then points the proxy at a fully served synthetic app on the same data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from recommender.settings import Settings
from tests.api_support import synthetic_corridor, train_model, write_data_dir

pytestmark = pytest.mark.slow


class Proxy:
    """An ASGI app forwarding to ``target`` (swapped by the fixture)."""

    def __init__(self, target) -> None:
        self.target = target

    async def __call__(self, scope, receive, send) -> None:
        await self.target(scope, receive, send)


DATA_DIR = write_data_dir(Path(tempfile.mkdtemp(prefix="corridor-schemathesis-")))
SPEC = create_app(Settings(data_dir=DATA_DIR, database_url="sqlite://", model_poll_seconds=0)).openapi()
PROXY = Proxy(Starlette(routes=[Route("/openapi.json", lambda request: JSONResponse(SPEC))]))
# What the schema cannot say: an organisation id must exist (404). 409 is an id already taken, 413 a body
# over the size limit (valid or not). Every other rule is in the schema: a request it calls valid is accepted.
ACCEPTED = ["2xx", "401", "403", "404", "409", "413"]
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": True}},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "413", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", PROXY, config=CONFIG)
HEADERS: dict[str, str] = {}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def write_key(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemathesis")
    settings = Settings(data_dir=DATA_DIR, state_dir=root / "state", model_poll_seconds=0)
    app = create_app(settings, synthetic_corridor(train_model(root / "ranker"), settings.database_url))
    _, secret = app.state.corridor.store.create_key("write", "schemathesis")
    PROXY.target = app
    HEADERS["X-API-Key"] = secret
    yield {"X-API-Key": secret}
    app.state.corridor.store.close()


@schema.parametrize()
@SETTINGS
def test_requests_get_the_documented_answer(case, write_key):
    case.call_and_validate(headers=write_key)


class Sequences(schema.as_state_machine()):  # type: ignore[misc]
    def get_call_kwargs(self, case):
        return {"headers": dict(HEADERS)}


def test_sequences_of_requests_get_the_documented_answers(write_key):
    Sequences.run(settings=settings(SETTINGS, max_examples=10, stateful_step_count=5))

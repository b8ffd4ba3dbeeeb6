"""The HTTP API through TestClient, on the synthetic world (fake keyword encoder, small trained model):
every route, its error paths, API keys and scopes, limits, CORS and the model lifecycle."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from recommender.service import REHEARSAL_RECORD, Corridor, settle_long_lived_objects
from recommender.settings import Settings
from recommender.store import Store
from tests.api_support import copy_model, synthetic_corridor, train_model

NEW_ORG = {
    "id": "kr-new-drones",
    "name": "New Drone Works",
    "country": "KR",
    "description": "Drone swarm autonomy and unmanned inspection systems.",
    "activity_type": "PRC",
    "sme": True,
    "technology_areas": ["unmanned"],
}


@dataclass
class Api:
    client: TestClient
    corridor: Corridor
    store: Store
    read: dict
    write: dict
    model_dir: Path | None

    def get(self, url, key="read", **kw):
        return self.client.get(url, headers=self._headers(key), **kw)

    def post(self, url, body=None, key="read", **kw):
        return self.client.post(url, json=body, headers=self._headers(key), **kw)

    def put(self, url, body=None, key="write", **kw):
        return self.client.put(url, json=body, headers=self._headers(key), **kw)

    def _headers(self, key):
        return {"read": self.read, "write": self.write, None: {}}.get(key, {"X-API-Key": key})


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    return train_model(tmp_path_factory.mktemp("api-model") / "ranker")


@pytest.fixture
def make_api(tmp_path, trained_model):
    opened = []

    def make(model: bool = True, **overrides) -> Api:
        model_dir = copy_model(trained_model, tmp_path / "ranker") if model else None
        settings = Settings(**{"state_dir": tmp_path / "state", "model_poll_seconds": 0, "warm_caches": False,
                               **overrides})
        corridor = synthetic_corridor(model_dir, settings.database_url)
        app = create_app(settings, corridor)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        store = corridor.store
        read = {"X-API-Key": store.create_key("read", "tests")[1]}
        write = {"X-API-Key": store.create_key("write", "tests")[1]}
        return Api(client, corridor, store, read, write, model_dir)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    return body["error"]


# ---- health, readiness, docs -----------------------------------------------------------------------------------
def test_health_and_ready_need_no_key(api):
    assert api.get("/health", key=None).json() == {"status": "ok"}
    ready = api.get("/ready", key=None).json()
    assert ready["status"] == "ready" and ready["model_version"] == "synthetic-1"
    assert ready["organisations"] == len(api.corridor.serving.index.ids) and ready["database"] == "sqlite"


def test_ready_is_503_without_a_model_but_the_rest_serves(make_api):
    api = make_api(model=False)
    assert api.get("/health", key=None).status_code == 200
    error(api.get("/ready", key=None), 503, "not_ready")
    for response in (
        api.get("/v1/organisations/drones-eu-0/partners"),
        api.post("/v1/match", {"text": "radar"}),
        api.get("/v1/pairings?priority=unmanned"),
        api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research"}),
        api.get("/v1/model"),
    ):
        error(response, 503, "model_unavailable")
    assert api.get("/v1/organisations/drones-eu-0").status_code == 200
    assert api.get("/v1/instruments").status_code == 200


def test_a_route_hands_its_work_to_the_thread_pool_once(api, monkeypatch):
    """FastAPI validates a plain ``def`` route's result in the thread pool a second time, where under load it
    queues behind later requests' ranking; the routes run their body and nothing else there (api/offload.py)."""
    import anyio.to_thread

    handed: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        handed.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    for path, params in (("/v1/organisations/drones-eu-0/partners", {"region": "KR", "k": 3}),
                         ("/v1/organisations/drones-eu-0", {}), ("/v1/instruments", {}), ("/ready", {})):
        handed.clear()
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        assert len(handed) == 1, (path, handed)


def test_docs_and_redoc_load_every_asset_from_the_server_itself(api):
    import re

    for page in ("/docs", "/redoc"):
        html = api.get(page, key=None)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        assets = re.findall(r'(?:src|href)=["\']([^"\']+)["\']|url: ["\']([^"\']+)["\']', html.text)
        urls = [a or b for a, b in assets]
        assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
        for url in urls:
            assert api.get(url, key=None).status_code == 200, url


def test_docs_and_schema_are_public_and_every_route_has_examples(api):
    assert api.get("/docs", key=None).status_code == 200
    spec = api.get("/openapi.json", key=None).json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    text_of = json.dumps

    def resolve(schema):
        ref = schema.get("$ref")
        return spec["components"]["schemas"][ref.split("/")[-1]] if ref else schema

    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            examples = [p for p in op.get("parameters", []) if "examples" in p or "example" in p]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ok = next(iter(op["responses"].values()))
            response = ok.get("content", {}).get("application/json", {}).get("schema", {})
            has = examples or "examples" in resolve(body) or "examples" in resolve(response)
            assert has, f"{method.upper()} {path} has no examples"
            assert text_of(op["responses"])  # documented responses
        assert path in ("/health", "/ready") or "401" in next(iter(methods.values()))["responses"]


# ---- API keys and scopes -------------------------------------------------------------------------------------
def test_missing_unknown_and_revoked_keys_are_401(api):
    err = error(api.get("/v1/instruments", key=None), 401, "unauthorized")
    assert "X-API-Key" in err["message"]
    error(api.get("/v1/instruments", key="cor_not-a-real-key"), 401, "unauthorized")
    key, secret = api.store.create_key("read")
    assert api.get("/v1/instruments", key=secret).status_code == 200
    api.store.revoke_key(key.id)
    error(api.get("/v1/instruments", key=secret), 401, "unauthorized")


def test_a_read_key_cannot_write_and_a_write_key_can_read(api):
    err = error(api.post("/v1/organisations", NEW_ORG, key="read"), 403, "forbidden")
    assert err["details"] == {"key_scope": "read", "required_scope": "write"}
    error(api.put("/v1/organisations/x", NEW_ORG, key="read"), 403, "forbidden")
    error(api.post("/v1/feedback", {"query_org_id": "drones-eu-0", "candidate_org_id": "drones-eu-1",
                                    "verdict": "accepted"}), 403, "forbidden")
    error(api.post("/v1/admin/reload", key="read"), 403, "forbidden")
    assert api.get("/v1/instruments", key="write").status_code == 200


def test_keys_are_stored_hashed(api):
    key, secret = api.store.create_key("read", "someone")
    assert secret.startswith("cor_") and len(secret) > 40
    rows = api.store.keys()
    stored = next(r for r in rows if r.id == key.id)
    assert stored.name == "someone" and stored.prefix == secret[:10]
    with api.store.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.exec_driver_sql("select * from api_keys").fetchall()], default=str)
    assert secret not in dump and hashlib.sha256(secret.encode()).hexdigest() in dump


# ---- organisations ---------------------------------------------------------------------------------------------
def test_search_by_text_country_region_activity(api):
    page = api.get("/v1/organisations", params={"q": "DRONE", "limit": 100}).json()
    assert page["total"] > 0 and all("drone" in (o["name"] + (o["description"] or "")).lower() for o in page["items"])
    kr = api.get("/v1/organisations", params={"country": "KR", "limit": 100}).json()
    assert kr["total"] == 10 and all(o["country"] == "KR" for o in kr["items"])
    europe = api.get("/v1/organisations", params={"region": "EUROPE", "activity_type": "PRC"}).json()
    assert europe["items"] and all(o["region"] == "EU27" and o["activity_type"] == "PRC" for o in europe["items"])
    names = [o["name"] for o in api.get("/v1/organisations", params={"limit": 100}).json()["items"]]
    assert names == sorted(names, key=str.lower)


def test_search_by_priority_is_sorted_by_score(api):
    page = api.get("/v1/organisations", params={"priority": "unmanned", "limit": 100}).json()
    scores = [o["priority_score"] for o in page["items"]]
    assert scores and min(scores) >= 0.5 and scores == sorted(scores, reverse=True)
    assert all(o["id"].startswith(("drones", "kr-cold")) for o in page["items"])
    error(api.get("/v1/organisations", params={"priority": "nope"}), 422, "unknown_priority")


def test_a_misspelt_query_parameter_is_refused_not_ignored(api):
    response = api.get("/v1/organisations?prority=drones")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_parameter" and error["details"]["unknown"] == ["prority"]
    assert "priority" in error["details"]["known"] and "prority" in error["message"]
    assert api.get("/v1/organisations/drones-eu-0/partners?k=2&kind=company").status_code == 200
    assert api.get("/v1/instruments?verbose=1").status_code == 422


def test_search_pagination(api):
    first = api.get("/v1/organisations", params={"limit": 5, "offset": 0}).json()
    second = api.get("/v1/organisations", params={"limit": 5, "offset": 5}).json()
    assert first["total"] == second["total"] == 34 and len(first["items"]) == 5
    assert not {o["id"] for o in first["items"]} & {o["id"] for o in second["items"]}
    assert api.get("/v1/organisations", params={"offset": 1000}).json()["items"] == []
    error(api.get("/v1/organisations", params={"limit": 101}), 422, "validation_error")
    error(api.get("/v1/organisations", params={"limit": 0}), 422, "validation_error")
    error(api.get("/v1/organisations", params={"offset": -1}), 422, "validation_error")
    error(api.get("/v1/organisations", params={"region": "MARS"}), 422, "validation_error")


def test_get_profile_and_unknown_id(api):
    profile = api.get("/v1/organisations/kr-cold-drones").json()
    assert profile["organisation"]["name"] == "Cold Drones" and profile["has_profile"]
    assert profile["priorities"][0]["priority"] == "unmanned" and profile["priorities"][0]["declared"]
    drones = api.get("/v1/organisations/drones-eu-0").json()
    assert drones["characteristic_projects"] and drones["priorities"][0]["projects"]
    err = error(api.get("/v1/organisations/no-such-org"), 404, "unknown_organisation")
    assert err["details"] == {"id": "no-such-org"}


def test_add_organisation_is_stored_embedded_and_rankable_at_once(api):
    response = api.post("/v1/organisations", NEW_ORG, key="write")
    assert response.status_code == 201, response.text
    profile = response.json()
    assert profile["organisation"]["sources"] == "user" and profile["organisation"]["region"] == "KR"
    assert profile["priorities"][0]["priority"] == "unmanned" and profile["priorities"][0]["score"] >= 0.6
    assert [o["id"] for o in api.store.organisations()] == ["kr-new-drones"]
    partners = api.get("/v1/organisations/kr-new-drones/partners", params={"region": "EU", "k": 5}).json()
    assert sum(r["org_id"].startswith("drones-") for r in partners["results"]) >= 4
    found = api.get("/v1/organisations", params={"q": "new drone works"}).json()
    assert [o["id"] for o in found["items"]] == ["kr-new-drones"]
    as_candidate = api.get("/v1/organisations/drones-eu-0/partners", params={"region": "KR", "k": 20}).json()
    assert "kr-new-drones" in {r["org_id"] for r in as_candidate["results"]}


def test_add_organisation_errors(api):
    error(api.post("/v1/organisations", {**NEW_ORG, "country": "ZZ"}, key="write"), 422, "invalid_organisation")
    err = error(api.post("/v1/organisations", {**NEW_ORG, "technology_areas": ["warp"]}, key="write"), 422,
                "invalid_organisation")
    assert err["details"]["field"] == "technology_areas"
    blank = error(api.post("/v1/organisations", {**NEW_ORG, "description": "   "}, key="write"), 422,
                  "validation_error")
    assert blank["message"] == "description: must contain text, not only spaces"
    missing = {k: v for k, v in NEW_ORG.items() if k != "name"}
    err = error(api.post("/v1/organisations", missing, key="write"), 422, "validation_error")
    assert err["details"][0]["loc"] == ["body", "name"]
    error(api.post("/v1/organisations", {**NEW_ORG, "id": "bad id!"}, key="write"), 422, "validation_error")
    error(api.post("/v1/organisations", {**NEW_ORG, "colour": "red"}, key="write"), 422, "validation_error")
    error(api.client.post("/v1/organisations", content=b"{not json", headers={**api.write,
                                                                             "Content-Type": "application/json"}),
          422, "validation_error")
    error(api.post("/v1/organisations", {**NEW_ORG, "id": "drones-eu-0"}, key="write"), 409, "organisation_exists")
    assert api.post("/v1/organisations", NEW_ORG, key="write").status_code == 201
    error(api.post("/v1/organisations", NEW_ORG, key="write"), 409, "organisation_exists")
    assert len(api.store.organisations()) == 1


def test_put_creates_then_replaces(api):
    body = {k: v for k, v in NEW_ORG.items() if k != "id"}
    created = api.put("/v1/organisations/kr-put", body)
    assert created.status_code == 201, created.text
    before = api.get("/v1/organisations/kr-put").json()["priorities"][0]["priority"]
    updated = api.put("/v1/organisations/kr-put", {**body, "description": "Radar and sonar sensing.",
                                                   "technology_areas": []})
    assert updated.status_code == 200
    after = updated.json()
    assert before == "unmanned" and after["priorities"][0]["priority"] == "sensors_ew"
    assert len(api.corridor.serving.index.ids) == 35  # replaced in place, not appended twice
    assert api.store.organisations()[0]["description"] == "Radar and sonar sensing."
    # an admin key can overlay a catalogue organisation (as `corridor data add` does); its projects stay
    admin = api.store.create_key("admin", "tests")[1]
    over = api.put("/v1/organisations/drones-eu-0", {**body, "name": "Drones Org 0", "country": "FR"}, key=admin)
    assert over.status_code == 200 and over.json()["characteristic_projects"]
    error(api.put("/v1/organisations/kr-put", {**body, "id": "kr-put"}), 422, "validation_error")  # the path names it
    error(api.put("/v1/organisations/kr-put", {**body, "country": "XX"}), 422, "invalid_organisation")
    error(api.put("/v1/organisations/bad%20id", body), 422, "validation_error")


# ---- partners, match, pairings --------------------------------------------------------------------------------
def test_partners_with_explanations_and_eligibility(api):
    out = api.get("/v1/organisations/radar-kr-8/partners",
                  params={"k": 5, "region": "EU", "instrument": "edf-research", "priority": "sensors_ew",
                          "include_known": True}).json()
    results = out["results"]
    assert out["model_version"] == "synthetic-1" and len(results) == 5
    assert all(r["known_partner"] == bool(r["joint_projects"]) for r in results)
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    assert all(r["org_id"].startswith("radar-eu") for r in results)
    assert all(r["eligibility"]["verdict"] in ("ELIGIBLE", "CONDITIONAL") for r in results)
    assert results[0]["contributions"] and results[0]["relevant_projects"]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    flagged = api.get("/v1/organisations/drones-eu-0/partners",
                      params={"region": "KR", "instrument": "edf-research", "keep_ineligible": True}).json()
    assert flagged["results"] and all(r["eligibility"]["verdict"] != "ELIGIBLE" for r in flagged["results"])


def test_partners_errors(api):
    error(api.get("/v1/organisations/nope/partners"), 404, "unknown_organisation")
    err = error(api.get("/v1/organisations/drones-eu-0/partners", params={"instrument": "nope"}), 404,
                "unknown_instrument")
    assert "edf-research" in err["details"]["known"]
    error(api.get("/v1/organisations/drones-eu-0/partners", params={"priority": "nope"}), 422, "unknown_priority")
    error(api.get("/v1/organisations/drones-eu-0/partners", params={"region": "MARS"}), 422, "validation_error")
    error(api.get("/v1/organisations/drones-eu-0/partners", params={"k": 0}), 422, "validation_error")
    error(api.get("/v1/organisations/drones-eu-0/partners", params={"k": 101}), 422, "validation_error")


def test_match_free_text(api):
    out = api.post("/v1/match", {"text": "Semiconductor chip design  and microelectronics", "k": 5}).json()
    assert sum(r["org_id"].startswith("chips-") for r in out["results"]) >= 4
    normalised = " ".join("Semiconductor chip design  and microelectronics".split())
    assert out["query"]["text_sha256"] == hashlib.sha256(normalised.encode()).hexdigest()
    error(api.post("/v1/match", {"text": "   "}), 422, "validation_error")
    error(api.post("/v1/match", {"text": "radar", "k": 0}), 422, "validation_error")
    error(api.post("/v1/match", {"text": "radar", "instrument": "nope"}), 404, "unknown_instrument")
    error(api.post("/v1/match", {"text": "radar", "priority": "nope"}), 422, "unknown_priority")
    error(api.post("/v1/match", {"k": 3}), 422, "validation_error")


def test_a_warming_server_has_every_priority_map_and_eligibility_cached_before_it_is_asked(make_api):
    gc.unfreeze()  # an earlier warming in this process froze its objects; this one's freeze is awaited below
    api = make_api(warm_caches=True)
    serving = api.corridor.serving
    deadline = time.monotonic() + 30
    while len(serving.pairings) < len(api.corridor.source.taxonomy().ids):
        assert time.monotonic() < deadline, "caches not warmed"
        time.sleep(0.05)
    assert api.get("/v1/pairings", params={"priority": "unmanned"}).json()["cached"]
    assert all(("eligibility", i) in serving.index.cache for i in api.corridor.source.rulebook().instrument_ids)
    assert set(serving.recommender.ranker.explainers_) == set(serving.recommender.ranker.head_models_)
    deadline = time.monotonic() + 30
    while gc.get_freeze_count() == 0:  # the warming's last steps: the rehearsed addition, then the freeze
        assert time.monotonic() < deadline, "warming did not finish"
        time.sleep(0.05)
    rehearsal = REHEARSAL_RECORD["id"]
    assert rehearsal not in api.corridor.serving.index.row_of and not api.corridor.store.has_organisation(rehearsal)
    error(api.get(f"/v1/organisations/{rehearsal}"), 404, "unknown_organisation")


def test_settling_takes_the_objects_alive_now_out_of_the_collectors_reach():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(1000)]
    settle_long_lived_objects()
    assert gc.get_freeze_count() >= len(kept)
    gc.unfreeze()


def test_pairings_are_korean_european_sorted_and_cached(api):
    first = api.get("/v1/pairings", params={"priority": "unmanned", "k": 10}).json()
    pairs = first["pairings"]
    assert 5 <= len(pairs) <= 10 and not first["cached"]
    assert all(p["korean"]["country"] == "KR" and p["european"]["country"] != "KR" for p in pairs)
    assert [p["rank"] for p in pairs] == list(range(1, len(pairs) + 1))
    # the map spreads partners: 4 Korean drone organisations, so each European one is proposed once
    europeans = [p["european"]["id"] for p in pairs]
    assert len(set(europeans)) == len(europeans)
    again = api.get("/v1/pairings", params={"priority": "unmanned", "k": 5}).json()
    assert again["cached"] and again["pairings"] == pairs[:5]
    assert all(p["score"] > 0 for p in pairs)
    with_instrument = api.get("/v1/pairings", params={"priority": "unmanned", "instrument": "edf-research"}).json()
    assert not with_instrument["cached"]
    assert all(p["eligibility"] in ("ELIGIBLE", "CONDITIONAL") for p in with_instrument["pairings"])
    api.post("/v1/organisations", NEW_ORG, key="write")  # a write swaps the snapshot: the cache starts empty
    assert not api.get("/v1/pairings", params={"priority": "unmanned"}).json()["cached"]
    error(api.get("/v1/pairings"), 422, "validation_error")
    error(api.get("/v1/pairings", params={"priority": "nope"}), 422, "unknown_priority")
    error(api.get("/v1/pairings", params={"priority": "unmanned", "instrument": "nope"}), 404, "unknown_instrument")
    error(api.get("/v1/pairings", params={"priority": "unmanned", "k": 101}), 422, "validation_error")


# ---- rules ---------------------------------------------------------------------------------------------------
def test_eligibility_with_members_given_by_id(api):
    body = {"instrument": "edf-research",
            "members": [{"id": "drones-eu-0", "role": "coordinator"}, {"id": "drones-eu-1"}, {"id": "drones-eu-2"}]}
    verdict = api.post("/v1/eligibility", body).json()
    assert verdict["verdict"] in ("ELIGIBLE", "CONDITIONAL")
    assert [m["country"] for m in verdict["members"]] == ["FR", "DE", "IT"]
    assert verdict["rules_version"] == "1.0.0" and all(r["citation"] for r in verdict["rules"])
    korean = api.post("/v1/eligibility", {"instrument": "edf-research",
                                          "members": [{"id": "kr-cold-drones"}, {"name": "B", "country": "DE"}]}).json()
    assert korean["verdict"] == "INELIGIBLE"
    failed = [r for r in korean["rules"] if r["status"] == "failed"]
    assert failed and all(r["fix_hint"] for r in failed)


def test_the_schema_ties_each_action_type_to_its_instrument(api):
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["ConsortiumIn"]
    branches = {b["properties"]["instrument"]["const"]: b["properties"]["action_type"] for b in schema["anyOf"]}
    assert branches["edip"]["anyOf"][0]["enum"] == ["common-procurement", "industrial-reinforcement"]
    assert branches["safe"] == {"type": "null"}  # an instrument without action types takes none
    members = [{"name": "A", "country": "FR"}]
    error(api.post("/v1/eligibility", {"instrument": "safe", "action_type": "standard", "members": members}),
          422, "invalid_consortium")


def test_eligibility_errors(api):
    err = error(api.post("/v1/eligibility", {"instrument": "nope", "members": [{"name": "A", "country": "FR"}]}),
                404, "unknown_instrument")
    assert "kiat" in err["details"]["known"]
    err = error(api.post("/v1/eligibility", {"instrument": "edip", "members": [{"name": "A", "country": "ZZ"}]}),
                422, "invalid_consortium")
    assert "members[0].country" in err["message"]
    error(api.post("/v1/eligibility", {"instrument": "edip", "members": [{"id": "nope"}]}), 404,
          "unknown_organisation")
    error(api.post("/v1/eligibility", {"instrument": "edip", "members": []}), 422, "validation_error")
    error(api.post("/v1/eligibility", {"instrument": "edip", "members": [{"name": "A", "country": "FR", "x": 1}]}),
          422, "validation_error")
    error(api.post("/v1/eligibility", {"instrument": "edip", "members": [{"name": "A", "country": "FR"}],
                                       "components": [{"origin_country": "FR", "cost": -1}]}), 422, "validation_error")


def test_consortium_proposal(api):
    out = api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research", "priority": "unmanned",
                                     "size": 4}).json()
    assert [m["role"] for m in out["members"]] == ["coordinator"] + ["participant"] * 3
    assert out["verdict"]["verdict"] in ("ELIGIBLE", "CONDITIONAL") and out["rules_failed"] == []
    assert "edf-min-countries" in out["rules_met"] and out["model_version"] == "synthetic-1"
    error(api.post("/v1/consortia", {"lead": "nope", "instrument": "edf-research"}), 404, "unknown_organisation")
    error(api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "nope"}), 404, "unknown_instrument")
    error(api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edip", "size": 1}), 422,
          "validation_error")
    error(api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edip", "priority": "nope"}), 422,
          "unknown_priority")


def test_priority_names_and_synonyms_are_resolved_to_the_id(api):
    partners = "/v1/organisations/drones-eu-0/partners"
    out = api.get(partners, params={"priority": "Drones", "k": 5}).json()
    assert out["query"]["priority"] == "unmanned"
    assert out["results"] == api.get(partners, params={"priority": "unmanned", "k": 5}).json()["results"]
    match = api.post("/v1/match", {"text": "radar", "priority": "EW", "k": 3}).json()
    assert match["query"]["priority"] == "sensors_ew" and match["results"]
    first = api.get("/v1/pairings", params={"priority": "UAV", "k": 5}).json()
    assert first["priority"] == "unmanned" and not first["cached"]
    assert api.get("/v1/pairings", params={"priority": "unmanned", "k": 5}).json()["cached"]  # one entry per id
    by_synonym = api.get("/v1/organisations", params={"priority": "CHIPS", "limit": 10}).json()
    assert by_synonym == api.get("/v1/organisations", params={"priority": "semiconductors", "limit": 10}).json()
    proposal = api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research", "priority": "drone",
                                          "size": 3}).json()
    assert proposal["priority"] == "unmanned"


def test_unknown_priority_is_422_naming_the_closest(api):
    for response in (
        api.get("/v1/organisations/drones-eu-0/partners", params={"priority": "dornes"}),
        api.get("/v1/organisations", params={"priority": "dornes"}),
        api.post("/v1/match", {"text": "radar", "priority": "dornes"}),
        api.get("/v1/pairings", params={"priority": "dornes"}),
        api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research", "priority": "dornes"}),
    ):
        err = error(response, 422, "unknown_priority")
        assert err["message"].startswith("unknown priority 'dornes'; did you mean unmanned (drones)?"), err
        assert err["details"]["priority"] == "dornes" and err["details"]["suggestions"][0] == "unmanned (drones)"
        assert err["details"]["known"] == ["unmanned", "semiconductors", "sensors_ew"]


def test_instruments_and_rules(api):
    listing = api.get("/v1/instruments").json()
    ids = [i["id"] for i in listing["instruments"]]
    assert {"edf-research", "edip", "safe", "horizon-europe", "kiat"} <= set(ids)
    assert listing["rules_version"] == "1.0.0" and listing["valid_as_of"] == "2026-01-01"
    edf = api.get("/v1/instruments/edf-research").json()
    assert edf["rules"] and all(r["citation"] and r["confidence"] in "TSM" for r in edf["rules"])
    assert {r["id"] for r in edf["rules"]} >= {"edf-min-entities", "edf-min-countries"}
    assert "FR" in edf["eligible_countries"] and edf["rule_count"] == len(edf["rules"])
    err = error(api.get("/v1/instruments/nope"), 404, "unknown_instrument")
    assert set(err["details"]["known"]) == set(ids)


# ---- feedback and the model -----------------------------------------------------------------------------------
def test_feedback_is_stored(api):
    out = api.post("/v1/feedback", {"query_org_id": "drones-eu-0", "candidate_org_id": "drones-eu-1",
                                    "verdict": "accepted", "comment": "good fit"}, key="write")
    assert out.status_code == 201 and out.json()["model_version"] == "synthetic-1"
    text = api.post("/v1/feedback", {"query_text": "radar  sonar", "candidate_org_id": "radar-eu-0",
                                     "verdict": "irrelevant"}, key="write").json()
    assert text["query_text_sha256"] == hashlib.sha256(b"radar sonar").hexdigest()
    stored = api.store.feedback()
    assert [f["verdict"] for f in stored] == ["accepted", "irrelevant"]
    assert stored[0]["comment"] == "good fit" and stored[0]["api_key_id"] is not None
    assert "radar sonar" not in json.dumps(stored, default=str)  # the text itself is never stored


def test_feedback_errors(api):
    base = {"candidate_org_id": "drones-eu-1", "verdict": "accepted"}
    error(api.post("/v1/feedback", base, key="write"), 422, "validation_error")
    error(api.post("/v1/feedback", {**base, "query_org_id": "a", "query_text": "b"}, key="write"), 422,
          "validation_error")
    error(api.post("/v1/feedback", {**base, "query_org_id": "drones-eu-0", "verdict": "maybe"}, key="write"), 422,
          "validation_error")
    error(api.post("/v1/feedback", {**base, "query_text_sha256": "abc"}, key="write"), 422, "validation_error")
    error(api.post("/v1/feedback", {**base, "query_org_id": "nope"}, key="write"), 404, "unknown_organisation")
    error(api.post("/v1/feedback", {**base, "query_org_id": "drones-eu-0", "candidate_org_id": "nope"},
                   key="write"), 404, "unknown_organisation")
    assert api.store.feedback() == []


def test_model_info(api):
    info = api.get("/v1/model").json()
    assert info["model_version"] == "synthetic-1" and info["kind"] == "learned"
    assert info["primary_metric"] == "recall@20" and info["primary_score"] == 0.8
    assert info["summary"]["new-partners"]["recall@20"] == 0.8 and info["created_at"]


def test_reload_swaps_in_a_new_model(api):
    copy_model(api.model_dir, api.model_dir, "synthetic-2")
    out = api.post("/v1/admin/reload", key="write").json()
    assert out == {"reloaded": True, "model_version": "synthetic-2", "previous_version": "synthetic-1",
                   "message": "model synthetic-2 loaded"}
    assert api.get("/v1/model").json()["model_version"] == "synthetic-2"
    assert api.get("/v1/organisations/drones-eu-0/partners").json()["model_version"] == "synthetic-2"


def test_a_corrupt_or_mismatched_model_is_refused_and_the_old_one_keeps_serving(api, caplog, tmp_path):
    caplog.set_level(logging.ERROR, logger="corridor.api")
    with open(api.model_dir / "head-org.txt", "ab") as fh:
        fh.write(b"tampered")
    err = error(api.post("/v1/admin/reload", key="write"), 409, "model_refused")
    assert "altered" in err["message"] and err["details"] == {"serving_version": "synthetic-1"}
    assert "model refused, still serving synthetic-1" in caplog.text
    assert api.get("/v1/organisations/drones-eu-0/partners").status_code == 200
    assert api.get("/ready", key=None).json()["model_version"] == "synthetic-1"
    mismatched = train_model(tmp_path / "other", "synthetic-x", {"encoder_fingerprint": "another-encoder",
                                                                 "taxonomy_version": "test-1"})
    copy_model(mismatched, api.model_dir, "synthetic-x")
    err = error(api.post("/v1/admin/reload", key="write"), 409, "model_refused")
    assert "encoder_fingerprint" in err["message"]
    assert api.get("/v1/model").json()["model_version"] == "synthetic-1"


def test_refused_model_without_any_model_is_503(make_api, tmp_path):
    api = make_api()
    (api.model_dir / "manifest.json").write_text("{broken")
    api.corridor.serving.recommender = None  # as if nothing had loaded at start-up
    error(api.post("/v1/admin/reload", key="write"), 503, "model_unavailable")


def test_background_poll_picks_up_a_promoted_model_and_skips_a_corrupt_one(make_api, caplog):
    caplog.set_level(logging.ERROR, logger="corridor.api")
    api = make_api(model_poll_seconds=0.05)
    copy_model(api.model_dir, api.model_dir, "synthetic-3")
    _wait(lambda: api.get("/ready", key=None).json()["model_version"] == "synthetic-3")
    copy_model(api.model_dir, api.model_dir.with_name("broken"), "synthetic-4")
    with open(api.model_dir.with_name("broken") / "params.json", "a") as fh:
        fh.write(" ")
    copy_model(api.model_dir.with_name("broken"), api.model_dir, "synthetic-4")  # copied with the bad file
    _wait(lambda: "model refused" in caplog.text)
    time.sleep(0.2)
    assert caplog.text.count("model refused") == 1  # logged once, not at every poll
    assert api.get("/ready", key=None).json()["model_version"] == "synthetic-3"


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# ---- limits, errors, CORS -------------------------------------------------------------------------------------
def test_oversize_bodies_are_413(make_api):
    api = make_api(max_body_bytes=1024)
    big = {**NEW_ORG, "description": "drone " * 400}
    err = error(api.post("/v1/organisations", big, key="write"), 413, "payload_too_large")
    assert err["details"] == {"max_bytes": 1024}
    error(api.post("/v1/match", {"text": "radar " * 300}), 413, "payload_too_large")

    def chunks():  # no Content-Length: counted while reading
        for _ in range(10):
            yield b" " * 200

    response = api.client.post("/v1/match", content=chunks(), headers={**api.read, "Content-Type": "application/json"})
    error(response, 413, "payload_too_large")
    assert api.store.organisations() == []


def test_default_body_limit_is_64_kib(api):
    error(api.post("/v1/match", {"text": "x" * (65 * 1024)}), 413, "payload_too_large")
    assert api.post("/v1/match", {"text": "radar " * 2000}).status_code == 200


def test_unknown_route_and_method_are_structured(api):
    error(api.get("/v1/nothing-here"), 404, "not_found")
    response = api.client.delete("/v1/instruments", headers=api.read)
    error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    response = api.client.delete("/v1/organisations", headers=api.read)
    assert response.status_code == 405 and set(response.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_unexpected_errors_are_500_without_a_trace(api, caplog):
    def boom():
        raise RuntimeError("secret internals")

    api.client.app.add_api_route("/v1/boom", boom)
    caplog.set_level(logging.ERROR, logger="corridor.api")
    response = api.get("/v1/boom")
    err = error(response, 500, "internal_error")
    assert "secret internals" not in response.text and "RuntimeError" not in response.text
    assert "unhandled error on GET /v1/boom" in caplog.text and "secret internals" in caplog.text
    assert err["details"] is None


def test_cors_is_off_unless_configured(make_api):
    api = make_api()
    origin = {"Origin": "https://app.example"}
    assert "access-control-allow-origin" not in api.client.get("/health", headers=origin).headers
    api = make_api(cors_origins=["https://app.example"])
    response = api.client.get("/health", headers=origin)
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    preflight = api.client.options("/v1/match", headers={**origin, "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200


def test_known_partners_and_funding_bodies_are_left_out_on_every_route(api):
    index = api.corridor.serving.index
    org = "drones-eu-0"
    known = set(index.ids[index.graph.neighbours(index.row(org))])
    out = api.get(f"/v1/organisations/{org}/partners", params={"k": 30}).json()
    assert out["results"] and not {r["org_id"] for r in out["results"]} & known
    assert out["left_out"]["known_partners"] > 0 and "funding_bodies" in out["left_out"]
    kept = api.get(f"/v1/organisations/{org}/partners", params={"k": 30, "include_known": True}).json()
    flagged = [r for r in kept["results"] if r["known_partner"]]
    assert flagged and all(r["org_id"] in known and r["joint_projects"] for r in flagged)
    assert kept["query"]["include_known"] is True
    companies = api.get(f"/v1/organisations/{org}/partners", params={"k": 30, "kind": "company"}).json()
    assert companies["results"] and all(r["kind"] == "company" for r in companies["results"])
    error(api.get(f"/v1/organisations/{org}/partners", params={"kind": "agency"}), 422, "validation_error")
    pairs = api.get("/v1/pairings", params={"priority": "unmanned", "k": 50}).json()["pairings"]
    for p in pairs:
        kr, eu = index.row(p["korean"]["id"]), index.row(p["european"]["id"])
        assert index.graph.adjacency[kr, eu] == 0
    with_known = api.get("/v1/pairings", params={"priority": "unmanned", "k": 50, "include_known": True}).json()
    assert not with_known["cached"] and with_known["include_known"] is True
    match = api.post("/v1/match", {"text": "drone swarm autonomy", "k": 5, "kind": "research"}).json()
    assert match["results"] and all(r["kind"] == "research" for r in match["results"])
    default_match = api.post("/v1/match", {"text": "drone swarm autonomy", "k": 5}).json()
    assert "funding_bodies" in default_match["left_out"] and "known_partners" not in default_match["left_out"]


# ---- an unusable database is a 503 with Retry-After, never a 500 -------------------------------------------------
def _hold_the_write_lock(store: Store):
    """Another process's open write transaction on the SQLite file (what `BEGIN IMMEDIATE` in sqlite3 does)."""
    import sqlite3

    holder = sqlite3.connect(store.url.database, timeout=0.1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_locked_database_gives_503_with_retry_after_and_reads_still_work(make_api):
    api = make_api()
    api.corridor.store = Store(str(api.store.url), busy_seconds=0.2)
    holder = _hold_the_write_lock(api.store)
    try:
        response = api.post("/v1/organisations", NEW_ORG, key="write")
        body = error(response, 503, "database_unavailable")
        assert response.headers["retry-after"] == "5" and "locked" in body["message"]
        assert api.get("/v1/instruments").status_code == 200  # reads (key lookups) go on in WAL mode
    finally:
        holder.close()
    assert api.post("/v1/organisations", NEW_ORG, key="write").status_code == 201


def test_ready_says_not_ready_while_the_database_cannot_be_opened(make_api, tmp_path):
    api = make_api()
    good = api.corridor.store
    api.corridor.store = Store(f"sqlite:///{tmp_path / 'gone.db'}")
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # a directory where the database file should be: it cannot be opened
    try:
        api.corridor.store.engine.dispose()
        error(api.get("/ready", key=None), 503, "not_ready")
    finally:
        api.corridor.store = good
    assert api.get("/ready", key=None).status_code == 200


# ---- catalogue organisations are protected: overlays by admins only, audited, revertible --------------------------
def test_a_write_key_cannot_change_a_catalogue_organisation_but_an_admin_overlays_and_reverts_it(api):
    before = api.get("/v1/organisations/radar-eu-0").json()["organisation"]
    change = {"name": "Some Bulgarian Trading Co", "country": "BG", "description": "Imports furniture."}
    refused = error(api.put("/v1/organisations/radar-eu-0", change, key="write"), 403, "change_refused")
    assert "admin" in refused["message"]
    assert api.get("/v1/organisations/radar-eu-0").json()["organisation"]["name"] == before["name"]
    admin = {"X-API-Key": api.store.create_key("admin", "tests")[1]}
    stored = api.client.put("/v1/organisations/radar-eu-0", json=change, headers=admin)
    assert stored.status_code == 200 and stored.json()["organisation"]["name"] == "Some Bulgarian Trading Co"
    trail = api.get("/v1/organisations/radar-eu-0/changes").json()["changes"]
    assert [c["action"] for c in trail] == ["overlaid"] and trail[0]["actor"].startswith("key:")
    error(api.client.delete("/v1/organisations/radar-eu-0", headers=api.write), 403, "forbidden")
    reverted = api.client.delete("/v1/organisations/radar-eu-0", headers=admin)
    assert reverted.status_code == 200 and reverted.json()["organisation"]["name"] == before["name"]
    trail = api.get("/v1/organisations/radar-eu-0/changes").json()["changes"]
    assert [c["action"] for c in trail] == ["overlaid", "reverted"]
    assert trail[1]["before"]["name"] == "Some Bulgarian Trading Co" and trail[1]["after"] is None
    error(api.client.delete("/v1/organisations/radar-eu-0", headers=admin), 403, "change_refused")  # nothing left


def test_a_write_key_changes_only_what_it_added(api):
    assert api.post("/v1/organisations", NEW_ORG, key="write").status_code == 201
    other = {"X-API-Key": api.store.create_key("write", "someone else")[1]}
    update = {**{k: v for k, v in NEW_ORG.items() if k != "id"}, "description": "Now it makes submarines."}
    error(api.put(f"/v1/organisations/{NEW_ORG['id']}", update, key=other["X-API-Key"]), 403, "change_refused")
    assert api.put(f"/v1/organisations/{NEW_ORG['id']}", update, key="write").status_code == 200
    actions = [c["action"] for c in api.get(f"/v1/organisations/{NEW_ORG['id']}/changes").json()["changes"]]
    assert actions == ["added", "updated"]


# ---- the schema tells the truth about what is accepted ----------------------------------------------------------
def test_what_the_schema_allows_is_accepted_and_what_is_refused_the_schema_says(api):
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    out = api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research", "size": 4.0, "pool": 68.0})
    assert out.status_code == 200, out.text  # 68.0 is the JSON integer 68
    error(api.post("/v1/consortia", {"lead": "drones-eu-0", "instrument": "edf-research", "pool": 68.5}), 422,
          "validation_error")
    assert [branch["required"] for branch in schemas["MemberIn"]["anyOf"]] == [["id"], ["name", "country"]]
    assert api.post("/v1/eligibility", {"instrument": "edip", "members": [{}]}).status_code == 422
    areas = schemas["OrganisationIn"]["properties"]["technology_areas"]["items"]
    assert areas.get("minLength") == 1 or (areas.get("enum") and "" not in areas["enum"])
    error(api.post("/v1/organisations", {**NEW_ORG, "technology_areas": [""]}, key="write"), 422, "validation_error")


def test_a_server_process_works_on_at_most_request_threads_requests_at_once(make_api):
    import anyio.to_thread

    async def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    api = make_api(request_threads=3)
    assert api.client.portal.call(tokens) == 3
    assert api.get("/health", key=None).status_code == 200  # liveness does not queue behind ranking

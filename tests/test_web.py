"""The web pages over a synthetic world: sign-in with a signed HttpOnly cookie, CSRF on every form, sign-out,
search with filters in the URL, and HTML (never JSON or a traceback) for errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from recommender.settings import Settings
from tests.api_support import copy_model, synthetic_corridor, train_model


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    return train_model(tmp_path_factory.mktemp("web-model") / "ranker")


@pytest.fixture
def web(tmp_path, trained_model):
    settings = Settings(state_dir=tmp_path / "state", model_poll_seconds=0, session_secret="test-secret")
    corridor = synthetic_corridor(copy_model(trained_model, tmp_path / "ranker"), settings.database_url)
    with TestClient(create_app(settings, corridor), base_url="http://127.0.0.1") as client:
        client.read_key = corridor.store.create_key("read", "web tests")[1]
        client.corridor = corridor
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(web, key: str | None = None, next_url: str = "/search"):
    form = web.get(f"/signin?next={next_url}")
    return web.post("/signin", data={"key": key or web.read_key, "csrf": csrf_of(form.text), "next": next_url},
                    follow_redirects=False)


def test_pages_redirect_to_sign_in_until_a_valid_key_signs_in(web):
    first = web.get("/search?q=drones", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/signin?next=%2Fsearch%3Fq%3Ddrones"
    refused = sign_in(web, key="not-a-key")
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    page = web.get(refused.headers["location"])
    assert page.status_code == 401 and "unknown or revoked API key" in page.text
    signed = sign_in(web, next_url="/search?q=drones")
    assert signed.status_code == 303 and signed.headers["location"] == "/search?q=drones"
    cookie = signed.headers["set-cookie"]
    assert "corridor_session=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert web.read_key not in cookie
    page = web.get("/search?q=drones")
    assert page.status_code == 200 and web.read_key not in page.text


def test_sign_in_needs_the_forms_csrf_token(web):
    web.get("/signin")
    forged = web.post("/signin", data={"key": web.read_key, "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "corridor_session" not in forged.headers.get("set-cookie", "")


def test_sign_out_needs_csrf_and_then_every_page_redirects(web):
    sign_in(web)
    forged = web.post("/signout", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and web.get("/search", follow_redirects=False).status_code == 200
    token = csrf_of(web.get("/search").text)
    out = web.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert web.get("/search", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_its_sessions(web):
    sign_in(web)
    key_id = next(k.id for k in web.corridor.keys() if k.name == "web tests")
    web.corridor.revoke_key(key_id)
    assert web.get("/search", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_no_session(web):
    sign_in(web)
    value = web.cookies.get("corridor_session")
    web.cookies.clear()
    web.cookies.set("corridor_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert web.get("/search", follow_redirects=False).status_code == 303


def test_search_keeps_its_filters_in_the_url_and_pages(web):
    sign_in(web)
    page = web.get("/search?q=drones&region=EUROPE")
    assert page.status_code == 200
    assert 'value="drones"' in page.text and '<option value="EUROPE" selected>' in page.text
    names = re.findall(r'<a href="/organisations/([^"]+)">', page.text)
    assert names and not [name for name in names if name.startswith(("kr-", "drones-kr"))], names
    assert "No organisation matches" in web.get("/search?q=zzzzqqqxx").text


def test_search_filters_by_kind_and_edf_experience(web):
    sign_in(web)
    row = r'<a href="/organisations/([^"]+)">.*?</td>\s*<td[^>]*>(\w+)</td>\s*<td[^>]*>(\w+)</td>\s*<td[^>]*>(\d+)</td>'
    rows = re.findall(row, web.get("/search?edf=true&region=KR").text, re.S)
    assert rows and all(int(edf) > 0 and country == "KR" for _, country, _, edf in rows), rows
    assert "drones-kr-10" in [org for org, *_ in rows]
    everyone = web.get("/search?region=KR").text
    assert everyone.count("<tr>") > len(rows) + 1
    companies = re.findall(r'<td data-label="Kind">(\w+)</td>', web.get("/search?kind=company").text)
    assert companies and set(companies) == {"company"}
    unknown = web.get("/search?kind=aliens")
    assert unknown.status_code == 400 and "aliens" in unknown.text and "company" in unknown.text


def test_an_unknown_priority_is_an_html_error_naming_it(web):
    sign_in(web)
    page = web.get("/search?priority=warp-drives")
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "warp-drives" in page.text and "Traceback" not in page.text


def test_an_organisation_page_shows_track_record_partners_and_each_instruments_verdict_with_citation(web):
    sign_in(web)
    page = web.get("/organisations/drones-kr-10")
    assert page.status_code == 200, page.text
    assert "Drones Org 10" in page.text and "European Defence Fund consortia: <strong>2</strong>" in page.text
    assert '<a href="/organisations/drones-kr-8">Drones Org 8</a>' in page.text
    edf = page.text[page.text.index("<strong>edf-research</strong>"):]
    assert 'verdict-ineligible">INELIGIBLE' in edf[:200] and "Regulation (EU) 2021/697" in edf
    missing = web.get("/organisations/no-such-org")
    assert missing.status_code == 404 and "no-such-org" in missing.text
    assert "text/html" in missing.headers["content-type"]


def test_partners_page_ranks_with_explanations_and_eligibility_badges_and_keeps_filters_in_the_url(web):
    sign_in(web)
    url = "/organisations/drones-kr-10/partners?priority=unmanned&instrument=edf-research&region=EU&include_known=true"
    page = web.get(url)
    assert page.status_code == 200, page.text
    assert page.text.count('class="partner"') >= 3 and "Why: " in page.text and "past partner" in page.text
    assert 'edf-research: ELIGIBLE' in page.text and '<option value="EU" selected>' in page.text
    first = re.search(r'<li class="partner">\s*<h2><a href="/organisations/([^"]+)"', page.text).group(1)
    api_top = web.corridor.partners_page("drones-kr-10", "unmanned", "edf-research", "EU", None, True, 1)
    assert first == api_top["results"][0]["org_id"]
    bad = web.get("/organisations/drones-kr-10/partners?region=MARS")
    assert bad.status_code == 422 and "region" in bad.text


def test_shortlist_checks_a_consortium_rule_by_rule_proposes_one_and_exports_safe_csv(web):
    sign_in(web)
    token = csrf_of(web.get("/search").text)
    for org in ("drones-kr-10", "drones-eu-0", "drones-eu-1"):
        form = {"org_id": org, "csrf": token, "back": "/shortlist"}
        added = web.post("/shortlist", data=form, follow_redirects=False)
        assert added.status_code == 303
    forged = web.post("/shortlist", data={"org_id": "drones-eu-2", "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    page = web.get("/shortlist?instrument=edf-research")
    assert page.status_code == 200 and "Drones Org 0" in page.text and "Drones Org 2" not in page.text
    korean = page.text[page.text.index("Drones Org 10 (KR)"):]
    assert 'verdict-ineligible">INELIGIBLE' in korean[:400] and "Regulation (EU) 2021/697" in korean[:1500]
    csv = web.get("/shortlist.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("id,name") and len(csv.text.splitlines()) == 4
    removed = web.post("/shortlist", data={"org_id": "drones-eu-1", "action": "remove", "csrf": token})
    assert removed.status_code == 200 and "Drones Org 1<" not in removed.text
    proposal = web.get("/consortium?lead=drones-kr-10&instrument=edf-research")
    assert proposal.status_code == 200 and "Proposed consortium under edf-research" in proposal.text


def test_match_ranks_partners_for_a_pasted_text_and_refuses_an_empty_one(web):
    sign_in(web)
    token = csrf_of(web.get("/match").text)
    page = web.post("/match", data={"text": "drone swarm autonomy", "region": "ANY", "csrf": token})
    assert page.status_code == 200 and page.text.count('class="partner"') >= 1, page.text
    assert "drone swarm autonomy</textarea>" in page.text
    empty = web.post("/match", data={"text": "  ", "region": "ANY", "csrf": token})
    assert empty.status_code == 422 and "text" in empty.text
    assert web.post("/match", data={"text": "drones", "csrf": "forged"}).status_code == 403


def test_the_map_sorts_filters_and_links_both_organisations(web):
    sign_in(web)
    page = web.get("/map?priority=unmanned")
    assert page.status_code == 200 and "Partnership map: unmanned" in page.text
    korean = re.findall(r'<td><a href="/organisations/([^"]+)">', page.text)
    assert korean and all("kr" in k or "eu" in k for k in korean)
    by_country = web.get("/map?priority=unmanned&sort=country").text
    countries = re.findall(r"</a></td><td>([A-Z]{2})</td>", by_country)
    assert countries == sorted(countries) and len(countries) > 1
    only_fr = web.get("/map?priority=unmanned&country=FR").text
    assert set(re.findall(r"</a></td><td>([A-Z]{2})</td>", only_fr)) == {"FR"}
    assert web.get("/map?priority=unmanned&sort=nonsense").status_code == 422


def test_no_page_references_an_external_url(web):
    sign_in(web)
    token = csrf_of(web.get("/search").text)
    web.post("/shortlist", data={"org_id": "drones-kr-10", "csrf": token})
    pages = ["/signin", "/search?q=drones", "/organisations/drones-kr-10", "/organisations/drones-kr-10/partners",
             "/match", "/shortlist?instrument=edf-research", "/map?priority=unmanned", "/docs", "/redoc",
             "/static/corridor.css"]
    for url in pages:
        text = web.get(url).text
        assert text, url
        refs = re.findall(r'(?:src|href|action)=["\']([^"\']*)["\']|url\(([^)]*)\)', text)
        external = [a or b for a, b in refs if re.match(r"^\s*['\"]?(?:[a-z]+:)?//", a or b)]
        assert not external, (url, external)

"""The web pages in a real browser: Chromium (the distribution's package, driven by Playwright) against a real
`corridor serve` on 127.0.0.1 over the shipped catalogue and the shipped model, signed in with a key made by
`corridor keys create`. The tour a business developer takes: sign in, find LIG Nex1, its drone partners,
shortlist two European ones, check the consortium under the EDF research rules, export it, sign out. Every
page is photographed into docs/screenshots/ (the README's tour shows them), on a laptop and a phone.

Chromium: CORRIDOR_CHROMIUM, else /usr/bin/chromium (Debian's `chromium`, which .ci/run installs)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.server_support import REPO, Server, run_cli

pytestmark = pytest.mark.slow

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("CORRIDOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LIG = "kr-lig-nex1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (apt-get install -y chromium)")
    state = tmp_path_factory.mktemp("web-state")
    env = {**os.environ, "CORRIDOR_STATE_DIR": str(state), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for name in ("CORRIDOR_DATA_DIR", "CORRIDOR_RANKER_DIR", "CORRIDOR_DATABASE_URL", "CORRIDOR_SESSION_SECRET"):
        env.pop(name, None)
    key = run_cli(env, "keys", "create", "--scope", "read", "--name", "Ana (business development)").strip()
    running = Server(env)
    try:
        yield running, key
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Tour:
    """One browser context (its own cookies) that records every request it makes and photographs pages."""

    def __init__(self, browser, base_url: str, viewport: dict, suffix: str = "") -> None:
        self.context = browser.new_context(base_url=base_url, viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.suffix = suffix

    def shot(self, name: str, max_height: int = 1600) -> None:
        """The page from its top, down to ``max_height`` pixels (what a person sees first, and a bit more)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        height = min(max_height, self.page.evaluate("document.documentElement.scrollHeight"))
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}{self.suffix}.png"), full_page=True,
                             clip={"x": 0, "y": 0, "width": size["width"], "height": height})

    def sign_in(self, key: str) -> None:
        self.page.goto("/search")
        self.page.wait_for_url(re.compile(r"/signin\?next="))
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"/search$"))

    def close(self) -> None:
        self.context.close()


def _expect(locator):
    return playwright_api.expect(locator)


def test_a_business_developer_tours_the_pages_from_sign_in_to_sign_out(server, browser):
    running, key = server
    tour = Tour(browser, running.url, LAPTOP)
    page = tour.page
    try:
        # 1. sign in (the first page asked for redirects to sign-in, and back after it)
        page.goto("/search")
        page.wait_for_url(re.compile(r"/signin\?next=%2Fsearch"))
        tour.shot("01-sign-in")
        page.get_by_label("API key").fill("cor_not-a-real-key")
        page.get_by_role("button", name="Sign in").click()
        _expect(page.get_by_role("alert")).to_contain_text("key")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/search$"))
        _expect(page.locator("header .who")).to_contain_text("Ana (business development)")
        assert key not in page.content()
        assert all(not c["value"].startswith("cor_") for c in tour.context.cookies())
        session = next(c for c in tour.context.cookies() if c["name"] == "corridor_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"

        # 2. search "lig nex" and open LIG Nex1
        page.get_by_label("Name").fill("lig nex")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r"/search\?q=lig\+nex"))
        first = page.locator("table.results tbody tr").first.get_by_role("link")
        _expect(first).to_have_text(re.compile(r"LIG Nex1", re.I))
        tour.shot("02-search")
        first.click()
        page.wait_for_url(f"**/organisations/{LIG}")
        _expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("LIG Nex1", re.I))
        _expect(page.get_by_text("edf-research").first).to_be_visible()
        tour.shot("03-organisation")
        page.get_by_role("button", name=re.compile("to the shortlist")).first.click()  # the lead first
        page.wait_for_url(f"**/organisations/{LIG}")

        # 3. its partners with priority drones (the priority's label), from Europe
        page.get_by_role("link", name="Find new partners").click()
        page.get_by_label("Priority").select_option(label="Drones and unmanned systems")
        page.get_by_label("From").select_option("EU")
        page.get_by_role("button", name="Rank").click()
        page.wait_for_url(re.compile(r"priority=unmanned"))
        cards = page.locator("ol.partners > li")
        _expect(cards.first).to_be_visible()
        assert cards.count() >= 5
        _expect(cards.first.locator(".badges .verdict")).to_have_count(8)
        _expect(cards.first.locator(".badges")).to_contain_text("edf-research: ELIGIBLE")
        tour.shot("04-partners")

        # 4. shortlist two European partners
        chosen = []
        for i in range(2):
            card = page.locator("ol.partners > li").nth(i)
            chosen.append(card.get_by_role("heading").get_by_role("link").inner_text())
            card.get_by_role("button", name=re.compile("to the shortlist")).click()
            page.wait_for_url(re.compile(r"priority=unmanned"))
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Shortlist").click()
        rows = page.locator("table tbody tr")
        _expect(rows).to_have_count(3)
        for name in chosen:
            _expect(page.locator("table").first).to_contain_text(name)

        # 5. the consortium under edf-research: the Korean member is INELIGIBLE, with its citation
        page.get_by_label("Check as a consortium under").select_option("edf-research")
        page.get_by_role("button", name="Check").click()
        page.wait_for_url(re.compile(r"instrument=edf-research"))
        korean = page.locator("tr.member", has_text="(KR)")
        _expect(korean).to_have_count(1)
        _expect(korean.locator(".verdict")).to_have_text("INELIGIBLE")
        _expect(korean.locator("cite").first).to_contain_text("2021/697")
        tour.shot("05-shortlist-consortium-check", max_height=1900)

        # 6. export the CSV
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        table = list(csv.DictReader(io.StringIO(exported)))
        assert [row["id"] for row in table][0] == LIG and len(table) == 3
        assert {row["name"] for row in table[1:]} == set(chosen)

        # a proposed consortium around the lead, the match page and the partnership map
        page.get_by_label(re.compile("Propose a consortium around")).select_option("horizon-europe")
        page.get_by_role("button", name="Propose").click()
        page.wait_for_url(re.compile(r"/consortium\?lead="))
        _expect(page.get_by_role("heading", level=1)).to_be_visible()
        tour.shot("06-proposed-consortium")
        page.get_by_role("link", name="Match a text").click()
        page.get_by_label("Call or project description").fill(
            "Swarms of small unmanned aerial vehicles for reconnaissance, with on-board AI for autonomous "
            "navigation and resilient communications in contested environments.")
        page.get_by_role("button", name="Find partners").click()
        _expect(page.locator("ol.partners > li").first).to_be_visible()
        tour.shot("07-match")
        page.get_by_role("link", name="Partnership map").click()
        _expect(page.locator("table.heatmap")).to_be_visible()
        tour.shot("08-map")
        page.goto("/organisations/no-such-organisation")
        _expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert "Traceback" not in page.content()
        tour.shot("09-error")

        # 7. sign out: every page then redirects to sign-in
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/signin"))
        for path in ("/search", f"/organisations/{LIG}", "/shortlist", "/map"):
            page.goto(path)
            page.wait_for_url(re.compile(r"/signin\?next="))
        # no page asked for anything from another host
        outside = [u for u in tour.requests if not u.startswith((running.url, "data:", "blob:", "about:"))]
        assert tour.requests and not outside, outside
    finally:
        tour.close()


def test_a_form_with_a_forged_or_missing_csrf_token_changes_nothing(server, browser):
    running, key = server
    tour = Tour(browser, running.url, LAPTOP)
    page = tour.page
    try:
        tour.sign_in(key)
        page.goto(f"/organisations/{LIG}")
        page.eval_on_selector("form[action='/shortlist'] input[name=csrf]", "input => input.value = 'forged'")
        page.get_by_role("button", name=re.compile("to the shortlist")).first.click()
        _expect(page.get_by_role("heading", level=1)).to_contain_text("403")
        assert page.get_by_text("CSRF check failed").count() == 1
        page.goto("/shortlist")
        _expect(page.get_by_text("Your shortlist is empty")).to_be_visible()
        # another site's page posting to Corridor: the SameSite=Strict cookie stays home, nothing changes
        page.goto("about:blank")
        page.set_content(f"""<form id="f" method="post" action="{running.url}/shortlist">
            <input name="org_id" value="{LIG}"><input name="action" value="add"><input name="csrf" value="x">
            </form>""")
        page.eval_on_selector("#f", "form => form.submit()")
        page.wait_for_url(re.compile(r"/signin"))
        page.goto("/shortlist")
        _expect(page.get_by_text("Your shortlist is empty")).to_be_visible()
    finally:
        tour.close()


def test_pages_work_from_the_keyboard_with_labelled_fields_and_on_a_phone(server, browser):
    running, key = server
    tour = Tour(browser, running.url, PHONE, suffix="-phone")
    page = tour.page
    try:
        tour.sign_in(key)
        for path in ("/search?q=hanwha", f"/organisations/{LIG}", f"/organisations/{LIG}/partners?priority=unmanned",
                     "/match", "/map?priority=unmanned", "/shortlist"):
            page.goto(path)
            unlabelled = page.eval_on_selector_all(
                "input:not([type=hidden]), select, textarea",
                "fields => fields.filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))"
                ".map(f => f.name)")
            assert not unlabelled, (path, unlabelled)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)
        page.goto("/search")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        page.get_by_label("Name").focus()
        page.keyboard.type("etri")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"q=etri"))
        _expect(page.locator("table.results tbody tr").first).to_contain_text(
            "ELECTRONICS AND TELECOMMUNICATIONS RESEARCH INSTITUTE", ignore_case=True)
        tour.shot("02-search")
        page.goto(f"/organisations/{LIG}")
        tour.shot("03-organisation")
        page.goto(f"/organisations/{LIG}/partners?priority=unmanned&region=EU")
        tour.shot("04-partners")
        page.goto("/map?priority=unmanned")
        tour.shot("08-map")
    finally:
        tour.close()

"""The web pages: each route reads its form or query, makes one call into the Corridor and renders a template.
Core errors become an HTML page with the same status the API would give; a missing or expired session
redirects to sign-in."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.errors import core_error
from recommender.errors import CorridorError, UnauthorizedError
from recommender.service import Corridor
from web.session import COOKIE, SHORTLIST_COOKIE, Session, SessionSigner, csrf_matches

HERE = Path(__file__).parent
SIGNIN_COOKIE = "corridor_signin_csrf"
PAGE_SIZE = 20
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def _corridor(request: Request) -> Corridor:
    return request.app.state.corridor


def _signer(request: Request) -> SessionSigner:
    return request.app.state.session_signer


def signed_in(request: Request) -> Session:
    """The request's session if its cookie is valid and its key still active; else SignInRequired."""
    session = _signer(request).read(request.cookies.get(COOKIE))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session is None:
        raise SignInRequired(target)
    try:
        _corridor(request).active_key(session.key_id, "read")
    except UnauthorizedError:
        raise SignInRequired(target) from None
    return session


def render(request: Request, template: str, status: int = 200, session: Session | None = None,
           **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, {"session": session, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def page(request: Request, session: Session, template: str, call: Any, **context: Any) -> HTMLResponse:
    """Render ``template`` with the result of ``call()``; a core error renders the error page instead."""
    try:
        result = call()
    except CorridorError as exc:
        status, _code, _details = core_error(exc)
        return render(request, "error.html", status, session, message=str(exc), status_code=status)
    return render(request, template, session=session, result=result, **context)


def _safe_next(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/search"


@router.get("/")
def home(request: Request) -> Response:
    signed_in(request)
    return RedirectResponse("/search", 303)


@router.get("/signin")
def signin_form(request: Request, next: str | None = None, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "signin.html", 401 if error else 200, csrf=token, next=_safe_next(next), error=error)
    response.set_cookie(SIGNIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/signin")
def signin(request: Request, key: str = Form(""), csrf: str = Form(""), next: str = Form("/search")) -> Response:
    expected = request.cookies.get(SIGNIN_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf):
        return render(request, "error.html", 403, None, status_code=403,
                      message="The sign-in form expired or did not come from this site. Open it again.")
    try:
        api_key = _corridor(request).authenticate(key.strip(), "read")
    except CorridorError as exc:
        query = urlencode({"next": _safe_next(next), "error": str(exc)})
        return RedirectResponse(f"/signin?{query}", 303)
    _session, cookie = _signer(request).issue(api_key.id, api_key.name, api_key.scope)
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", max_age=_signer(request).max_age_seconds)
    response.delete_cookie(SIGNIN_COOKIE)
    return response


@router.post("/signout")
def signout(request: Request, csrf: str = Form("")) -> Response:
    session = signed_in(request)
    if not csrf_matches(session, csrf):
        return render(request, "error.html", 403, session, status_code=403,
                      message="This form did not come from this page (CSRF check failed). Reload and try again.")
    response = RedirectResponse("/signin", 303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/search")
def search(request: Request, q: str | None = None, country: str | None = None, region: str | None = None,
           activity_type: str | None = None, kind: str | None = None, priority: str | None = None,
           edf: bool = False, page_number: int = 1) -> HTMLResponse:
    session = signed_in(request)
    filters = {"q": q or "", "country": country or "", "region": region or "", "activity_type": activity_type or "",
               "kind": kind or "", "priority": priority or "", "edf": "1" if edf else ""}
    offset = (max(page_number, 1) - 1) * PAGE_SIZE
    corridor = _corridor(request)
    return page(request, session, "search.html",
                lambda: corridor.search(q or None, country or None, region or None, activity_type or None,
                                        priority or None, PAGE_SIZE, offset, kind or None, edf),
                filters=filters, page_number=max(page_number, 1), page_size=PAGE_SIZE,
                options=corridor.page_options(), urlencode=urlencode)


@router.get("/organisations/{org_id}")
def organisation(request: Request, org_id: str) -> HTMLResponse:
    session = signed_in(request)
    corridor = _corridor(request)
    return page(request, session, "organisation.html", lambda: corridor.organisation_page(org_id))


@router.get("/organisations/{org_id}/partners")
def partners(request: Request, org_id: str, priority: str | None = None, instrument: str | None = None,
             region: str = "ANY", kind: str | None = None, include_known: bool = False, k: int = 20) -> HTMLResponse:
    session = signed_in(request)
    corridor = _corridor(request)
    filters = {"priority": priority or "", "instrument": instrument or "", "region": region, "kind": kind or "",
               "include_known": include_known, "k": k}
    return page(request, session, "partners.html",
                lambda: corridor.partners_page(org_id, priority or None, instrument or None, region, kind or None,
                                               include_known, k),
                filters=filters, org_id=org_id, options=corridor.page_options())


def _shortlist(request: Request) -> list[str]:
    return _signer(request).shortlist.loads(request.cookies.get(SHORTLIST_COOKIE))


def _checked(request: Request, csrf: str) -> Session:
    session = signed_in(request)
    if not csrf_matches(session, csrf):
        raise CsrfFailed(session)
    return session


class CsrfFailed(Exception):
    def __init__(self, session: Session) -> None:
        self.session = session


@router.post("/shortlist")
def change_shortlist(request: Request, org_id: str = Form(...), action: str = Form("add"), csrf: str = Form(""),
                     back: str = Form("/shortlist")) -> Response:
    _checked(request, csrf)
    ids = [i for i in _shortlist(request) if i != org_id]
    if action == "add":
        ids.append(org_id)
    response = RedirectResponse(_safe_next(back), 303)
    response.set_cookie(SHORTLIST_COOKIE, _signer(request).shortlist.dumps(ids), httponly=True, samesite="strict")
    return response


@router.get("/shortlist")
def shortlist(request: Request, instrument: str | None = None) -> HTMLResponse:
    session = signed_in(request)
    corridor = _corridor(request)
    ids = _shortlist(request)
    return page(request, session, "shortlist.html", lambda: corridor.shortlist(ids, instrument or None),
                options=corridor.page_options())


@router.get("/shortlist.csv")
def shortlist_csv(request: Request) -> Response:
    signed_in(request)
    text = _corridor(request).shortlist_csv(_shortlist(request))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="corridor-shortlist.csv"'})


@router.get("/consortium")
def consortium(request: Request, lead: str, instrument: str, priority: str | None = None,
               size: int = 4) -> HTMLResponse:
    session = signed_in(request)
    corridor = _corridor(request)
    return page(request, session, "consortium.html",
                lambda: corridor.propose_consortium(lead, instrument, max(2, min(size, 8)), priority or None))


@router.get("/match")
def match_form(request: Request) -> HTMLResponse:
    session = signed_in(request)
    filters = {"text": "", "region": "EU", "priority": "", "instrument": ""}
    return render(request, "match.html", session=session, result=None, filters=filters,
                  options=_corridor(request).page_options())


@router.post("/match")
def match(request: Request, text: str = Form(""), region: str = Form("ANY"), priority: str = Form(""),
          instrument: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
    session = _checked(request, csrf)
    corridor = _corridor(request)
    filters = {"text": text, "region": region, "priority": priority, "instrument": instrument}
    return page(request, session, "match.html",
                lambda: corridor.match_page(text, region, priority or None, instrument or None, PAGE_SIZE),
                filters=filters, options=corridor.page_options())


@router.get("/map")
def partnership_map(request: Request, priority: str = "unmanned", instrument: str | None = None,
                    kind: str | None = None, country: str | None = None, sort: str = "score") -> HTMLResponse:
    session = signed_in(request)
    corridor = _corridor(request)
    filters = {"priority": priority, "instrument": instrument or "", "kind": kind or "", "country": country or "",
               "sort": sort}
    return page(request, session, "map.html",
                lambda: corridor.map_page(priority, instrument or None, kind or None, country or None, sort),
                filters=filters, options=corridor.page_options(), urlencode=urlencode)


def install_web(app: FastAPI, session_secret: str | None, session_hours: float) -> None:
    app.state.session_signer = SessionSigner(session_secret, int(session_hours * 3600))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="web-static")
    app.include_router(router)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return render(request, "error.html", 403, exc.session, status_code=403,
                      message="This form did not come from this page (CSRF check failed). Reload and try again.")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/signin?next={quote(exc.next_url, safe='')}", 303)

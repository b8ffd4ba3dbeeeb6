"""The signed sign-in session: an HttpOnly, SameSite=Strict cookie that names the API key by its id (never its
secret) and carries the CSRF token every form must echo."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "corridor_session"


@dataclass(frozen=True)
class Session:
    key_id: int
    key_name: str | None
    scope: str
    csrf: str


class SessionSigner:
    """Signs and reads session cookies; a cookie older than ``max_age_seconds`` or tampered with reads as None."""

    def __init__(self, secret: str | None, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="corridor-web-session")
        self.max_age_seconds = max_age_seconds
        self.shortlist = ShortlistSigner(self._serializer)

    def issue(self, key_id: int, key_name: str | None, scope: str) -> tuple[Session, str]:
        session = Session(key_id, key_name, scope, secrets.token_urlsafe(24))
        cookie = self._serializer.dumps({"k": key_id, "n": key_name, "s": scope, "c": session.csrf})
        return session, cookie

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_seconds)
            return Session(int(data["k"]), data.get("n"), str(data["s"]), str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None


def csrf_matches(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")


SHORTLIST_COOKIE = "corridor_shortlist"
SHORTLIST_MAX = 30


class ShortlistSigner:
    """The shortlist of organisation ids, kept in its own signed cookie (a person's working set, not shared
    state: it lives with the browser, like the session)."""

    def __init__(self, serializer: URLSafeTimedSerializer) -> None:
        self._serializer = serializer

    def dumps(self, ids: list[str]) -> str:
        return self._serializer.dumps(ids[:SHORTLIST_MAX], salt="corridor-shortlist")

    def loads(self, cookie: str | None) -> list[str]:
        if not cookie:
            return []
        try:
            ids = self._serializer.loads(cookie, salt="corridor-shortlist")
        except BadSignature:
            return []
        return [str(i) for i in ids][:SHORTLIST_MAX] if isinstance(ids, list) else []

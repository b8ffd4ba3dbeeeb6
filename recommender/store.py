"""The one store of mutable state: organisations users add (CLI or API), feedback on recommendations, API keys.

The shipped catalogue is read-only data; everything users change lives here, in one SQL database that the
CLI and the API read and write alike, each write one transaction (so parallel writers never lose each
other's rows). SQLAlchemy 2.x with portable column types only (String, Text, Boolean, Integer, DateTime),
so the default embedded SQLite file and a PostgreSQL server (``CORRIDOR_DATABASE_URL``) behave the same.
SQLite runs in WAL mode with a busy timeout, so readers never block writers and concurrent writers queue
instead of failing. Tables are created on first use; API key secrets are never stored, only their sha256.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from recommender.catalogue.schema import ORGANISATIONS
from recommender.errors import CorridorError, StoreUnavailableError

SCOPES = ("read", "write", "admin")  # each allows what the ones before it allow
SQLITE_BUSY_SECONDS = 30  # a writer waits this long for another writer's transaction before giving up
KEY_PREFIX = "cor_"


class Base(DeclarativeBase):
    pass


class OrganisationRow(Base):
    __tablename__ = "user_organisations"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    short_name: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(16))
    activity_type: Mapped[str | None] = mapped_column(String(3))
    sme: Mapped[bool | None] = mapped_column(Boolean)
    control_country: Mapped[str | None] = mapped_column(String(2))
    size_class: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    technology_areas: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by_key: Mapped[int | None] = mapped_column(Integer)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    query_org_id: Mapped[str | None] = mapped_column(String(80), index=True)
    query_text_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    candidate_org_id: Mapped[str] = mapped_column(String(80), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(128))
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChangeRow(Base):
    """The audit trail: every write to a user organisation or an overlay, with what it was before."""

    __tablename__ = "organisation_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(16))  # added, updated, overlaid, reverted
    actor: Mapped[str] = mapped_column(String(32))  # "cli" or "key:<id>"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    before: Mapped[str | None] = mapped_column(Text)  # JSON of the stored row before, None if there was none
    after: Mapped[str | None] = mapped_column(Text)  # JSON of the stored row after, None once reverted


ORG_FIELDS = tuple(f.name for f in ORGANISATIONS)


@dataclass(frozen=True)
class Actor:
    """Who writes: the local operator on the command line, or an API key with its scope."""

    name: str  # "cli" or "key:<id>"
    scope: str  # "cli", "admin" or "write"
    key_id: int | None = None

    @property
    def may_change_the_catalogue(self) -> bool:
        return self.scope in ("cli", "admin")


CLI_ACTOR = Actor("cli", "cli")


class ChangeRefusedError(CorridorError):
    """A write the actor may not make: changing a catalogue organisation without the admin scope, or an
    organisation another key added."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    scope: str
    name: str | None
    prefix: str
    revoked: bool
    created_at: datetime

    def allows(self, scope: str) -> bool:
        """A write key may also read; an admin key may do anything."""
        return not self.revoked and SCOPES.index(self.scope) >= SCOPES.index(scope)

    @property
    def actor(self) -> Actor:
        return Actor(f"key:{self.id}", self.scope, self.id)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Thin data access over one SQLAlchemy engine; every method is its own transaction."""

    def __init__(self, url: str, busy_seconds: float = SQLITE_BUSY_SECONDS) -> None:
        parsed = make_url(url)
        kwargs: dict = {}
        self.busy_seconds = busy_seconds
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_seconds}
            if parsed.database and parsed.database != ":memory:":
                try:
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreUnavailableError(
                        f"cannot create the database folder {Path(parsed.database).parent.name}: {exc.strerror}"
                    ) from None
            else:  # one shared connection, or every pooled connection would see its own empty database
                kwargs["poolclass"] = StaticPool
        self.url = parsed
        # a pooled connection to a database server may have been dropped; one to a SQLite file cannot be
        self.engine = create_engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite", **kwargs)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            event.listen(self.engine, "connect", self._sqlite_wal)
        event.listen(self.engine, "handle_error", _unavailable)
        self._create_tables()
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def _create_tables(self, attempts: int = 3) -> None:
        """Create the missing tables. Processes that start together on a new database (a server's workers)
        race: a table another one created between the check and the CREATE is there already, so look again."""
        for attempt in range(attempts):
            try:
                Base.metadata.create_all(self.engine)
                return
            except StoreUnavailableError as exc:
                if "already exists" not in str(exc) or attempt == attempts - 1:
                    raise

    def _sqlite_wal(self, dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception:  # noqa: BLE001 - a read-only file keeps its journal mode; writes then fail clearly
            pass
        cursor.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
        cursor.close()

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the database answers a query now."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    # -- organisations ------------------------------------------------------------------------------
    def organisations(self) -> list[dict]:
        with self.session() as s:
            rows = s.scalars(select(OrganisationRow).order_by(OrganisationRow.id)).all()
            return [{f: getattr(r, f) for f in ORG_FIELDS} for r in rows]

    def has_organisation(self, org_id: str) -> bool:
        with self.session() as s:
            return s.get(OrganisationRow, org_id) is not None

    def merge_organisations(
        self, orgs: list[dict], actor: Actor = CLI_ACTOR, catalogue_ids: frozenset[str] = frozenset()
    ) -> tuple[list[str], list[str], list[str]]:
        """Store validated organisations in one transaction: (added, updated, unchanged) ids. Rows equal to
        the stored ones are left alone, so adding the same file twice changes nothing. A row whose id is a
        catalogue organisation (``catalogue_ids``) is an overlay: only the command line or an admin key may
        write one. A write key may change only what it added. Every change is recorded with what it
        replaced; a refused row refuses the whole batch (ChangeRefusedError)."""
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        if not orgs:
            return added, updated, unchanged
        with self.session.begin() as s:
            now = _now()
            for org in orgs:
                row = s.get(OrganisationRow, org["id"])
                overlay = org["id"] in catalogue_ids
                if overlay and not actor.may_change_the_catalogue:
                    raise ChangeRefusedError(
                        f"{org['id']!r} is a catalogue organisation: only an admin key or the command line may "
                        "change it (the change is kept as an overlay that can be reverted)"
                    )
                if row is not None and actor.scope == "write" and row.created_by_key != actor.key_id:
                    raise ChangeRefusedError(f"{org['id']!r} was added by someone else: this key may not change it")
                before = _row_dict(row) if row is not None else None
                if row is None:
                    row = OrganisationRow(id=org["id"], created_at=now, created_by_key=actor.key_id)
                    s.add(row)
                    added.append(org["id"])
                elif all(_same_value(getattr(row, f), org.get(f)) for f in ORG_FIELDS if f != "id"):
                    unchanged.append(org["id"])
                    continue
                else:
                    updated.append(org["id"])
                for f in ORG_FIELDS:
                    if f != "id":
                        setattr(row, f, org.get(f))
                row.updated_at = now
                action = "overlaid" if overlay else ("added" if before is None else "updated")
                s.add(ChangeRow(org_id=org["id"], action=action, actor=actor.name, at=now,
                                before=_json(before), after=_json(_row_dict(row))))
        return added, updated, unchanged

    def revert_organisation(self, org_id: str, actor: Actor, catalogue_ids: frozenset[str]) -> dict:
        """Remove the overlay on a catalogue organisation (the catalogue row shows again); the removed row."""
        if not actor.may_change_the_catalogue:
            raise ChangeRefusedError("only an admin key or the command line may revert a catalogue change")
        if org_id not in catalogue_ids:
            raise ChangeRefusedError(f"{org_id!r} is not a catalogue organisation: there is no overlay to revert")
        with self.session.begin() as s:
            row = s.get(OrganisationRow, org_id)
            if row is None:
                raise ChangeRefusedError(f"{org_id!r} has no overlay: it is as the catalogue has it")
            before = _row_dict(row)
            s.delete(row)
            s.add(ChangeRow(org_id=org_id, action="reverted", actor=actor.name, at=_now(),
                            before=_json(before), after=None))
            return before

    def changes(self, org_id: str | None = None) -> list[dict]:
        """The audit trail, oldest first (of one organisation when ``org_id`` is given)."""
        with self.session() as s:
            query = select(ChangeRow).order_by(ChangeRow.id)
            if org_id is not None:
                query = query.where(ChangeRow.org_id == org_id)
            return [
                {"id": r.id, "org_id": r.org_id, "action": r.action, "actor": r.actor, "at": _aware(r.at),
                 "before": json.loads(r.before) if r.before else None,
                 "after": json.loads(r.after) if r.after else None}
                for r in s.scalars(query).all()
            ]

    def organisation_versions(self) -> dict[str, datetime]:
        """Every stored organisation's id and last change: a poller diffs two of these to find what changed,
        whatever order concurrent transactions committed in."""
        with self.session() as s:
            rows = s.execute(select(OrganisationRow.id, OrganisationRow.updated_at)).all()
            return {oid: _aware(when) for oid, when in rows}

    def organisations_by_id(self, ids: list[str]) -> list[dict]:
        with self.session() as s:
            rows = s.scalars(select(OrganisationRow).where(OrganisationRow.id.in_(ids)).order_by(OrganisationRow.id))
            return [{f: getattr(r, f) for f in ORG_FIELDS} for r in rows.all()]

    def upsert_organisation(
        self, org: dict, actor: Actor = CLI_ACTOR, catalogue_ids: frozenset[str] = frozenset()
    ) -> bool:
        """Insert or replace one validated organisation (see ``merge_organisations``); True if it was new."""
        added, _, _ = self.merge_organisations([org], actor, catalogue_ids)
        return bool(added)

    # -- feedback -----------------------------------------------------------------------------------
    def add_feedback(
        self,
        *,
        query_org_id: str | None,
        query_text_sha256: str | None,
        candidate_org_id: str,
        verdict: str,
        comment: str | None,
        model_version: str | None,
        api_key_id: int | None,
    ) -> tuple[int, datetime]:
        with self.session.begin() as s:
            row = FeedbackRow(
                query_org_id=query_org_id,
                query_text_sha256=query_text_sha256,
                candidate_org_id=candidate_org_id,
                verdict=verdict,
                comment=comment,
                model_version=model_version,
                api_key_id=api_key_id,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return row.id, row.created_at

    def feedback(self) -> list[dict]:
        """Every feedback record, oldest first (the input of retraining)."""
        with self.session() as s:
            rows = s.scalars(select(FeedbackRow).order_by(FeedbackRow.id)).all()
            cols = [c.name for c in FeedbackRow.__table__.columns]
            return [{c: getattr(r, c) for c in cols} for r in rows]

    # -- API keys -----------------------------------------------------------------------------------
    def create_key(self, scope: str, name: str | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is not stored and cannot be shown again."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        secret = new_secret()
        with self.session.begin() as s:
            row = ApiKeyRow(
                key_sha256=hash_secret(secret),
                prefix=secret[: len(KEY_PREFIX) + 6],
                scope=scope,
                name=name,
                revoked=False,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _key(row), secret

    def find_key(self, secret: str) -> ApiKey | None:
        """The key of ``secret``. Every API request reads it, so through SQLAlchemy Core on a pooled connection:
        an ORM session cost some four times as much (about 1.2 ms a request in a server)."""
        keys = ApiKeyRow.__table__
        with self.engine.connect() as connection:
            row = connection.execute(select(keys).where(keys.c.key_sha256 == hash_secret(secret))).first()
        return _key(row) if row is not None else None

    def keys(self) -> list[ApiKey]:
        with self.session() as s:
            return [_key(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)).all()]

    def revoke_key(self, key_id: int) -> bool:
        with self.session.begin() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                return False
            row.revoked = True
            return True

    def count(self, table: str) -> int:
        model = {"organisations": OrganisationRow, "feedback": FeedbackRow, "keys": ApiKeyRow}[table]
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)


def store_exists(database_url: str) -> bool:
    """False only for an embedded SQLite file not created yet (nothing was ever stored); servers: True."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).exists()


def open_store(
    database_url: str, legacy_organisations: Path | None = None, busy_seconds: float = SQLITE_BUSY_SECONDS
) -> Store:
    """The store at ``database_url``; organisations left in a Parquet file by an older version
    (``legacy_organisations``) are moved into it first, so nothing added before is lost."""
    store = Store(database_url, busy_seconds)
    if legacy_organisations is not None and legacy_organisations.exists():
        import pandas as pd

        frame = pd.read_parquet(legacy_organisations)
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        store.merge_organisations([{f: row.get(f) for f in ORG_FIELDS} for row in rows])
        legacy_organisations.replace(legacy_organisations.with_name(legacy_organisations.name + ".imported"))
    return store


def _unavailable(context) -> None:
    """Database errors that say "not now" (locked, unreachable, read-only, cannot open) become
    StoreUnavailableError, which the adapters turn into 503 with Retry-After and exit code 2."""
    if isinstance(context.sqlalchemy_exception, OperationalError):
        reason = str(getattr(context, "original_exception", "") or "database error").splitlines()[0]
        raise StoreUnavailableError(f"the database is unavailable: {reason}") from None


def _row_dict(row: OrganisationRow) -> dict:
    return {f: getattr(row, f) for f in ORG_FIELDS}


def _json(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _same_value(stored: object, new: object) -> bool:
    return (stored is None and new is None) or stored == new


def _aware(when: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _key(row: Any) -> ApiKey:  # an ApiKeyRow, or a Core row of its table
    return ApiKey(row.id, row.scope, row.name, row.prefix, bool(row.revoked), row.created_at)

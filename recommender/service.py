"""Corridor, the application: the one object through which every adapter (the HTTP API, the command line and
the web pages) serves its users.

It owns the mutable state of a running Corridor: the store of what users add (organisations, API keys,
feedback), the served snapshot (ranking index + model + the caches valid for exactly that pair) and the
swaps that replace it. Requests read one immutable :class:`Serving`; writes and model reloads build a new one
under a lock and swap the reference, so a request never sees half an update and a refused model never
replaces a working one. The heavy parts are built on first use (``keys list`` loads no index); a server
builds them before it accepts requests (:meth:`Corridor.start`).

Every method takes and returns plain values; failures are the core's exceptions (recommender/errors.py),
which the adapters turn into HTTP status codes and exit codes.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import pandas as pd

from recommender.artifacts import MANIFEST, ModelIntegrityError, read_verified_manifest
from recommender.errors import (
    CorridorError,
    ForbiddenError,
    InvalidOrganisationError,
    NotReadyError,
    OrganisationExistsError,
    StoreUnavailableError,
    UnauthorizedError,
)
from recommender.profiles.taxonomy import Taxonomy
from recommender.ranking.compiled_trees import prune_cache
from recommender.ranking.incremental import description_texts, with_organisations
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.pairings import OrganisationSearch
from recommender.ranking.rankers import LearnedRanker, fill_query_caches
from recommender.ranking.service import Recommendation, Recommender
from recommender.ranking.threads import single_openmp_thread
from recommender.rules import RuleBook
from recommender.store import CLI_ACTOR, Actor, ApiKey, Store
from recommender.views import model_info, organisation_record, text_sha256

if TYPE_CHECKING:
    from recommender.profiles.tagger import PriorityTagger

log = logging.getLogger("corridor")

EncodeFn = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]
T = TypeVar("T")
MAX_PAIRINGS = 100  # pairings are computed (and cached) this deep; a request takes the first k


class ModelUnavailableError(ModelIntegrityError):
    """No model is loaded (none found, or every candidate was refused)."""


class ModelRefusedError(ModelIntegrityError):
    """A reload found a model that fails its checks; the model named in ``serving_version`` still serves."""

    def __init__(self, message: str, serving_version: str) -> None:
        super().__init__(f"model refused, still serving {serving_version}: {message}")
        self.serving_version = serving_version


@dataclass(frozen=True)
class ModelSource:
    """Where serving loads the ranking model from, and what the model must match."""

    directory: Path
    expectations: Callable[[], dict]  # what the model must match (encoder, taxonomy, tagger), read at each load
    compiled_dir: Path | None = None  # the cache of heads compiled to native code (ranking/compiled_trees.py)

    def manifest_sha(self) -> str | None:
        try:
            return hashlib.sha256((self.readable_directory() / MANIFEST).read_bytes()).hexdigest()
        except OSError:
            return None

    def readable_directory(self) -> Path:
        """The model directory; or, where a promotion was killed between its two renames, the previous
        version it left beside it (a reader never moves files: the next writer finishes the recovery)."""
        if not self.directory.exists():
            previous = self.directory.with_name(f".{self.directory.name}.old")
            if previous.is_dir():
                return previous
        return self.directory

    def load(self) -> tuple[LearnedRanker, dict, str | None]:
        """(ranker, manifest, manifest sha) after the integrity checks; ModelIntegrityError otherwise."""
        sha = self.manifest_sha()
        expect = self.expectations()
        directory = self.readable_directory()
        manifest = read_verified_manifest(directory, expect={"kind": LearnedRanker.name, **expect})
        ranker = LearnedRanker.load(directory, expect=expect)
        if self.compiled_dir is not None:
            ranker.compile_heads(self.compiled_dir, build=False)
            ranker.prepare_explainers(self.compiled_dir, build=False)
        if self.manifest_sha() != sha:  # replaced while loading: let the next check load the new one
            sha = None
        return ranker, manifest, sha


REHEARSAL_RECORD = {  # warms the addition path (Corridor._rehearse_addition); never stored or served
    "id": "corridor-rehearsal", "name": "Rehearsal organisation", "country": "KR", "activity_type": "PRC",
    "description": "Maker of small unmanned aerial systems and radar sensors for maritime surveillance.",
}


def settle_long_lived_objects() -> None:
    """Take the objects alive now (a warmed snapshot: some 575,000 on the shipped data) out of the cyclic
    garbage collector's reach: a full collection walks every one of them, about 280 ms with the interpreter
    lock held, and under load the collector starts one now and then, in the middle of requests. Garbage left
    by an earlier snapshot is collected first (once per warming); the frozen objects are still freed by
    reference counting when nothing holds them."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class WorldSource(Protocol):
    """Where a Corridor's served world comes from: cheap lookups first, the heavy build on demand."""

    def taxonomy(self) -> Taxonomy:
        """The technology priorities (read without building anything else)."""

    def catalogue_ids(self) -> frozenset[str]:
        """Ids of the shipped catalogue's organisations."""

    def rulebook(self) -> RuleBook:
        """The funding instruments' rules."""

    def load(self, added: list[dict]) -> World:
        """The world served, with the organisations users added (``added``) overlaid on the catalogue."""

    def world_key(self) -> str:
        """What the world is built from that can change on disk under a running server (the catalogue
        version, the tagger): a cheap read. A new key means :meth:`reloaded` gives a different world."""

    def reloaded(self) -> WorldSource:
        """A source that reads everything afresh (the encoder's loaded model is kept)."""

    def model_expectations(self) -> dict:
        """What a ranking model must match to be served over this world (encoder, taxonomy, tagger)."""


@dataclass(frozen=True)
class World:
    """What serving is built from: the ranking index over every year (with the store's organisations),
    the encoder of new organisation texts, the catalogue as shipped and the priority tagger (loaded when first
    asked for: only profiles and free texts need it)."""

    index: RankingIndex
    describe: EncodeFn
    shipped_organisations: pd.DataFrame
    tagger_loader: Callable[[], PriorityTagger | None] = lambda: None


@dataclass
class Serving:
    """What a request reads: one consistent index + model pair, with caches valid for exactly this pair."""

    index: RankingIndex
    recommender: Recommender | None
    manifest: dict
    manifest_sha: str | None
    loaded_at: datetime
    search: OrganisationSearch
    tagger_loader: Callable[[], PriorityTagger | None] = lambda: None
    pairings: dict = field(default_factory=dict)
    pairings_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tagger(self) -> PriorityTagger | None:
        return self.tagger_loader()

    @property
    def model_version(self) -> str | None:
        return self.manifest.get("model_version") if self.recommender is not None else None

    def with_index(self, index: RankingIndex, changed: np.ndarray) -> Serving:
        """The same model over another index, this one's with the rows ``changed`` changed or appended (fresh
        caches)."""
        recommender = Recommender(index, self.recommender.ranker) if self.recommender is not None else None
        return Serving(index, recommender, self.manifest, self.manifest_sha, self.loaded_at,
                       self.search.with_index(index, changed), self.tagger_loader)

    def with_model(self, ranker: LearnedRanker, manifest: dict, sha: str | None) -> Serving:
        """Another model over the same index (fresh caches)."""
        return Serving(self.index, Recommender(self.index, ranker), manifest, sha, _now(), self.search,
                       self.tagger_loader)


@dataclass(frozen=True)
class ReloadResult:
    reloaded: bool
    model_version: str | None
    previous_version: str | None
    message: str


@dataclass(frozen=True)
class PreparedHeads:
    """The served model's ranking heads after :meth:`Corridor.prepare_heads`: how many serve margins from
    native code and explanations from TreeSHAP tables (the rest from LightGBM), and where they are cached."""

    model_version: str | None
    heads: int
    compiled: int
    tabled: int
    cache_dir: Path | None


@dataclass(frozen=True)
class Ranked:
    """Ranked partners for one query, with what the default filters left out and the model that ranked."""

    query: Query
    k: int
    results: list[Recommendation]
    left_out: dict[str, int]
    model_version: str | None

    def echo(self) -> dict:
        """The query as answered (a free text only by its hash, which feedback refers to)."""
        q = self.query
        who = {"text_sha256": text_sha256(q.text)} if q.text is not None else {"org_id": q.org_id}
        return {**who, "region": q.region, "instrument": q.instrument, "priority": q.priority, "k": self.k,
                "keep_ineligible": q.keep_ineligible, "include_known": q.include_known, "kind": q.kind}

    def to_dict(self) -> dict:
        return {"query": self.echo(), "model_version": self.model_version,
                "results": [r.to_dict() for r in self.results], "left_out": self.left_out}


@dataclass(frozen=True)
class Reverted:
    """A removed overlay, and the organisation's profile as now served (None where nothing is served: a command
    line revert leaves the index to the servers, which pick the revert up at their next poll)."""

    removed: dict
    profile: dict | None


@dataclass(frozen=True)
class Written:
    """An organisation after a write: its profile, and whether the write created it."""

    profile: dict
    created: bool


class Corridor:
    """The application. Thread-safe: reads take :attr:`serving` once; writes and swaps hold :attr:`lock`."""

    def __init__(self, store: Store, source: WorldSource, model: ModelSource | None) -> None:
        self.store = store
        self.source = source
        self.model = model
        self.lock = threading.RLock()
        self._serving: Serving | None = None
        self._model_tried = False
        self.describe: EncodeFn | None = None
        self.shipped_organisations = pd.DataFrame()
        self.store_versions: dict = {}
        self.refused_sha: str | None = None
        self.last_error: str | None = None
        self.warms_caches = False  # set by start(): a server fills its caches after each model load
        self.world_key: str | None = None  # what the served world was built from (catalogue version, tagger)
        self._refused_world: str | None = None

    @property
    def catalogue_ids(self) -> frozenset[str]:
        """Ids of the shipped catalogue's organisations: a user row with one of them is an overlay."""
        return self.source.catalogue_ids()

    # -- building and swapping the served snapshot --------------------------------------------------------
    @property
    def serving(self) -> Serving:
        """The snapshot requests read now (built on first use)."""
        serving = self._serving
        if serving is None:
            with self.lock:
                if self._serving is None:
                    self._build()
                serving = self._serving
        assert serving is not None
        return serving

    def _build(self) -> None:
        self._serving = self._new_serving()

    def _new_serving(self) -> Serving:
        """A snapshot of the source's world (no model yet); records what it was built from."""
        start = time.perf_counter()
        key = self.source.world_key()
        versions = self.store.organisation_versions()
        added = self.store.organisations()
        world = self.source.load(added)
        self.describe = world.describe
        # The catalogue as shipped (no user rows): what a reverted overlay goes back to.
        self.shipped_organisations = world.shipped_organisations.set_index("id", drop=False)
        self.store_versions = dict(versions)
        self.world_key = key
        index = world.index
        log.info("index ready: %d organisations (%d added by users) in %.1f s; %s",
                 len(index.ids), len(added), time.perf_counter() - start, key)
        return Serving(index, None, {}, None, _now(), OrganisationSearch(index), world.tagger_loader)

    def _follow_source(self) -> None:
        """Point the model source's expectations at the current world source."""
        if isinstance(self.model, ModelSource):
            self.model = replace(self.model, expectations=self.source.model_expectations)

    def poll_world(self) -> bool:
        """Serve a new world when what it is built from changed on disk (a refreshed catalogue version, a
        retrained tagger bundled with a promoted model): build it beside the served one, load the promoted
        model over it, then swap both at once. If the model does not fit the new world, the served snapshot
        stays and the refusal is logged (once per change). Whether a new world is served."""
        key = self.source.world_key()
        if key == self.world_key or key == self._refused_world:
            return False
        with self.lock:
            previous_source, previous = self.source, self.serving
            kept = (self.describe, self.shipped_organisations, self.store_versions, self.world_key)
            self.source = self.source.reloaded()
            self._follow_source()
            try:
                fresh = self._new_serving()
                if self.model is not None:
                    ranker, manifest, sha = self.model.load()
                    fresh = fresh.with_model(ranker, manifest, sha)
            except (CorridorError, ModelIntegrityError) as exc:
                self.source, self._serving = previous_source, previous
                self.describe, self.shipped_organisations, self.store_versions, self.world_key = kept
                self._follow_source()
                self._refused_world = key
                log.error("new world (%s) not served, the current one stays: %s", key, exc)
                return False
            self._serving = fresh
            self.refused_sha, self.last_error = None, None
            log.info("now serving %s with model %s", key, fresh.model_version)
        self.warm_in_background()
        return True

    def start(self, warm_caches: bool = True) -> Corridor:
        """Build everything a server needs before its first request: the index (from its serving snapshot) and
        the promoted model (a refused model is logged; the server then reports not ready). With
        ``warm_caches``, :meth:`warm` runs in the background now and after every model load, loading the query
        encoder's model first (a free-text query that comes before it waits for it); without, the encoder's
        model loads here."""
        self.warms_caches = warm_caches
        if not warm_caches:
            self._load_query_encoder()
        self._try_model()
        self.warm_in_background()
        return self

    def _load_query_encoder(self) -> None:
        encode = self.serving.index.encode_texts
        if encode is not None:
            encode(["warm-up query: drone swarm autonomy"])  # loads the encoder's model now, not on a request

    def warm_in_background(self) -> threading.Thread | None:
        """:meth:`warm` in a daemon thread (a server is ready before the caches are full), if this Corridor
        warms its caches."""
        if not self.warms_caches:
            return None
        thread = threading.Thread(target=self.warm, name="corridor-warm", daemon=True)
        thread.start()
        return thread

    def warm(self) -> None:
        """Load the query encoder's model, build the semantic search's half-precision scan and compile the
        ranking heads to native code (or load them compiled before), then fill the caches of the served
        snapshot that queries and pages read first: the candidate generators' orders, every organisation's
        query-independent feature columns, its eligibility under every instrument, and the partnership map of
        every priority (with a model). Errors are logged."""
        serving = self.serving
        try:
            self._load_query_encoder()
            serving.index.vector_search.prepare()
            self._prepare_heads(serving.recommender.ranker if serving.recommender is not None else None)
            fill_query_caches(serving.index)
            for instrument in self.source.rulebook().instrument_ids:
                serving.index.eligibility(instrument)
            if serving.recommender is not None:
                for priority in self.source.taxonomy().ids:
                    if self.serving is not serving:
                        return  # swapped meanwhile: the new snapshot warms itself
                    self.pairings(priority)
            if self.serving is serving:
                self._rehearse_addition(serving)
                settle_long_lived_objects()
        except Exception:  # noqa: BLE001 - a cache that stays cold is computed on first use instead
            log.exception("warming the caches failed; they fill on first use")

    def _rehearse_addition(self, serving: Serving) -> None:
        """Run what a live addition computes (encoding, the grown index, the new organisation's profile) on a
        record that is never stored or served, so the first real addition does not pay for first reads: the
        catalogue's ids, the kinds' patterns, the tagger's vocabulary (on the shipped data the first addition
        took about 490 ms and the next ones about 225 ms)."""
        from recommender.profiles.views import organisation_profile

        if self.describe is None:
            return
        record = self._validated(REHEARSAL_RECORD)
        vectors, scores = self.describe(description_texts([record]))
        index = with_organisations(serving.index, [record], vectors, scores)
        organisation_profile(index.catalogue, index.profiles, record["id"], tagger=serving.tagger)
        self.source.catalogue_ids()

    def _prepare_heads(self, ranker: object) -> None:
        """Serve the ranking heads from native code: loaded when compiled before on this host, else compiled
        now (one to two seconds a head: worth it for a server or a batch job, not for one query); and explain
        them from per-leaf TreeSHAP tables, saved beside them for the next process. The cache keeps the files
        of the models used most recently."""
        if not isinstance(ranker, LearnedRanker):
            return
        cache_dir = self.model.compiled_dir if self.model is not None else None
        missing_compiled = len(ranker.compiled_) < len(ranker.head_models_)
        missing_explainers = len(ranker.explainers_) < len(ranker.head_models_)
        if missing_compiled and cache_dir is not None:
            ranker.compile_heads(cache_dir, build=True)
        if missing_explainers:
            ranker.prepare_explainers(cache_dir, build=True)
        if (missing_compiled or missing_explainers) and cache_dir is not None:
            prune_cache(cache_dir)

    def prepare_heads(self) -> PreparedHeads:
        """Load the promoted model (the served index is not needed, and not loaded) and prepare its ranking
        heads as a server's warming does (compiled to native code, TreeSHAP tables), saved in the model's cache
        so that the next command or server reads them back. ModelIntegrityError when there is no model to load."""
        if self.model is None:
            raise ModelUnavailableError("no ranking model is configured")
        ranker, manifest, _ = self.model.load()
        self._prepare_heads(ranker)
        return PreparedHeads(manifest.get("model_version"), len(ranker.head_models_), len(ranker.compiled_),
                             len(ranker.explainers_), self.model.compiled_dir)

    def _try_model(self) -> None:
        self._model_tried = True
        try:
            self.load_model()
        except ModelIntegrityError:
            pass

    def recommender(self) -> Recommender:
        """The served model over the served index (loaded on first use); ModelUnavailableError without one."""
        return self._recommender()[1]

    def _recommender(self) -> tuple[Serving, Recommender]:
        serving = self.serving
        if serving.recommender is None and not self._model_tried:
            with self.lock:
                if not self._model_tried:
                    self._try_model()
            serving = self.serving
        if serving.recommender is None:
            reason = f" ({self.last_error})" if self.last_error else ""
            raise ModelUnavailableError(f"no ranking model is loaded{reason}; train one with `corridor train`")
        single_openmp_thread()
        return serving, serving.recommender

    def load_model(self) -> ReloadResult:
        """Load the model from its source; on refusal keep the current one, log why and raise."""
        with self.lock:
            current = self.serving
            previous = current.model_version
            if self.model is None:
                return ReloadResult(False, previous, previous, "no model directory configured")
            sha = self.model.manifest_sha()
            try:
                ranker, manifest, sha = self.model.load()
            except ModelIntegrityError as exc:
                self.refused_sha = sha
                self.last_error = str(exc)
                if current.recommender is not None:
                    log.error("model refused, still serving %s: %s", previous, exc)
                else:
                    log.error("model refused, no model is being served: %s", exc)
                raise
            self._model_tried = True
            self.refused_sha = None
            self.last_error = None
            self._serving = current.with_model(ranker, manifest, sha)
            version = manifest.get("model_version")
            log.info("model %s loaded (previous: %s)", version, previous)
            return ReloadResult(True, version, previous, f"model {version} loaded")

    def reload_model(self) -> ReloadResult:
        """:meth:`load_model` for an operator: a refused model while another serves is a ModelRefusedError."""
        try:
            result = self.load_model()
            self.warm_in_background()
            return result
        except ModelIntegrityError as exc:
            serving = self.serving.model_version
            if serving is None:
                raise
            raise ModelRefusedError(str(exc), serving) from None

    def model_changed(self) -> bool:
        """Whether the model directory holds a manifest that is neither served nor already refused."""
        if self.model is None:
            return False
        sha = self.model.manifest_sha()
        return sha is not None and sha != self.serving.manifest_sha and sha != self.refused_sha

    def poll_model(self) -> None:
        """Load a newly promoted model if there is one; refusals are logged once."""
        if self.model_changed():
            try:
                self.load_model()
                self.warm_in_background()
            except ModelIntegrityError:
                pass

    def poll_organisations(self) -> int:
        """Bring organisations added, changed or reverted in the store since the last look (by the command
        line or another server process) into the index; the number brought in."""
        serving = self.serving
        versions = self.store.organisation_versions()
        changed = [oid for oid, when in versions.items() if self.store_versions.get(oid) != when]
        reverted = [oid for oid in self.store_versions if oid not in versions and oid in self.catalogue_ids]
        if not changed and not reverted:
            return 0
        known = serving.index.catalogue.organisations.set_index("id")
        candidates = self.store.organisations_by_id(changed) + [self._shipped_row(oid) for oid in reverted]
        rows = [row for row in candidates if not _indexed_as(known, row)]
        if rows:  # rows this process wrote itself are already in the index
            self._swap_in(rows)
            log.info("brought %d organisations added or changed in the store into the index", len(rows))
        self.store_versions = versions
        return len(rows)

    def _shipped_row(self, org_id: str) -> dict:
        row = self.shipped_organisations.loc[org_id]
        return {k: (None if v is None or bool(pd.isna(v)) else v) for k, v in row.items()}

    def _swap_in(self, rows: list[dict], store_write: Callable[[], T] | None = None) -> T | None:
        """Embed ``rows``, build the new index, run ``store_write`` (the database write), then swap: a failure
        at any step leaves both the database and the served state as they were."""
        with self.lock:
            current = self.serving
            assert self.describe is not None
            vectors, scores = self.describe(description_texts(rows))
            index = with_organisations(current.index, rows, vectors, scores)
            result = store_write() if store_write is not None else None
            self._serving = current.with_index(index, np.array([index.row_of[str(r["id"])] for r in rows]))
            return result

    # -- health and access ------------------------------------------------------------------------------
    def readiness(self) -> dict:
        """What a load balancer asks: a model is loaded and the database answers; NotReadyError otherwise."""
        serving = self.serving
        if serving.recommender is None:
            raise NotReadyError("no ranking model is loaded", self.last_error)
        try:
            self.store.ping()
        except StoreUnavailableError as exc:
            raise NotReadyError("the database is unavailable", str(exc)) from None
        return {"status": "ready", "model_version": serving.model_version, "organisations": len(serving.index.ids),
                "loaded_at": serving.loaded_at, "database": self.store.backend}

    def authenticate(self, secret: str | None, scope: str) -> ApiKey:
        """The API key of ``secret`` if it allows ``scope``."""
        if not secret:
            raise UnauthorizedError("missing API key: send it in the X-API-Key header")
        key = self.store.find_key(secret)
        if key is None or key.revoked:
            raise UnauthorizedError("unknown or revoked API key")
        if not key.allows(scope):
            raise ForbiddenError(key.scope, scope)
        return key

    def active_key(self, key_id: int, scope: str) -> ApiKey:
        """The key ``key_id`` (a web session names it) if it is still active and allows ``scope``."""
        key = next((k for k in self.store.keys() if k.id == key_id), None)
        if key is None or key.revoked:
            raise UnauthorizedError("the key of this session was revoked: sign in again")
        if not key.allows(scope):
            raise ForbiddenError(key.scope, scope)
        return key

    def create_key(self, scope: str, name: str | None = None) -> tuple[ApiKey, str]:
        return self.store.create_key(scope, name)

    def keys(self) -> list[ApiKey]:
        return self.store.keys()

    def revoke_key(self, key_id: int) -> bool:
        return self.store.revoke_key(key_id)

    # -- reading ---------------------------------------------------------------------------------------
    def priority_id(self, name: str | None) -> str | None:
        """The id of a priority named by id, label or synonym in any case ('Drones', 'UAV'); None stays None.
        An unknown name raises UnknownPriorityError naming the closest priorities."""
        return None if name is None else self.source.taxonomy().resolve(name)

    def search(self, text: str | None = None, country: str | None = None, region: str | None = None,
               activity_type: str | None = None, priority: str | None = None, limit: int = 20,
               offset: int = 0, kind: str | None = None, edf_experience: bool = False) -> dict:
        """Named organisations by text, country, region, activity type, kind, priority and EDF experience; one
        page of them."""
        priority = self.priority_id(priority)
        serving = self.serving
        found = serving.search.search(text, country, region, activity_type, priority, limit, offset, kind,
                                      edf_experience)
        index = serving.index
        history = index.history
        assert history is not None
        edf = history.participations[:, history.family_index("edf")]
        items = [
            {
                **organisation_record(index, int(row)),
                "has_profile": bool(index.has_profile[row]),
                "kind": str(index.kinds[row]),
                "edf_participations": int(edf[row]),
                "priority_score": None if found.priority_scores is None else round(float(found.priority_scores[i]), 4),
            }
            for i, row in enumerate(found.rows)
        ]
        return {"total": found.total, "limit": limit, "offset": offset, "items": items}

    def profile(self, org_id: str, top: int = 5) -> dict:
        """An organisation's capability profile: record, priorities with evidence, characteristic projects."""
        from recommender.profiles.views import organisation_profile

        serving = self.serving
        return organisation_profile(serving.index.catalogue, serving.index.profiles, org_id, top=top,
                                    tagger=serving.tagger)

    def organisation_page(self, org_id: str) -> dict:
        """An organisation for a person: profile, defence track record, known partners and eligibility under
        every instrument."""
        from recommender.organisation_page import eligibility_by_instrument, known_partners, track_record

        index = self.serving.index
        profile = self.profile(org_id)
        row = index.row(org_id)
        return {**profile, "track_record": track_record(index, row), "known_partners": known_partners(index, row),
                "eligibility": eligibility_by_instrument(index, row)}

    def partners_page(self, org_id: str, priority: str | None, instrument: str | None, region: str,
                      kind: str | None, include_known: bool, k: int) -> dict:
        """Ranked new partners of ``org_id`` for a person: the organisation, and its partners with ineligible
        ones kept and flagged (a person decides), at most MAX_PAIRINGS."""
        query = Query(org_id=org_id, region=region, instrument=instrument, priority=priority, kind=kind,
                      include_known=include_known, keep_ineligible=instrument is not None)
        ranked = self._with_badges(self.recommend(query, max(1, min(k, MAX_PAIRINGS))).to_dict())
        return {**ranked, "organisation": self.profile(org_id, top=0)["organisation"]}

    def _with_badges(self, ranked: dict) -> dict:
        """``ranked`` with each result's verdict under every instrument, for a person to see at a glance."""
        from recommender.organisation_page import eligibility_badges

        badges = eligibility_badges(self.serving.index, [r["org_id"] for r in ranked["results"]])
        return {**ranked, "results": [{**r, "badges": badges.get(r["org_id"], [])} for r in ranked["results"]]}

    def shortlist(self, ids: list[str], instrument: str | None = None) -> dict:
        """The shortlisted organisations (unknown ids reported, not dropped) and, with an instrument, the rules
        engine's verdict on them as a consortium (the first coordinates)."""
        from recommender.eligibility import consortium_of
        from recommender.views import organisation_record

        index = self.serving.index
        members = [organisation_record(index, index.row_of[i]) for i in ids if i in index.row_of]
        unknown = [i for i in ids if i not in index.row_of]
        verdict = None
        if instrument and members:
            verdict = self.check_consortium(consortium_of(instrument, [m["id"] for m in members]))
        return {"members": members, "unknown": unknown, "instrument": instrument, "verdict": verdict}

    def shortlist_csv(self, ids: list[str]) -> str:
        """The shortlist as spreadsheet-safe CSV: id, name, country, region, activity type, SME, city."""
        import pandas as pd

        from recommender.csvout import csv_text

        columns = ["id", "name", "short_name", "country", "region", "activity_type", "sme", "city"]
        members = self.shortlist(ids)["members"]
        return csv_text(pd.DataFrame([{c: m.get(c) for c in columns} for m in members], columns=columns))

    def match_page(self, text: str, region: str, priority: str | None, instrument: str | None, k: int) -> dict:
        """Ranked partners for a pasted call or project text, ineligible ones kept and flagged."""
        query = Query(text=text, region=region, priority=priority, instrument=instrument,
                      keep_ineligible=instrument is not None)
        return self._with_badges(self.recommend(query, max(1, min(k, MAX_PAIRINGS))).to_dict())

    def map_page(self, priority: str, instrument: str | None = None, kind: str | None = None,
                 country: str | None = None, sort: str = "score") -> dict:
        """The partnership map of a priority for a person: the top pairings (filtered by European country and
        sorted by ``sort``: score, korean, european or country) and a heatmap of the best score per Korean
        organisation and European country."""
        from recommender.ranking.pairings import pairing_heatmap, sorted_pairings

        mapped = self.pairings(priority, instrument, MAX_PAIRINGS, kind=kind)
        pairs = [p for p in mapped["pairings"] if not country or p["european"]["country"] == country.upper()]
        return {**mapped, "pairings": sorted_pairings(pairs, sort), "country": country, "sort": sort,
                "heatmap": pairing_heatmap(mapped["pairings"])}

    def page_options(self) -> dict:
        """The choices a page offers: (priority id, label) pairs and instrument ids."""
        priorities = [(p.id, p.label) for p in self.source.taxonomy().priorities]
        return {"priorities": priorities, "instruments": self.source.rulebook().instrument_ids}

    def recommend(self, query: Query, k: int = 10) -> Ranked:
        """Ranked partners for an organisation or a free text, with explanations and eligibility."""
        query = replace(query, priority=self.priority_id(query.priority))
        serving, recommender = self._recommender()
        return Ranked(query, k, recommender.recommend(query, k), recommender.left_out(query), serving.model_version)

    def pairings(self, priority: str, instrument: str | None = None, k: int = 20, include_known: bool = False,
                 kind: str | None = None) -> dict:
        """The best European-Korean pairs for a priority, cached per snapshot and request shape."""
        from recommender.ranking.pairings import top_pairings

        priority_id = self.source.taxonomy().resolve(priority)
        serving, recommender = self._recommender()
        key = (priority_id, instrument, include_known, kind)
        with serving.pairings_lock:
            cached = key in serving.pairings
            if not cached:
                serving.pairings[key] = [
                    p.to_dict() for p in top_pairings(recommender, priority_id, instrument, MAX_PAIRINGS,
                                                      include_known=include_known, kind=kind)
                ]
        return {"priority": priority_id, "instrument": instrument, "k": k, "model_version": serving.model_version,
                "cached": cached, "include_known": include_known, "kind": kind,
                "pairings": serving.pairings[key][:k]}

    def propose_consortium(self, lead: str, instrument: str, size: int = 4, priority: str | None = None,
                           region: str = "ANY", pool: int = 60) -> dict:
        """A consortium around ``lead`` that meets the instrument's rules, with the rules engine's verdict."""
        from recommender.ranking.consortium import propose_consortium

        priority_id = self.priority_id(priority)
        serving, recommender = self._recommender()
        proposal = propose_consortium(recommender, self.source.rulebook(), lead, instrument, size, priority_id,
                                      region, pool)
        return {**proposal.to_dict(), "model_version": serving.model_version}

    def check_consortium(self, consortium: dict) -> dict:
        """The rules engine's verdict on a consortium; members given by id alone are completed from the
        catalogue (country, name, control country, activity type, SME)."""
        from recommender.ranking.consortium import complete_members, needs_completion
        from recommender.rules import evaluate_consortium

        if needs_completion(consortium):
            consortium = complete_members(self.serving.index, consortium)
        return evaluate_consortium(self.source.rulebook(), consortium).to_dict()

    def instruments(self) -> dict:
        from recommender.rules.views import instruments_view

        return instruments_view(self.source.rulebook())

    def instrument(self, instrument_id: str) -> dict:
        from recommender.rules.views import instrument_view

        return instrument_view(self.source.rulebook(), instrument_id)

    def model_info(self) -> dict:
        serving, _ = self._recommender()
        return {**model_info(serving.manifest), "loaded_at": serving.loaded_at}

    def changes(self, org_id: str | None = None) -> list[dict]:
        """The audit trail of one organisation (unknown ids raise UnknownOrganisationError), or of all."""
        changes = self.store.changes(org_id)
        if org_id is not None and not changes:
            self.serving.index.row(org_id)
        return changes

    # -- writing ---------------------------------------------------------------------------------------
    def _validated(self, record: dict) -> dict:
        from recommender.catalogue.useradd import validate_row

        org, error = validate_row(record, 1, frozenset(self.serving.index.profiles.taxonomy.ids))
        if error is not None:
            raise InvalidOrganisationError(list(error.problems))
        assert org is not None
        return org

    def add_organisation(self, record: dict, actor: Actor = CLI_ACTOR) -> dict:
        """Validate, embed and store a new organisation; rankable at once. Its profile."""
        org = self._validated(record)
        with self.lock:
            if org["id"] in self.serving.index.row_of or self.store.has_organisation(org["id"]):
                raise OrganisationExistsError(org["id"])
            self._write(org, actor)
        return self.profile(org["id"])

    def put_organisation(self, org_id: str, record: dict, actor: Actor = CLI_ACTOR) -> Written:
        """Add or replace the whole record of ``org_id``; a catalogue organisation gets a revertible overlay
        (admin or command line only), and a write key may change only what it added."""
        if record.get("id") is not None and record["id"] != org_id:
            raise InvalidOrganisationError([("id", f"body id {record['id']!r} differs from the path's {org_id!r}")])
        org = self._validated({**record, "id": org_id})
        with self.lock:
            existed = org_id in self.serving.index.row_of
            self._write(org, actor)
        return Written(self.profile(org_id), created=not existed)

    def _write(self, org: dict, actor: Actor) -> None:
        self._swap_in([org], lambda: self.store.upsert_organisation(org, actor, self.catalogue_ids))

    def revert_organisation(self, org_id: str, actor: Actor = CLI_ACTOR) -> Reverted:
        """Remove the overlay stored over a catalogue organisation; where an index is served, serve the
        catalogue's record again at once."""
        def write() -> dict:
            return self.store.revert_organisation(org_id, actor, self.catalogue_ids)

        if self._serving is None:
            return Reverted(write(), None)
        if org_id not in self.catalogue_ids:  # not an overlay: the store names the refusal
            return Reverted(write(), self.profile(org_id))
        removed = self._swap_in([self._shipped_row(org_id)], write)
        assert removed is not None
        return Reverted(removed, self.profile(org_id))

    def add_organisations_file(self, path: Path, actor: Actor = CLI_ACTOR):
        """Validate a CSV or JSON file of organisations and store its valid rows in one transaction; the
        report names every rejected row. A running server picks them up at its next poll."""
        from recommender.catalogue.useradd import add_organisations

        return add_organisations(path, self.store, frozenset(self.source.taxonomy().ids), self.catalogue_ids)

    def rank_file(self, queries: Path, k: int, out: Path, engine=None, progress=None):
        """Rank every query of a CSV file into ``out`` (.csv or .parquet); rejected rows are reported."""
        from recommender.batch.progress import NULL_PROGRESS
        from recommender.batch.queries import check_rank_request, rank_query_file_on

        check_rank_request(k, out)
        _, recommender = self._recommender()
        self._prepare_heads(recommender.ranker)
        return rank_query_file_on(recommender, queries, k, out, engine, progress or NULL_PROGRESS)

    def pairing_report(self, request, out_dir: Path, orgs: Path | None = None, engine=None, progress=None):
        """Score every Korean x European pairing of ``request`` (a ReportRequest) and write the report's tables
        and HTML into ``out_dir``: (report, files written, rejected rows of ``orgs``)."""
        from recommender.batch.progress import NULL_PROGRESS
        from recommender.batch.report import build_report, read_org_ids, write_report

        progress = progress or NULL_PROGRESS
        request = replace(request, priority=self.priority_id(request.priority))
        _, recommender = self._recommender()
        self._prepare_heads(recommender.ranker)
        rejected: list = []
        if orgs is not None:
            ids, rejected = read_org_ids(orgs, recommender.index)
            request = replace(request, org_ids=tuple(ids))
        report = build_report(recommender, request, engine, progress, rejected)
        return report, write_report(report, out_dir, progress), rejected

    def record_feedback(self, candidate_org_id: str, verdict: str, key: ApiKey, query_org_id: str | None = None,
                        query_text: str | None = None, query_text_sha256: str | None = None,
                        model_version: str | None = None, comment: str | None = None) -> dict:
        """Store a user's verdict on a recommendation (the query as an organisation id or a text's hash only)."""
        serving = self.serving
        if query_org_id is not None:
            serving.index.row(query_org_id)
        serving.index.row(candidate_org_id)
        record: dict[str, str | None] = {
            "query_org_id": query_org_id,
            "query_text_sha256": text_sha256(query_text) if query_text is not None else query_text_sha256,
            "candidate_org_id": candidate_org_id,
            "verdict": verdict,
            "model_version": model_version or serving.model_version,
        }
        feedback_id, created = self.store.add_feedback(
            query_org_id=query_org_id, query_text_sha256=record["query_text_sha256"],
            candidate_org_id=candidate_org_id, verdict=verdict, model_version=record["model_version"],
            comment=comment, api_key_id=key.id,
        )
        return {"id": feedback_id, "created_at": created, **record}

    def feedback_records(self) -> list[dict]:
        return self.store.feedback()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Corridor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _indexed_as(known: pd.DataFrame, row: dict) -> bool:
    """Whether the index already holds ``row`` exactly (same id, same values; missing equals missing)."""
    if row["id"] not in known.index:
        return False
    current = known.loc[row["id"]]
    for column, value in row.items():
        if column == "id":
            continue
        have = current[column]
        missing_value, missing_have = value is None or bool(pd.isna(value)), bool(pd.isna(have))
        if missing_value or missing_have:
            if missing_value != missing_have:
                return False
        elif have != value:
            return False
    return True


def _now() -> datetime:
    return datetime.now(UTC)


class WorkspaceSource:
    """The served world of a workspace on disk: the shipped catalogue, taxonomy, encoder, tagger and rules."""

    def __init__(self, workspace) -> None:
        self.workspace = workspace

    def taxonomy(self) -> Taxonomy:
        return self.workspace.taxonomy

    def catalogue_ids(self) -> frozenset[str]:
        return self.workspace.shipped_catalogue_ids

    def rulebook(self) -> RuleBook:
        return self.workspace.rulebook

    def world_key(self) -> str:
        from recommender.profiles.tagger_store import TAGGER_FILE, tagger_directory

        paths = self.workspace.paths
        version = self.workspace.catalogue_versions.current_name() if paths.catalogue_versions_dir else "shipped"
        try:
            manifest = json.loads((tagger_directory(paths.tagger_dir, paths.model_dir) / MANIFEST).read_text())
            tagger = str((manifest.get("files") or {}).get(TAGGER_FILE))
        except (OSError, ValueError):
            tagger = "none"
        return f"catalogue {version}; tagger {tagger[:16]}"

    def reloaded(self) -> WorkspaceSource:
        from recommender.workspace import Workspace

        return WorkspaceSource(Workspace(self.workspace.paths, encoder_override=self.workspace.encoder))

    def model_expectations(self) -> dict:
        return self.workspace.model_expectations()

    def load(self, added: list[dict]) -> World:
        from recommender.catalogue.store import with_user_organisations
        from recommender.profiles.query_encoder import QueryTextEncoder

        ws = self.workspace
        ws.catalogue = with_user_organisations(ws.shipped_catalogue, added)
        index = ws.serving_index(added, QueryTextEncoder(ws))
        return World(index, ws.encode_texts, ws.shipped_catalogue.organisations, lambda: ws.tagger)


def open_corridor(settings, busy_seconds: float | None = None) -> Corridor:
    """The Corridor of ``settings`` (a recommender.settings.Settings): its workspace, its database (waiting at
    most ``busy_seconds`` for another writer) and its promoted model. Nothing heavy loads until used."""
    from recommender.store import open_store
    from recommender.workspace import Workspace

    ws = Workspace(settings.workspace_paths())
    store = open_store(settings.database_url, settings.user_organisations_file,
                       settings.database_busy_seconds if busy_seconds is None else busy_seconds)
    source = WorkspaceSource(ws)
    return Corridor(store, source, ModelSource(settings.model_dir, source.model_expectations,
                                               settings.compiled_trees_dir))

"""The live service state: the ranking index, the loaded model and the swaps that replace them.

Requests read one immutable :class:`Serving` snapshot (index + recommender + model manifest + caches);
writes (a new organisation) and model reloads build a new snapshot under a lock and swap the reference,
so a request never sees half an update and a refused model never replaces a working one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.artifacts import MANIFEST, ModelIntegrityError, read_verified_manifest
from recommender.profiles.priorities import PriorityTagger
from recommender.ranking.incremental import description_texts, with_organisations
from recommender.ranking.index import RankingIndex
from recommender.ranking.pairings import OrganisationSearch
from recommender.ranking.rankers import LearnedRanker
from recommender.ranking.service import Recommender

log = logging.getLogger("corridor.api")

EncodeFn = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


class ModelUnavailableError(ModelIntegrityError):
    """No model is loaded (none found at start-up, or every candidate was refused)."""


@dataclass(frozen=True)
class ModelSource:
    """Where serving loads the ranking model from, and what the model must match."""

    directory: Path
    expect: dict

    def manifest_sha(self) -> str | None:
        path = self.directory / MANIFEST
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None

    def load(self) -> tuple[LearnedRanker, dict, str | None]:
        """(ranker, manifest, manifest sha) after the integrity checks; ModelIntegrityError otherwise."""
        sha = self.manifest_sha()
        manifest = read_verified_manifest(self.directory, expect={"kind": LearnedRanker.name, **self.expect})
        ranker = LearnedRanker.load(self.directory, expect=self.expect)
        if self.manifest_sha() != sha:  # replaced while loading: let the next check load the new one
            sha = None
        return ranker, manifest, sha


@dataclass
class Serving:
    """What a request reads: one consistent index + model pair, with caches valid for exactly this pair."""

    index: RankingIndex
    recommender: Recommender | None
    manifest: dict
    manifest_sha: str | None
    loaded_at: datetime
    search: OrganisationSearch
    pairings: dict = field(default_factory=dict)
    pairings_lock: threading.Lock = field(default_factory=threading.Lock)
    tagger: PriorityTagger | None = None  # the priority tagger, for the learned-term evidence of profiles

    @property
    def model_version(self) -> str | None:
        return self.manifest.get("model_version") if self.recommender is not None else None

    def require_recommender(self) -> Recommender:
        if self.recommender is None:
            raise ModelUnavailableError("no ranking model is loaded; train one with `corridor train`")
        single_openmp_thread()
        return self.recommender


@dataclass(frozen=True)
class ReloadResult:
    reloaded: bool
    model_version: str | None
    previous_version: str | None
    message: str


class ServiceState:
    """The index, the model and the write path. Thread-safe: reads take ``serving`` once per request."""

    def __init__(
        self,
        index: RankingIndex,
        describe: EncodeFn,
        model: ModelSource | None,
        priority_ids: frozenset[str] | None = None,
        ranker: LearnedRanker | None = None,
        manifest: dict | None = None,
        tagger: PriorityTagger | None = None,
        shipped_organisations: pd.DataFrame | None = None,
    ) -> None:
        self.describe = describe
        self.model = model
        self.store_versions: dict = {}
        # The catalogue as shipped (no user rows): what a reverted overlay goes back to.
        self.shipped_organisations = (
            shipped_organisations if shipped_organisations is not None else index.catalogue.organisations
        ).set_index("id", drop=False)
        self.catalogue_ids = frozenset(self.shipped_organisations["id"])
        self.priority_ids = priority_ids or frozenset(index.profiles.taxonomy.ids)
        self.lock = threading.RLock()
        self.refused_sha: str | None = None
        self.last_error: str | None = None
        recommender = Recommender(index, ranker) if ranker is not None else None
        self.serving = Serving(
            index, recommender, manifest or {}, None, _now(), OrganisationSearch(index), tagger=tagger
        )

    # -- model lifecycle ----------------------------------------------------------------------------
    def load_model(self) -> ReloadResult:
        """Load the model from its source; on refusal keep the current one and log why."""
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
            self.refused_sha = None
            self.last_error = None
            self.serving = Serving(
                current.index, Recommender(current.index, ranker), manifest, sha, _now(), current.search,
                tagger=current.tagger,
            )
            version = manifest.get("model_version")
            log.info("model %s loaded from %s (previous: %s)", version, self.model.directory, previous)
            return ReloadResult(True, version, previous, f"model {version} loaded")

    def model_changed(self) -> bool:
        """Whether the model directory holds a manifest that is neither served nor already refused."""
        if self.model is None:
            return False
        sha = self.model.manifest_sha()
        return sha is not None and sha != self.serving.manifest_sha and sha != self.refused_sha

    def poll_model(self) -> None:
        """Load a newly promoted model if there is one (called periodically); refusals are logged once."""
        if self.model_changed():
            try:
                self.load_model()
            except ModelIntegrityError:
                pass

    # -- organisations added elsewhere (the CLI, another server process) -----------------------------
    def remember_store_versions(self, versions: dict) -> None:
        """The store's organisations as this snapshot has them: what ``poll_organisations`` diffs against."""
        self.store_versions = dict(versions)

    def poll_organisations(self, store) -> int:
        """Bring organisations added or changed in the store since the last look into the index (embedded
        like API additions); the number brought in."""
        versions = store.organisation_versions()
        changed = [oid for oid, when in versions.items() if self.store_versions.get(oid) != when]
        reverted = [oid for oid in self.store_versions if oid not in versions and oid in self.catalogue_ids]
        if not changed and not reverted:
            return 0
        known = self.serving.index.catalogue.organisations.set_index("id")
        candidates = store.organisations_by_id(changed) + [self.shipped_row(oid) for oid in reverted]
        rows = [row for row in candidates if not _indexed_as(known, row)]
        if rows:  # rows this process wrote itself are already in the index
            self.upsert_organisations(rows)
            log.info("brought %d organisations added or changed in the store into the index", len(rows))
        self.store_versions = versions
        return len(rows)

    def shipped_row(self, org_id: str) -> dict:
        """The catalogue's own record of ``org_id`` (missing values as None)."""
        row = self.shipped_organisations.loc[org_id]
        return {k: (None if v is None or bool(pd.isna(v)) else v) for k, v in row.items()}

    # -- writes -------------------------------------------------------------------------------------
    def revert_organisation(self, org_id: str, store_write: Callable[[], object]) -> object:
        """Run ``store_write`` (removing the overlay) and serve the catalogue's own record of ``org_id`` again."""
        return self.upsert_organisations([self.shipped_row(org_id)], store_write) if org_id in self.catalogue_ids \
            else store_write()

    def upsert_organisations(self, rows: list[dict], store_write: Callable[[], object] | None = None) -> object:
        """Embed ``rows``, build the new index, run ``store_write`` (the database write), then swap.

        The index is built first so a failure leaves both the database and the served state unchanged.
        """
        with self.lock:
            current = self.serving
            vectors, scores = self.describe(description_texts(rows))
            index = with_organisations(current.index, rows, vectors, scores)
            result = store_write() if store_write is not None else None
            recommender = Recommender(index, current.recommender.ranker) if current.recommender is not None else None
            self.serving = Serving(
                index, recommender, current.manifest, current.manifest_sha, current.loaded_at,
                OrganisationSearch(index), tagger=current.tagger,
            )
            return result


class QueryTextEncoder:
    """Vectors and priority scores of free-text queries, without writing them to the on-disk vector cache.

    The workspace's encoder persists every new text (right for catalogue texts, wrong for arbitrary API
    queries: the cache would grow with every request); this keeps a bounded in-memory LRU instead.
    """

    def __init__(self, workspace, max_entries: int = 2048) -> None:
        from recommender.profiles.taxonomy import TermMatcher

        self.ws = workspace
        self.matcher = TermMatcher(workspace.taxonomy)
        self.description_vectors = workspace.encoder.encode([p.description for p in workspace.taxonomy.priorities])
        self.max_entries = max_entries
        self.cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()

    def _vectors(self, texts: list[str]) -> np.ndarray:
        encoder = self.ws.encoder
        model = getattr(encoder, "model", None)
        cached = [encoder.cache.get(_key(t)) for t in texts] if hasattr(encoder, "cache") else [None] * len(texts)
        missing = [i for i, v in enumerate(cached) if v is None]
        if missing and model is not None:
            fresh = model.encode(
                [texts[i] for i in missing], show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True
            )
            for i, v in zip(missing, fresh, strict=True):
                cached[i] = v
        elif missing:
            fresh = encoder.encode([texts[i] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                cached[i] = v
        return np.stack(cached).astype(np.float32)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        from recommender.profiles.profiles import score_texts
        from recommender.profiles.text import clip

        clipped = [clip(" ".join(t.split()))[0] for t in texts]
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        with self.lock:
            for t in clipped:
                hit = self.cache.get(t)
                if hit is not None:
                    self.cache.move_to_end(t)
                out.append(hit)
        todo = [i for i, hit in enumerate(out) if hit is None]
        if todo:
            texts_todo = [clipped[i] for i in todo]
            vectors = self._vectors(texts_todo)
            scores = score_texts(texts_todo, vectors, self.description_vectors, self.matcher, self.ws.tagger)
            with self.lock:
                for j, i in enumerate(todo):
                    out[i] = (vectors[j], scores[j])
                    self.cache[clipped[i]] = out[i]
                while len(self.cache) > self.max_entries:
                    self.cache.popitem(last=False)
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


_thread_state = threading.local()
_controller = None


def single_openmp_thread() -> None:
    """Limit OpenMP (scikit-learn's gradient boosting) to one thread in the calling request thread, once.

    Concurrency comes from concurrent requests; nested OpenMP teams per request oversubscribe the cores and,
    on a busy machine, turn a 15 ms ranking into hundreds of milliseconds. The OpenMP setting is per thread,
    so it is applied in each request worker thread the first time it ranks.
    """
    global _controller
    if getattr(_thread_state, "limited", False):
        return
    from threadpoolctl import ThreadpoolController

    if _controller is None:
        _controller = ThreadpoolController()
    _controller.limit(limits=1, user_api="openmp")
    _thread_state.limited = True


def _indexed_as(known, row: dict) -> bool:
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


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def build_state(settings, store) -> ServiceState:
    """The real service state: the workspace of ``settings`` with the database's organisations overlaid,
    its ranking index over all years, and the promoted model (refused models are logged, not fatal)."""
    from recommender.catalogue.store import with_user_organisations
    from recommender.workspace import Workspace

    start = time.perf_counter()
    ws = Workspace(settings.workspace_paths())
    versions = store.organisation_versions()
    added = store.organisations()
    ws.catalogue = with_user_organisations(ws.shipped_catalogue, added)
    index = ws.ranking_index().with_encoder(QueryTextEncoder(ws))
    index.encode_texts(["warm-up query: drone swarm autonomy"])  # loads the encoder model now, not on a request
    state = ServiceState(
        index, ws.encode_texts, ModelSource(settings.model_dir, ws.model_expectations()), tagger=ws.tagger,
        shipped_organisations=ws.shipped_catalogue.organisations,
    )
    state.remember_store_versions(versions)
    log.info(
        "index ready: %d organisations (%d added by users) in %.1f s",
        len(index.ids), len(added), time.perf_counter() - start,
    )
    try:
        state.load_model()
    except ModelIntegrityError:
        pass
    return state

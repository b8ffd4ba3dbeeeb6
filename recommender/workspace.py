"""A Workspace bundles what the adapters need: catalogue, taxonomy, encoder, tagger and profiles.

It receives plain paths and values (the adapters read Settings); heavy parts load lazily and once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.artifacts import ModelIntegrityError
from recommender.catalogue import Catalogue, load_catalogue
from recommender.catalogue.store import with_user_organisations
from recommender.catalogue.versions import CatalogueVersions
from recommender.profiles.encoder import Encoder
from recommender.profiles.profiles import Profiles, TextEncoder, build_profiles, score_texts
from recommender.profiles.tagger_store import load_tagger, tagger_directory, verify_tagger
from recommender.profiles.taxonomy import Taxonomy, TermMatcher, load_taxonomy
from recommender.ranking.index import TextEncoderFn

if TYPE_CHECKING:
    from recommender.profiles.tagger import PriorityTagger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkspacePaths:
    catalogue_dir: Path
    database_url: str | None  # the store of user organisations (recommender/store.py); None: catalogue only
    taxonomy_file: Path
    tagger_dir: Path
    cache_dir: Path | None
    shipped_vectors_dir: Path | None
    encoder_model: str | None = None
    batch_size: int = 64
    rules_file: Path | None = None
    model_dir: Path | None = None
    legacy_user_file: Path | None = None  # user organisations an older version kept in Parquet (moved in)
    catalogue_versions_dir: Path | None = None  # refreshed catalogue versions; None: the shipped one only
    snapshot_dir: Path | None = None  # serving snapshots (recommender/snapshot.py); None: always build
    encoder_offline: bool = False  # no model hub: a model name that is not a local path is refused at once


@dataclass
class Workspace:
    paths: WorkspacePaths
    encoder_override: TextEncoder | None = None
    tagger_status: str = field(default="not loaded", init=False)
    _tagger_sha: str = field(default="none", init=False, repr=False)

    @cached_property
    def catalogue_versions(self) -> CatalogueVersions:
        root = self.paths.catalogue_versions_dir or self.paths.catalogue_dir.parent / ".no-versions"
        return CatalogueVersions(root, self.paths.catalogue_dir)

    @cached_property
    def catalogue_dir(self) -> Path:
        """The current catalogue: the latest refreshed version, else the one the project ships."""
        if self.paths.catalogue_versions_dir is None:
            return self.paths.catalogue_dir
        return self.catalogue_versions.current_dir()

    @cached_property
    def shipped_catalogue(self) -> Catalogue:
        """The read-only catalogue the users' rows are overlaid on: the current version (see catalogue_dir)."""
        return load_catalogue(self.catalogue_dir)

    @cached_property
    def shipped_catalogue_ids(self) -> frozenset[str]:
        """Ids of the shipped catalogue's organisations: a user row with one of them is an overlay."""
        return frozenset(self.shipped_catalogue.organisations["id"])

    @cached_property
    def catalogue(self) -> Catalogue:
        """The shipped catalogue with the organisations users added (CLI or API) overlaid from the store."""
        catalogue = self.shipped_catalogue
        if not self.paths.database_url:
            return catalogue
        from recommender.store import open_store, store_exists

        if not store_exists(self.paths.database_url) and not (
            self.paths.legacy_user_file is not None and self.paths.legacy_user_file.exists()
        ):
            return catalogue
        store = open_store(self.paths.database_url, self.paths.legacy_user_file)
        try:
            added = store.organisations()
        finally:
            store.close()
        return with_user_organisations(catalogue, added)

    @cached_property
    def taxonomy(self) -> Taxonomy:
        return load_taxonomy(self.paths.taxonomy_file)

    @cached_property
    def encoder(self) -> TextEncoder:
        if self.encoder_override is not None:
            return self.encoder_override
        return Encoder(
            self.paths.encoder_model or None,
            cache_dir=self.paths.cache_dir,
            batch_size=self.paths.batch_size,
            shipped_dir=self.paths.shipped_vectors_dir,
            offline=self.paths.encoder_offline,
        )

    @cached_property
    def verified_tagger_directory(self) -> Path | None:
        """Where the tagger in use lives, once its manifest, hashes, encoder and taxonomy check out (without
        loading it: its fingerprint keys snapshots and models, and serving from a snapshot needs the tagger
        itself only for free texts); None when it is refused (similarity only)."""
        directory = tagger_directory(self.paths.tagger_dir, self.paths.model_dir)
        try:
            self._tagger_sha = verify_tagger(
                directory,
                encoder_fingerprint=self.encoder.fingerprint,
                taxonomy_version=self.taxonomy.version,
                priorities=self.taxonomy.ids,
            )
        except ModelIntegrityError as exc:
            self.tagger_status = f"unavailable ({exc}); priority scores fall back to description similarity"
            log.warning("priority tagger refused: %s", exc)
            return None
        self.tagger_status = f"verified in {directory}"
        return directory

    @cached_property
    def tagger(self) -> PriorityTagger | None:
        """The shipped/trained tagger if it matches this encoder and taxonomy; else None (similarity only)."""
        directory = self.verified_tagger_directory
        if directory is None:
            return None
        try:
            tagger, sha = load_tagger(directory, encoder_fingerprint=self.encoder.fingerprint,
                                      taxonomy_version=self.taxonomy.version, priorities=self.taxonomy.ids)
        except ModelIntegrityError as exc:
            sha, tagger = f"refused ({exc})", None
        if sha != self._tagger_sha:
            self.tagger_status = f"changed on disk since it was verified ({sha}); similarity only until reloaded"
            log.warning("priority tagger in %s changed since it was verified; not used by this world", directory)
            return None
        self.tagger_status = f"loaded from {directory}"
        return tagger

    @cached_property
    def profiles(self) -> Profiles:
        return self.build_profiles()

    def build_profiles(self, until_year: int | None = None, show_progress: bool = False) -> Profiles:
        return build_profiles(
            self.catalogue, self.encoder, self.taxonomy, self.tagger, until_year=until_year, show_progress=show_progress
        )

    def encode_texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and priority scores of free texts (queries), each clipped like a project text."""
        from recommender.profiles.text import clip

        clipped = [clip(" ".join(t.split()))[0] for t in texts]
        vectors = self.encoder.encode(clipped)
        desc = self.encoder.encode([p.description for p in self.taxonomy.priorities])
        return vectors, score_texts(clipped, vectors, desc, TermMatcher(self.taxonomy), self.tagger)

    @cached_property
    def rulebook(self):
        from recommender.rules import load_rulebook

        return load_rulebook(self.paths.rules_file)

    def data_fingerprint(self) -> str:
        """sha256 over the current catalogue's tables (user additions excluded: they may change any time)."""
        import hashlib

        from recommender.artifacts import sha256_file

        digest = hashlib.sha256()
        for name in ("organisations", "projects", "participations"):
            digest.update(sha256_file(self.catalogue_dir / f"{name}.parquet").encode())
        return digest.hexdigest()[:16]

    @cached_property
    def snapshot_inputs(self) -> dict[str, str]:
        """What a serving snapshot of this workspace is derived from (recommender/snapshot.py); fixed for a
        workspace, like its catalogue version and tagger."""
        from recommender.artifacts import sha256_file

        return {
            "catalogue": self.data_fingerprint(),
            "encoder": self.encoder.fingerprint,
            "taxonomy": f"{self.taxonomy.version} {sha256_file(self.paths.taxonomy_file)[:16]}",
            "tagger": self.tagger_fingerprint,
        }

    def serving_index(self, added: list[dict] | None = None, encode_texts: TextEncoderFn | None = None):
        """The index of every year over the current catalogue version, from its serving snapshot (built and
        saved first when there is none), with the users' organisations ``added`` laid over it and
        ``encode_texts`` (default: :meth:`encode_texts`) for free-text queries."""
        from recommender.ranking.incremental import description_texts, with_organisations
        from recommender.snapshot import load_snapshot, save_snapshot, snapshot_key, with_serving_parts

        index = None
        root = self.paths.snapshot_dir
        if root is not None:
            inputs = self.snapshot_inputs
            key = snapshot_key(inputs)
            index = load_snapshot(root, key)
        if index is None:
            index = self._shipped_index()
            if root is not None:
                save_snapshot(index, root, key, inputs)
        index = with_serving_parts(index, encode_texts or self.encode_texts, self.rulebook)
        if added:
            vectors, scores = self.encode_texts(description_texts(added))  # as a live addition gets them
            index = with_organisations(index, added, vectors, scores)
        return index

    def serving_snapshot_folder(self) -> Path | None:
        """The folder of this workspace's serving snapshot, if one is saved."""
        from recommender.snapshot import MANIFEST_FILE, snapshot_key

        if self.paths.snapshot_dir is None:
            return None
        folder = self.paths.snapshot_dir / snapshot_key(self.snapshot_inputs)
        return folder if (folder / MANIFEST_FILE).exists() else None

    def _shipped_index(self):
        from recommender.graph import build_graph
        from recommender.ranking.index import RankingIndex

        catalogue = self.shipped_catalogue
        profiles = build_profiles(catalogue, self.encoder, self.taxonomy, self.tagger)
        return RankingIndex(catalogue, profiles, build_graph(catalogue, None), None, None,
                            priority_thresholds=self.priority_thresholds)

    def ranking_index(self, cutoff: int | None = None):
        from recommender.graph import build_graph
        from recommender.ranking.index import RankingIndex

        profiles = self.profiles if cutoff is None else self.build_profiles(until_year=cutoff)
        return RankingIndex(
            self.catalogue,
            profiles,
            build_graph(self.catalogue, cutoff),
            self.encode_texts,
            self.rulebook,
            priority_thresholds=self.priority_thresholds,
        )

    @property
    def priority_thresholds(self) -> np.ndarray | None:
        """The tagger's per-priority decision thresholds (None without a tagger)."""
        tagger = self.tagger
        return None if tagger is None else np.asarray(tagger.thresholds_, dtype=np.float64)

    @property
    def tagger_fingerprint(self) -> str:
        """Identifies the priority tagger in use ('none' without one), from its verified manifest: ranker
        features use its scores, so a ranker trained with another tagger is refused rather than fed scores
        it never saw."""
        return "none" if self.verified_tagger_directory is None else self._tagger_sha

    def model_expectations(self) -> dict:
        return {
            "encoder_fingerprint": self.encoder.fingerprint,
            "taxonomy_version": self.taxonomy.version,
            "tagger_fingerprint": self.tagger_fingerprint,
        }

    def score_free_texts(self, texts: list[str]) -> np.ndarray:
        """(n, P) priority scores of arbitrary texts (each clipped like a project text)."""
        from recommender.profiles.text import clip

        clipped = [clip(" ".join(t.split()))[0] for t in texts]
        vectors = self.encoder.encode(clipped)
        desc = self.encoder.encode([p.description for p in self.taxonomy.priorities])
        return score_texts(clipped, vectors, desc, TermMatcher(self.taxonomy), self.tagger)

"""The one Settings object: plain, validated values. The core reads no environment; the adapters build the
settings from CORRIDOR_* variables (cli/environment.py) and hand them in."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseModel):
    """Every setting with its default; ``Settings()`` is the shipped configuration."""

    data_dir: Path = PROJECT_ROOT / "data"
    # Writable state: user-added organisations, embedding cache, trained models, feedback.
    state_dir: Path = PROJECT_ROOT / "var"
    # Sentence-transformers model: a local path or a name; empty means the bundled all-MiniLM-L6-v2.
    encoder_model: str = ""
    encoder_batch_size: int = 64
    # No model hub (the adapters set it from HF_HUB_OFFLINE): an encoder model name that is not a local path
    # is refused at once with a clear error.
    hub_offline: bool = False
    # Where `corridor train` promotes models and serving loads them from (default: data/models/ranker).
    ranker_dir: Path | None = None
    # An existing Ray cluster for `--engine ray` (Ray's own RAY_ADDRESS is honoured); empty: a local Ray.
    ray_address: str | None = None
    # HTTP API (api/). SQLAlchemy URL of the database holding API keys, feedback and organisations added
    # through the API; empty means sqlite:///{state_dir}/corridor.db. PostgreSQL works too
    # (postgresql+psycopg://user:password@host/db).
    database_url: str = ""
    # How long a command waits for another writer's transaction before giving up (exit 2).
    database_busy_seconds: float = Field(30.0, gt=0)
    # Origins allowed by CORS, as JSON (CORRIDOR_CORS_ORIGINS='["https://app.example"]'); empty: CORS off.
    cors_origins: list[str] = []
    # Largest accepted request body in bytes (larger: 413).
    max_body_bytes: int = Field(65536, gt=0)
    session_secret: str | None = None  # signs web sign-in cookies; unset: a random one per server start
    session_hours: float = Field(8.0, gt=0)
    # Fill the eligibility and partnership-map caches in the background after start and every model load.
    warm_caches: bool = True
    # Seconds between checks of the model directory for a newly promoted model (0: never poll).
    model_poll_seconds: float = Field(30.0, ge=0)
    # Requests one server process works on at once (the rest wait their turn, first come first served):
    # ranking is CPU-bound, and more threads than cores only share the interpreter and lengthen the tail.
    # Under `corridor serve --workers N`, a worker's default is the cores shared out (api/workers.py).
    request_threads: int = Field(2, ge=1, le=256)

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir / 'corridor.db'}"
        return self

    @property
    def catalogue_dir(self) -> Path:
        return self.data_dir / "catalogue"

    @property
    def catalogue_versions_dir(self) -> Path:
        """Catalogue versions written by `corridor data refresh` (the current one is served)."""
        return self.state_dir / "catalogue"

    @property
    def curated_file(self) -> Path:
        return self.data_dir / "curated" / "defence_organisations.yaml"

    @property
    def taxonomy_file(self) -> Path:
        return self.data_dir / "taxonomy" / "priorities.yaml"

    @property
    def rules_file(self) -> Path:
        return self.data_dir / "rules" / "instruments.yaml"

    @property
    def user_organisations_file(self) -> Path:
        """Where an older version kept user organisations; moved into the database on first use."""
        return self.state_dir / "user_organisations.parquet"

    @property
    def vector_cache_dir(self) -> Path:
        return self.state_dir / "cache" / "vectors"

    @property
    def compiled_trees_dir(self) -> Path:
        """Ranking heads compiled to native code for this host (recommender/ranking/compiled_trees.py)."""
        return self.state_dir / "cache" / "compiled-trees"

    @property
    def shipped_vectors_dir(self) -> Path:
        return self.data_dir / "vectors"

    @property
    def model_dir(self) -> Path:
        """The promoted ranking model that serving loads (CORRIDOR_RANKER_DIR overrides)."""
        return self.ranker_dir or self.data_dir / "models" / "ranker"

    @property
    def tagger_dir(self) -> Path:
        return self.data_dir / "models" / "priority-tagger"

    def workspace_paths(self):
        from recommender.workspace import WorkspacePaths

        return WorkspacePaths(
            catalogue_dir=self.catalogue_dir,
            database_url=self.database_url,
            taxonomy_file=self.taxonomy_file,
            tagger_dir=self.tagger_dir,
            cache_dir=self.vector_cache_dir,
            shipped_vectors_dir=self.shipped_vectors_dir,
            encoder_model=self.encoder_model or None,
            batch_size=self.encoder_batch_size,
            rules_file=self.rules_file,
            model_dir=self.model_dir,
            legacy_user_file=self.user_organisations_file,
            catalogue_versions_dir=self.catalogue_versions_dir,
            snapshot_dir=self.state_dir / "snapshots",
            encoder_offline=self.hub_offline,
        )

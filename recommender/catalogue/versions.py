"""Catalogue versions: each refresh writes a new version beside the old ones, and a pointer names the current.

Layout under the state directory's ``catalogue/``::

    versions/<version>/   organisations, projects, participations (Parquet, attribution in the metadata),
                          manifest.json (parent, created, releases read with their sha256, counts),
                          ATTRIBUTION.md, changes.json and changes.md (the diff against the parent)
    CURRENT               the current version's name; absent: the shipped catalogue (data/catalogue)

A version is written whole into a staging folder and renamed into place; only then is CURRENT replaced
(atomically), so an interrupted refresh leaves the previous version current. Old versions stay for
rollback: ``rollback()`` makes the parent current again (or any named version, or the shipped one).
A version's name is its creation time and the sha256 of its tables, so the same content is never
written twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender.atomic import atomic_write
from recommender.catalogue.build import Catalogue
from recommender.catalogue.store import save_catalogue
from recommender.errors import CatalogueError

SHIPPED = "shipped"


@dataclass(frozen=True)
class CatalogueVersions:
    root: Path  # <state>/catalogue
    shipped_dir: Path  # data/catalogue

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def current_name(self) -> str:
        """The current version's name, or ``shipped``."""
        if not self.pointer.exists():
            return SHIPPED
        name = self.pointer.read_text(encoding="utf-8").strip()
        return name or SHIPPED

    def current_dir(self) -> Path:
        """The directory of the current catalogue (the shipped one when no refresh has been made)."""
        return self.directory(self.current_name())

    def directory(self, name: str) -> Path:
        if name == SHIPPED:
            return self.shipped_dir
        path = self.versions_dir / name
        if not (path / "manifest.json").exists():
            known = ", ".join([SHIPPED, *(v["version"] for v in self.list())])
            raise CatalogueError(f"no catalogue version {name!r}; known: {known}")
        return path

    def manifest(self, name: str) -> dict:
        path = self.directory(name) / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def list(self) -> list[dict]:
        """Every written version's manifest, oldest first, each with ``current`` set."""
        if not self.versions_dir.exists():
            return []
        current = self.current_name()
        out = []
        for path in sorted(self.versions_dir.iterdir()):
            if path.name.startswith(".") or not (path / "manifest.json").exists():
                continue
            manifest = json.loads((path / "manifest.json").read_text())
            out.append({**manifest, "current": manifest.get("version") == current})
        return out

    def commit(self, catalogue: Catalogue, manifest: dict, changes: dict, changes_md: str,
               digest: str | None = None) -> str:
        """Write ``catalogue`` as a new version whose parent is the current one, then make it current.
        ``digest``: its :func:`catalogue_sha256`, when the caller has it already."""
        parent = self.current_name()
        digest = digest or catalogue_sha256(catalogue)
        created = datetime.now(UTC)
        name = f"{created:%Y%m%dT%H%M%SZ}-{digest[:10]}"
        full = {**manifest, "version": name, "parent": parent, "created": created.isoformat(timespec="seconds"),
                "content_sha256": digest}
        target = self.versions_dir / name
        save_catalogue(catalogue, target, full)
        (target / "changes.json").write_text(json.dumps(changes, indent=2, default=str) + "\n")
        (target / "changes.md").write_text(changes_md)
        self._point_at(name)
        return name

    def rollback(self, name: str | None = None) -> str:
        """Make ``name`` current (default: the current version's parent); the name now current."""
        current = self.current_name()
        if name is None:
            if current == SHIPPED:
                raise CatalogueError("the shipped catalogue is current: there is nothing to roll back")
            name = str(self.manifest(current).get("parent") or SHIPPED)
        self.directory(name)  # unknown names raise with the known ones
        self._point_at(name)
        return name

    def _point_at(self, name: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        def write(tmp: Path) -> None:
            tmp.write_text(name + "\n", encoding="utf-8")

        atomic_write(self.pointer, write)


def catalogue_sha256(catalogue: Catalogue) -> str:
    """A digest of the three tables' contents (row order included), independent of the files they sit in."""
    import pandas as pd

    digest = hashlib.sha256()
    for name in ("organisations", "projects", "participations"):
        frame = getattr(catalogue, name)
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(frame.astype("string").fillna("\x00"), index=False).to_numpy()
                      .tobytes())
    return digest.hexdigest()

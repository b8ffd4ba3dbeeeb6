"""Reading and writing the catalogue on disk: Parquet tables, a manifest, atomic replacement.

A catalogue directory holds organisations.parquet, projects.parquet, participations.parquet,
manifest.json and ATTRIBUTION.md. Every Parquet file also carries the attribution in its metadata, so a
table copied out of the directory still says where it came from. User-added organisations live in a
separate single file (see :mod:`recommender.catalogue.useradd`) and are overlaid at load time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recommender.atomic import atomic_write, replaced_directory
from recommender.catalogue.build import Catalogue, conform
from recommender.catalogue.schema import ORGANISATIONS, TABLES
from recommender.errors import CatalogueError

ATTRIBUTION = """\
Corridor catalogue: data sources and licence

Organisation, project and participation data in this directory are derived from:
- CORDIS - EU research projects (Horizon Europe, Horizon 2020, FP7), cordis.europa.eu
- the EU Funding & Tenders portal (European Defence Fund projects and consortia)
(c) European Union, reused under the Commission's reuse policy (Decision 2011/833/EU; CC BY 4.0).
Extracted via public repositories: x3ro/cordis-horizon-projects-xml (Horizon Europe XML, snapshot of
6 Dec 2025), zambujo/eunets (H2020 link table, Dec 2020 snapshot), dataresearchcenter/opensecuritydata-gatsby
(security research; personal contact columns removed), CiubotaruBogdan/EDF-Explorer (EDF consortia).
Changes made by Corridor: country codes normalised to ISO 3166-1 (EL -> GR, UK -> GB), organisations
de-duplicated by PIC across sources, repeated participations merged, columns renamed.

Curated entries (sources include "curated") come from data/curated/defence_organisations.yaml, compiled
by the Corridor team from public knowledge; see that file's review date.
"""


def _write_parquet(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    table = pa.Table.from_pandas(conform(frame, schema), schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({b"attribution": ATTRIBUTION.encode()})
    pq.write_table(table, path, compression="zstd", compression_level=9)


def save_catalogue(catalogue: Catalogue, directory: Path, manifest: dict) -> None:
    """Write the catalogue into ``directory``, replacing any previous one as a whole.

    The new tables are written into a sibling staging directory, which is then swapped in; an exception
    before the swap leaves the previous catalogue as it was.
    """
    with replaced_directory(directory) as staging:
        for name, schema in TABLES.items():
            _write_parquet(getattr(catalogue, name), schema, staging / f"{name}.parquet")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (staging / "ATTRIBUTION.md").write_text(ATTRIBUTION)


def read_table(path: Path, schema: pa.Schema) -> pd.DataFrame:
    """Read one Parquet table and check it has the schema's columns."""
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowInvalid) as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from exc
    missing = [f.name for f in schema if f.name not in frame.columns]
    if missing:
        raise CatalogueError(f"{path}: missing columns {missing}")
    return conform(frame, schema)


def write_table(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    """Atomically write one table with the attribution in its metadata."""
    atomic_write(path, lambda tmp: _write_parquet(frame, schema, tmp))


def overlay_organisations(base: pd.DataFrame, user: pd.DataFrame) -> pd.DataFrame:
    """User rows replace catalogue rows with the same id and add the others."""
    if user.empty:
        return base
    kept = base[~base["id"].isin(user["id"])]
    return pd.concat([kept, user], ignore_index=True)


def with_user_organisations(catalogue: Catalogue, rows: list[dict]) -> Catalogue:
    """``catalogue`` with user organisations (store rows) overlaid: same id replaces, new ids are added."""
    if not rows:
        return catalogue
    frame = conform(pd.DataFrame(rows, columns=list(ORGANISATIONS.names)), ORGANISATIONS)
    organisations = overlay_organisations(catalogue.organisations, frame)
    return Catalogue(organisations, catalogue.projects, catalogue.participations)


def load_catalogue(directory: Path, user_file: Path | None = None) -> Catalogue:
    """Load a catalogue directory, with the organisations of a Parquet ``user_file`` overlaid if it exists."""
    if not (directory / "organisations.parquet").exists():
        raise CatalogueError(
            f"no catalogue in {directory}: run `corridor data build --source DIR` or set CORRIDOR_DATA_DIR"
        )
    tables = {name: read_table(directory / f"{name}.parquet", schema) for name, schema in TABLES.items()}
    if user_file is not None and user_file.exists():
        tables["organisations"] = overlay_organisations(tables["organisations"], read_table(user_file, ORGANISATIONS))
    return Catalogue(**tables)


def read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())

"""Reading user CSV files: UTF-8 (BOM allowed), records with the line number they start on (header = 1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from recommender.errors import InputFileError


def csv_records(path: Path, required: Sequence[str], hint: str = "") -> list[tuple[int, dict]]:
    """(line, record) pairs; an unreadable file or a missing required column raises InputFileError."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path.name}: not UTF-8 (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InputFileError(f"{path.name}: missing column(s) {', '.join(missing)}" + (f" ({hint})" if hint else ""))
    records = []
    line = reader.line_num
    for rec in reader:
        start, line = line + 1, reader.line_num
        records.append((start, rec))
    return records

"""Writing CSV files people open in spreadsheets.

Organisation names and texts come from public registers and from users; a cell such as
``=HYPERLINK(...)`` or ``@SUM(...)`` would run as a formula in Excel or LibreOffice. Every CSV the project
writes goes through :func:`write_csv`, which prefixes text cells that begin with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return with a single quote (the OWASP advice), so they open as text. Numbers are left
as numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with a quote; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a formula."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(escape_cell, na_action="ignore")
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as UTF-8 CSV without the index, every text cell spreadsheet-safe."""
    spreadsheet_safe(frame).to_csv(path, index=False)


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as spreadsheet-safe CSV text (for a download)."""
    return spreadsheet_safe(frame).to_csv(index=False)

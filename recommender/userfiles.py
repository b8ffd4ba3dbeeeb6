"""Reading user files (CSV and JSON) one way, so that every command treats a bad file the same.

A file that cannot be read as a whole (wrong encoding, no header line, a quote that never closes, JSON
nested too deeply) raises one :class:`InputFileError` naming the file and the line; the adapters turn it
into exit code 2 or an HTTP 4xx. A bad row is a :class:`RowError` that lists every problem of the row at
once, so a user fixes a file in one pass, and the valid rows of the same file are kept.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from recommender.errors import InputFileError

FIELD_LIMIT = 131_072  # characters in one CSV field or JSON string of a user row
JSON_DEPTH_LIMIT = 64  # nesting levels of a user JSON document
_CSV_LIMIT_LOCK = threading.Lock()  # csv.field_size_limit is process-wide


@dataclass(frozen=True)
class RowError:
    """One rejected row and every problem found in it, as (field, reason) pairs.

    ``row`` is the CSV line the record starts on (header = line 1) or the 1-based position in a JSON list.
    """

    row: int
    problems: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, row: int, field: str, reason: str) -> RowError:
        return cls(row, ((field, reason),))

    @property
    def fields(self) -> list[str]:
        return [name for name, _ in self.problems]

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason in self.problems]

    def __str__(self) -> str:
        return f"row {self.row}: " + "; ".join(f"{name}: {reason}" for name, reason in self.problems)


def row_errors(row: int, problems: Iterable[tuple[str, str]]) -> list[RowError]:
    """A one-element list with the row's error, or an empty list when the row has no problem."""
    found = tuple(problems)
    return [RowError(row, found)] if found else []


def read_text(path: Path) -> str:
    """The file's text; a missing file or one that is not UTF-8 (BOM allowed) raises InputFileError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    return decode_text(raw, path.name)


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text with or without a BOM; any other encoding is one error for the whole file."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputFileError(f"{name}: file is UTF-32; save it as UTF-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFileError(f"{name}: file is UTF-16; save it as UTF-8")
    head = raw[:4096]
    if b"\x00" in head:
        if head.count(b"\x00") * 3 >= len(head):
            raise InputFileError(f"{name}: file looks like UTF-16 (no BOM); save it as UTF-8")
        raise InputFileError(f"{name}: not a text file (NUL bytes); save it as UTF-8 CSV or JSON")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputFileError(
            f"{name}: not UTF-8 (line {line}, byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from exc


def json_document(path: Path) -> object:
    """The parsed JSON of a user file; bad JSON, a bad encoding or deep nesting raise InputFileError."""
    return parse_json(read_text(path), path.name)


def parse_json(text: str, name: str) -> object:
    """Parsed JSON; invalid JSON, nesting deeper than JSON_DEPTH_LIMIT, numbers too long to convert and
    unpaired surrogate escapes (text that cannot be stored) raise InputFileError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except RecursionError as exc:
        raise InputFileError(f"{name}: JSON nested more than {JSON_DEPTH_LIMIT} levels deep") from exc
    except ValueError as exc:  # an integer over sys.get_int_max_str_digits() digits
        raise InputFileError(
            f"{name}: not valid JSON (a number longer than {sys.get_int_max_str_digits()} digits)"
        ) from exc
    check_json(data, name)
    return data


def check_json(data: object, name: str) -> None:
    """Nesting at most JSON_DEPTH_LIMIT levels and text that is valid Unicode, checked without recursion."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, name)
            continue
        if isinstance(value, dict):
            for key in value:
                _check_text(key, name)
            children: Iterable[object] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth + 1 > JSON_DEPTH_LIMIT:
            raise InputFileError(f"{name}: JSON nested more than {JSON_DEPTH_LIMIT} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _check_text(value: str, name: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputFileError(
            f"{name}: JSON text with an unpaired surrogate escape (\\u{ord(value[exc.start]):04x}); not valid Unicode"
        ) from exc


def csv_records(
    path: Path, required: Sequence[str], expected: Sequence[str] = ()
) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """(line, record) pairs of a CSV file with a header line, and the rows the reader itself rejects.

    ``required`` columns must be in the header; ``expected`` are all the columns a file may have (named in
    the error when the header is missing). Rows with a field over FIELD_LIMIT characters or more values
    than the header has columns are rejected here, naming the field.
    """
    return parse_csv(read_text(path), path.name, required, expected)


def parse_csv(
    text: str, name: str, required: Sequence[str], expected: Sequence[str] = ()
) -> tuple[list[tuple[int, dict]], list[RowError]]:
    columns = list(dict.fromkeys([*required, *expected]))
    wanted = ", ".join(columns)
    with _CSV_LIMIT_LOCK:
        previous = csv.field_size_limit(max(len(text) + 1, FIELD_LIMIT))
        try:
            rows = _csv_rows(text, name)
        finally:
            csv.field_size_limit(previous)
    if not rows:
        raise InputFileError(f"{name}: empty file (no header line; expected columns: {wanted})")
    first, header = rows[0]
    if isinstance(header, str):
        raise InputFileError(f"{name}: line {first}: unreadable header line ({header})")
    header = [h.strip() for h in header]
    named = [h for h in header if h in columns]
    if not set(required) & set(named) and len(named) * 2 < len(header):
        raise InputFileError(
            f"{name}: no header line (line {first} is data, not column names); add a header line with the "
            f"expected columns: {wanted}"
        )
    missing = [c for c in required if c not in header]
    if missing:
        raise InputFileError(f"{name}: missing column(s) {', '.join(missing)} (expected columns: {wanted})")
    records: list[tuple[int, dict]] = []
    rejected: list[RowError] = []
    for start, values in rows[1:]:
        if isinstance(values, str):
            rejected.append(RowError.of(start, "(row)", values))
            continue
        problems = []
        extra = [v for v in values[len(header):] if v.strip()]
        if extra:
            problems.append(("(row)", f"{len(values)} values but the header has {len(header)} columns"))
        record = dict(zip(header, values, strict=False))
        problems += [(k, f"longer than {FIELD_LIMIT:,} characters") for k, v in record.items() if len(v) > FIELD_LIMIT]
        if problems:
            rejected.append(RowError(start, tuple(problems)))
        else:
            records.append((start, record))
    _check_swallowed_records(records, len(header), name)
    return records, rejected


def _csv_rows(text: str, name: str) -> list[tuple[int, list[str] | str]]:
    """(start line, values) per non-blank CSV record, or (start line, message) for a malformed one."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str] | str]] = []
    line = 0
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise InputFileError(
                    f"{name}: line {start}: a quote opens here and is never closed; close it or remove it"
                ) from exc
            line = reader.line_num
            if line > start:
                raise InputFileError(
                    f"{name}: line {start}: a quoted field runs from here to line {line}, where the CSV breaks "
                    f"({exc}); a quote is probably not closed"
                ) from exc
            rows.append((start, f"malformed CSV ({exc}); quote the whole field"))
            continue
        line = reader.line_num
        if values:
            rows.append((start, values))


def _check_swallowed_records(records: list[tuple[int, dict]], width: int, name: str) -> None:
    """A quoted field whose inner lines parse as whole records is a quote closed far too late.

    Files of one or two columns are left alone: there a line of free text looks like a record too often.
    """
    if width < 3:
        return
    for start, record in records:
        for value in record.values():
            if "\n" in value and any(_looks_like_record(line, width) for line in value.split("\n")[1:]):
                raise InputFileError(
                    f"{name}: line {start}: a quoted field runs over several lines that look like records; "
                    "a quote is probably not closed"
                )


def _looks_like_record(line: str, width: int) -> bool:
    if line.count(",") < width - 1:
        return False
    try:
        return len(next(csv.reader([line]), [])) == width
    except csv.Error:
        return False

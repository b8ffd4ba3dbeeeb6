"""The core's own exceptions. Adapters (CLI, API) map them to exit codes and HTTP status codes."""

from __future__ import annotations


class CorridorError(Exception):
    """Base class of every error the core raises on purpose."""


class CatalogueError(CorridorError):
    """The catalogue on disk is missing, unreadable or inconsistent."""


class SourceDataError(CatalogueError):
    """A source file needed to build the catalogue is missing or has an unexpected schema."""


class UnknownOrganisationError(CorridorError, KeyError):
    """An organisation id that the catalogue does not hold."""

    def __init__(self, org_id: str) -> None:
        super().__init__(org_id)
        self.org_id = org_id

    def __str__(self) -> str:
        return f"unknown organisation id: {self.org_id!r}"


class InputFileError(CorridorError):
    """A user-supplied file cannot be read at all (missing, wrong format, bad encoding)."""


class RuleConfigError(CorridorError):
    """The rules YAML is malformed or inconsistent."""


class UnknownInstrumentError(CorridorError, KeyError):
    """An instrument id that the rules file does not define."""

    def __init__(self, instrument: str, known: list[str]) -> None:
        super().__init__(instrument)
        self.instrument = instrument
        self.known = known

    def __str__(self) -> str:
        return f"unknown instrument {self.instrument!r}; known instruments: {', '.join(self.known)}"


class ConsortiumFormatError(CorridorError):
    """A consortium description (JSON) is malformed; the message names the field."""


class StoreUnavailableError(CorridorError):
    """The database of user organisations, keys and feedback cannot be used now (locked, unreachable,
    read-only or not creatable); retrying later may succeed."""

    retry_after_seconds = 5

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


class InvalidOrganisationError(CorridorError):
    """An organisation record with one or more invalid fields; ``problems`` lists (field, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems))
        self.problems = problems


class OrganisationExistsError(CorridorError):
    """Adding an organisation whose id is taken (replacing it is a separate, explicit act)."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id!r} exists; PUT to update it")
        self.org_id = org_id


class NotReadyError(CorridorError):
    """The service cannot answer yet: no ranking model is loaded, or the database is unusable."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class UnauthorizedError(CorridorError):
    """No API key, or one that is unknown or revoked."""


class ForbiddenError(CorridorError):
    """A valid API key whose scope does not allow the action."""

    def __init__(self, key_scope: str, required_scope: str) -> None:
        super().__init__(f"this API key has the {key_scope!r} scope; this route needs {required_scope!r}")
        self.key_scope, self.required_scope = key_scope, required_scope

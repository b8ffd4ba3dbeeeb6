"""Strict reading of a rule's ``params`` mapping: every value typed, every country reference resolved.

Errors name the instrument, the rule and the parameter, so a typo in the YAML is found at load time and
not when a user's consortium happens to reach that rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from recommender.catalogue.countries import is_known_country, normalise_country
from recommender.errors import RuleConfigError
from recommender.rules.model import CONFIDENCE_TAGS, Status, normalise_role

ELIGIBLE_TOKEN = "eligible"
"""In a country list, ``eligible`` stands for the instrument's own ``eligible_countries``."""

_MISSING: Any = object()


def resolve_countries(
    tokens: object,
    where: str,
    sets: Mapping[str, frozenset[str]],
    eligible: tuple[frozenset[str], str] | None = None,
) -> tuple[frozenset[str], str]:
    """Resolve a list of set names and country codes to ISO-2 codes, plus a label for reasons.

    A token is a country set defined earlier in the file, ``eligible`` (the instrument's eligible countries)
    or an ISO code (aliases such as EL are normalised). Anything else is a RuleConfigError. The label
    joins the tokens with " + " (``eligible`` spelled out), for use in reasons.
    """
    if isinstance(tokens, str):
        tokens = [tokens]
    if not isinstance(tokens, list) or not tokens:
        raise RuleConfigError(f"{where}: must be a non-empty list of country sets or codes")
    codes: set[str] = set()
    labels: list[str] = []
    for token in tokens:
        if token is False:
            raise RuleConfigError(f"{where}: false in a country list: quote \"NO\" (YAML reads a bare NO as false)")
        if not isinstance(token, str) or not token.strip():
            raise RuleConfigError(f"{where}: {token!r} is not a country set name or country code")
        name = token.strip()
        if name == ELIGIBLE_TOKEN and eligible is not None:
            codes |= eligible[0]
            name = eligible[1]
        elif name in sets:
            codes |= sets[name]
        else:
            code = normalise_country(name)
            if not is_known_country(code):
                raise RuleConfigError(f"{where}: unknown country set or country code {name!r}")
            assert code is not None
            codes.add(code)
            name = code
        labels.append(name)
    return frozenset(codes), " + ".join(dict.fromkeys(labels))


class ParamReader:
    """Typed access to one params mapping; :meth:`done` rejects keys nobody asked for."""

    def __init__(
        self,
        raw: object,
        where: str,
        sets: Mapping[str, frozenset[str]],
        eligible: frozenset[str],
        eligible_label: str,
        categories: frozenset[str] | None = None,
    ) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise RuleConfigError(f"{where}: must be a mapping")
        self.raw = raw
        self.where = where
        self.sets = sets
        self.eligible = eligible
        self.eligible_label = eligible_label
        self.categories = categories
        self._used: set[str] = set()

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self.raw and self.raw[key] is not None:
            return self.raw[key]
        if default is _MISSING:
            raise RuleConfigError(f"{self.where}: {key} is required")
        return default

    def _error(self, key: str, message: str) -> RuleConfigError:
        return RuleConfigError(f"{self.where}: {key}: {message}")

    def integer(self, key: str, *, minimum: int = 0, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._error(key, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def share(self, key: str, default: Any = _MISSING) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self._error(key, f"must be a number between 0 and 1, got {value!r}")
        if math.isnan(value):
            raise self._error(key, "must not be NaN")
        return float(value)

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self._error(key, f"must be a non-empty string, got {value!r}")
        return " ".join(value.split())

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._error(key, f"must be true or false, got {value!r}")
        return value

    def status(self, key: str, default: Any = _MISSING, allowed: tuple[Status, ...] = tuple(Status)) -> Status:
        value = self._get(key, default)
        if isinstance(value, Status):
            return value
        try:
            status = Status(str(value))
        except ValueError:
            status = None
        if status not in allowed:
            raise self._error(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return status

    def confidence(self, key: str, default: Any = _MISSING) -> str | None:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if value not in CONFIDENCE_TAGS:
            raise self._error(key, f"confidence must be one of T, S, M, got {value!r}")
        return value

    def countries(self, key: str, default: Any = _MISSING) -> tuple[frozenset[str], str] | None:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        return resolve_countries(value, f"{self.where}: {key}", self.sets, (self.eligible, self.eligible_label))

    def _string_list(self, key: str, default: Any, what: str) -> list[str] | Any:
        """A string or list of non-empty strings (the default passes through untouched)."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._error(key, f"must be a list of {what}, got {value!r}")
        return value

    def strings(self, key: str, default: Any = _MISSING) -> frozenset[str] | None:
        value = self._string_list(key, default, "strings")
        if value is default and default is not _MISSING:
            return value
        return frozenset(v.strip() for v in value)

    def roles(self, key: str, default: Any = _MISSING) -> frozenset[str] | None:
        value = self._string_list(key, default, "role names")
        if value is default and default is not _MISSING:
            return value
        return frozenset(normalise_role(v) for v in value)  # type: ignore[misc]

    def nested(self, key: str, default: Any = _MISSING) -> ParamReader | None:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        return self._child(value, f"{self.where}: {key}")

    def nested_list(self, key: str) -> list[ParamReader]:
        value = self._get(key, [])
        if not isinstance(value, list):
            raise self._error(key, "must be a list of mappings")
        return [self._child(v, f"{self.where}: {key}[{i}]") for i, v in enumerate(value)]

    def product_categories(self, key: str, default: Any = _MISSING) -> frozenset[str] | None:
        """Product category ids, each declared in the file's ``product_categories``."""
        value = self.strings(key, default)
        if value is None or self.categories is None:
            return value
        unknown = sorted(value - self.categories)
        if unknown:
            raise self._error(key, f"unknown product categor(y/ies) {', '.join(unknown)} (see product_categories)")
        return value

    def _child(self, raw: object, where: str) -> ParamReader:
        return ParamReader(raw, where, self.sets, self.eligible, self.eligible_label, self.categories)

    def citation_override(self) -> tuple[str | None, str | None]:
        """An optional (citation, confidence) pair for a sub-provision; both or neither."""
        citation = self.text("citation", None)
        confidence = self.confidence("confidence", None)
        if (citation is None) != (confidence is None):
            raise RuleConfigError(f"{self.where}: citation and confidence must be given together")
        return citation, confidence

    def done(self) -> None:
        unknown = sorted(set(map(str, self.raw)) - self._used)
        if unknown:
            raise RuleConfigError(f"{self.where}: unknown parameter(s) {', '.join(unknown)}")

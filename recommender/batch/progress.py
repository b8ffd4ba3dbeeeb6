"""How the batch core reports progress without knowing who is watching (rich bars in the CLI, nothing in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]


class ProgressSink(Protocol):
    """A long step: ``with sink.step("scoring pairs", total=n) as advance: ... advance(k)``."""

    def step(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]: ...


class NullProgress:
    """Reports nothing: the default of every core function."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        def ignore(n: int = 1) -> None:
            pass

        yield ignore


NULL_PROGRESS = NullProgress()

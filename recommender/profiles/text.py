"""Profile texts: what gets embedded for a project or call, and for an organisation's own description.

Long texts and the 256-token encoder limit. all-MiniLM-L6-v2 reads at most 256 word pieces and drops the
rest without a word. We never let that happen silently:

- A project or call is embedded from its title, topic title and objective, cut by us at a sentence
  boundary within WORD_BUDGET words (about 230 word pieces for English technical prose), so what the
  encoder reads is exactly what we chose: the title and the opening of the objective, where CORDIS
  objectives state the aim. ``clip`` reports whether it cut, and the profile keeps that flag.
- An organisation is never embedded as one long concatenation. Its profile vector pools the vectors of
  its own description and of each of its projects (see :mod:`recommender.profiles.profiles`): an
  organisation with 60 projects keeps all 60 in its profile instead of the first 256 tokens of them.
"""

from __future__ import annotations

import re
from typing import Any, cast

WORD_BUDGET = 170
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def clean(text: object) -> str:
    """Collapse whitespace; missing values become the empty string."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    try:
        import pandas as pd

        if pd.isna(cast(Any, text)):
            return ""
    except (TypeError, ValueError):
        pass
    return " ".join(str(text).split())


def clip(text: str, budget: int = WORD_BUDGET) -> tuple[str, bool]:
    """Cut ``text`` to at most ``budget`` words, at the last sentence end that fits; say whether it cut."""
    words = text.split()
    if len(words) <= budget:
        return text, False
    head = " ".join(words[:budget])
    sentences = _SENTENCE_END.split(head)
    if len(sentences) > 1:
        kept = " ".join(sentences[:-1])
        if len(kept.split()) >= budget // 2:
            return kept, True
    return head, True


def project_text(title: object, topic_title: object, objective: object) -> tuple[str, bool]:
    """The embedded text of a project or call: title, topic title, objective; clipped explicitly."""
    parts = [clean(title), clean(topic_title), clean(objective)]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    joined = ". ".join(p.rstrip(".") for p in seen[:-1]) + (". " if len(seen) > 1 else "") + (seen[-1] if seen else "")
    return clip(joined)


def description_text(name: object, description: object) -> tuple[str, bool]:
    """The embedded text of an organisation's own capability description (curated or user-given)."""
    desc = clean(description)
    return clip(desc) if desc else ("", False)

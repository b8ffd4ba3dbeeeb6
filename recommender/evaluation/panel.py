"""The relevance panel: what a defence business developer sees at the top of a partnership map.

Recall on a held-out year says whether pairs that later formed were found; it does not say whether the top
of a report is plausible to the person reading it. The panel reads the top pairings of a report for a
priority the way a user would and counts four things, each with a target:

- funding bodies among the pairs (agencies, ministries, research councils: not co-development partners);
- pairs where both sides show the priority in their own texts: a curated term of the priority (taxonomy
  ``terms``) in the organisation's own description or project texts. This is deliberately not the tagger
  score the ranker filters on, so the check can fail;
- distinct Korean organisations (a map, not one organisation's list);
- the share of Korean organisations whose top 3 holds the single most frequent European partner (one hub
  handed to everybody is not a recommendation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import pandas as pd

from recommender.profiles.taxonomy import TermMatcher
from recommender.ranking.index import RankingIndex

TARGETS = {
    "funding_bodies": ("<=", 0),
    "both_show_priority_share": (">=", 0.60),
    "distinct_korean": (">=", 10),
    "hub_in_top3_share": ("<=", 0.25),
}


@dataclass(frozen=True)
class PanelResult:
    priority: str
    pairs: int
    funding_bodies: int
    public_bodies: int
    both_show_priority: int
    both_show_priority_share: float
    distinct_korean: int
    distinct_european: int
    hub: str
    hub_in_top3: int
    korean_with_top3: int
    hub_in_top3_share: float

    def to_dict(self) -> dict:
        return asdict(self)

    def meets(self) -> dict[str, bool]:
        """Whether each target is met."""
        out = {}
        for name, (op, target) in TARGETS.items():
            value = getattr(self, name)
            out[name] = value <= target if op == "<=" else value >= target
        return out


def own_terms(index: RankingIndex, matcher: TermMatcher, row: int, priority_col: int) -> list[str]:
    """The priority's curated terms found in the organisation's own description and project texts."""
    prof = index.profiles
    weights = prof.org_weights
    cols = weights.indices[weights.indptr[row] : weights.indptr[row + 1]]
    texts = [prof.org_description_texts.get(str(index.ids[row]), "")] + [prof.project_texts[c] for c in cols]
    found: list[str] = []
    for text in texts:
        if text:
            for term in matcher.find(text)[priority_col]:
                if term not in found:
                    found.append(term)
    return found


def relevance_panel(
    index: RankingIndex, priority: str, pairings: pd.DataFrame, korean: pd.DataFrame, top: int = 50
) -> PanelResult:
    """The panel over the ``top`` best rows of a report's ``pairings`` (kr_id, eu_id) and its ``korean``
    table (best_partner_ids: ';'-separated European ids, best first) for ``priority``."""
    p = index.priority_index(priority)
    priority = index.profiles.taxonomy.ids[p]
    matcher = TermMatcher(index.profiles.taxonomy)
    head = pairings.head(top)
    funding = public = both = 0
    for kr_id, eu_id in zip(head["kr_id"], head["eu_id"], strict=True):
        kr, eu = index.row(kr_id), index.row(eu_id)
        funding += int(index.funding_body[kr] or index.funding_body[eu])
        public += int(index.kinds[kr] in ("public", "funding") or index.kinds[eu] in ("public", "funding"))
        both += int(bool(own_terms(index, matcher, kr, p)) and bool(own_terms(index, matcher, eu, p)))
    lists = [str(v).split(";")[:3] for v in korean["best_partner_ids"].fillna("") if str(v)]
    counts = Counter(e for partners in lists for e in partners if e)
    hub, _ = counts.most_common(1)[0] if counts else ("", 0)
    with_hub = sum(hub in partners for partners in lists) if hub else 0
    n = len(head)
    return PanelResult(
        priority=priority,
        pairs=n,
        funding_bodies=funding,
        public_bodies=public,
        both_show_priority=both,
        both_show_priority_share=both / n if n else 0.0,
        distinct_korean=int(head["kr_id"].nunique()),
        distinct_european=int(head["eu_id"].nunique()),
        hub=hub,
        hub_in_top3=with_hub,
        korean_with_top3=len(lists),
        hub_in_top3_share=with_hub / len(lists) if lists else 0.0,
    )

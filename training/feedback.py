"""Feedback as training signal: the policy that turns users' verdicts (POST /v1/feedback) into labelled pairs.

The policy, as the README states it:

1. **What counts.** A verdict on an organisation's partner list (``query_org_id``) whose query and candidate
   are both in the catalogue. Verdicts on free-text matches cannot be replayed (only the text's hash is
   stored) and are reported as not usable; so are verdicts naming unknown organisations.
2. **Which way.** ``accepted`` and ``contacted`` make the pair a positive (grade 1, as a collaboration that
   formed through a coordination action); ``declined`` and ``irrelevant`` make it an explicit negative, kept
   in its group however the negatives are sampled.
3. **One voice per key.** A key's latest verdict on a pair replaces its earlier ones. Verdicts stored
   without a key (imported by an operator) count as one voice, ``operator``.
4. **Abuse bound.** A key contributes at most ``MAX_PAIRS_PER_KEY`` pairs (its most recent); the rest are
   reported as capped. Across keys, a pair's label is the majority of the voices on it; a tie is not used.
5. **Facts win.** A pair that did form in the data is a positive whatever the feedback says.
6. **How much.** Each query organisation with usable feedback becomes one training group (its candidates,
   its real new partners of the newest year, the feedback pairs) at the newest labelled year, with weight 1,
   as a real query; all feedback groups together weigh at most ``MAX_SHARE`` of that year's organisation
   groups (each is scaled down when there are more).

Pure: records in, labels and a summary out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

POSITIVE = frozenset({"accepted", "contacted"})
NEGATIVE = frozenset({"declined", "irrelevant"})
MAX_PAIRS_PER_KEY = 25
MAX_SHARE = 0.10
OPERATOR = "operator"


@dataclass(frozen=True)
class FeedbackLabels:
    """query organisation -> {candidate: 1 positive / 0 negative}, and what happened to every record."""

    labels: dict[str, dict[str, int]]
    summary: dict = field(default_factory=dict)
    voices: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # used pairs: voice -> verdict

    @property
    def pairs(self) -> int:
        return sum(len(c) for c in self.labels.values())

    def group_weight(self, real_groups: int) -> float:
        """The weight of each feedback group: 1, or less so that all of them weigh at most MAX_SHARE of
        ``real_groups``."""
        n = len(self.labels)
        if n == 0:
            return 0.0
        return min(1.0, MAX_SHARE * max(real_groups, 1) / n)


def feedback_labels(records: list[dict], known_ids: set[str] | frozenset[str]) -> FeedbackLabels:
    """Apply the policy to the store's feedback records (oldest first, as ``Store.feedback`` returns them)."""
    reasons: Counter[str] = Counter()
    latest: dict[str, dict[tuple[str, str], tuple[int, str]]] = defaultdict(dict)
    for order, record in enumerate(records):
        query, candidate, verdict = record.get("query_org_id"), record.get("candidate_org_id"), record.get("verdict")
        if not query:
            reasons["free-text query (not replayable)"] += 1
            continue
        if query not in known_ids or candidate not in known_ids:
            reasons["organisation not in the catalogue"] += 1
            continue
        if verdict not in POSITIVE | NEGATIVE:
            reasons[f"unknown verdict {verdict!r}"] += 1
            continue
        if query == candidate:
            reasons["an organisation paired with itself"] += 1
            continue
        voice = OPERATOR if record.get("api_key_id") is None else f"key {record['api_key_id']}"
        pair = (str(query), str(candidate))
        if pair in latest[voice]:
            reasons["replaced by the same key's later verdict"] += 1
        latest[voice][pair] = (order, str(verdict))

    votes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    capped_by_voice: dict[str, int] = {}
    for voice, pairs in latest.items():
        newest_first = sorted(pairs.items(), key=lambda item: -item[1][0])
        kept, capped = newest_first[:MAX_PAIRS_PER_KEY], newest_first[MAX_PAIRS_PER_KEY:]
        if capped:
            capped_by_voice[voice] = len(capped)
            reasons["over the per-key cap"] += len(capped)
        for pair, (_, verdict) in kept:
            votes[pair][voice] = verdict

    labels: dict[str, dict[str, int]] = {}
    by_verdict: Counter[str] = Counter()
    for (query, candidate), voices in sorted(votes.items()):
        up = sum(v in POSITIVE for v in voices.values())
        down = len(voices) - up
        if up == down:
            reasons["keys disagree (tie)"] += len(voices)
            continue
        labels.setdefault(query, {})[candidate] = int(up > down)
        by_verdict.update(voices.values())
    summary = {
        "records": len(records),
        "pairs_used": sum(len(c) for c in labels.values()),
        "positive_pairs": sum(v for c in labels.values() for v in c.values()),
        "negative_pairs": sum(1 - v for c in labels.values() for v in c.values()),
        "query_organisations": len(labels),
        "keys": len(latest),
        "verdicts_used": dict(sorted(by_verdict.items())),
        "not_used": dict(sorted(reasons.items())),
        "capped_by_key": dict(sorted(capped_by_voice.items())),
        "policy": {"max_pairs_per_key": MAX_PAIRS_PER_KEY, "max_share_of_organisation_groups": MAX_SHARE,
                   "positive": sorted(POSITIVE), "negative": sorted(NEGATIVE)},
    }
    used = {pair: dict(v) for pair, v in votes.items() if pair[1] in labels.get(pair[0], {})}
    return FeedbackLabels(labels, summary, used)

"""Relevance panel: read the top of the partnership map for a priority as a defence business developer would.

For each priority, builds the report exactly as `corridor report --priority P` does (shipped catalogue and
model) and prints, over its top pairings: funding bodies among them (target 0); pairs where both sides
show the priority in their own texts (curated terms, target >= 60%); distinct Korean organisations
(target >= 10); and the share of Korean organisations whose top 3 holds the single most frequent
European partner (target <= 25%). Then the top pairs themselves, to read.

Usage: HF_HUB_OFFLINE=1 python benchmarks/relevance_panel.py [--priority drones --priority semiconductors]
       [--top 50] [--show 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

from cli.environment import settings_from_environment
from recommender.batch.report import ReportRequest, build_report
from recommender.evaluation.panel import TARGETS, relevance_panel
from recommender.service import open_corridor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--priority", action="append", help="priority name (repeatable)")
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--show", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    recommender = open_corridor(settings_from_environment()).recommender()
    index = recommender.index
    results = []
    for name in args.priority or ["drones", "semiconductors"]:
        priority = index.profiles.taxonomy.resolve(name)
        report = build_report(recommender, ReportRequest(priority=priority, top=max(args.top, 200), explain=0))
        panel = relevance_panel(index, priority, report.pairings, report.korean, args.top)
        results.append({"name": name, **panel.to_dict(), "meets": panel.meets()})
        met = panel.meets()
        print(f"\n== {name} ({priority}): top {panel.pairs} pairings of {report.meta['pairs_scored']:,} scored ==")
        rows = [
            ("funding bodies among them", f"{panel.funding_bodies}", "0", met["funding_bodies"]),
            (
                "both sides show the priority in own texts",
                f"{panel.both_show_priority}/{panel.pairs} ({panel.both_show_priority_share:.0%})",
                f">= {TARGETS['both_show_priority_share'][1]:.0%}",
                met["both_show_priority_share"],
            ),
            ("distinct Korean organisations", f"{panel.distinct_korean}", ">= 10", met["distinct_korean"]),
            (
                "Korean orgs whose top 3 holds the most frequent partner",
                f"{panel.hub_in_top3}/{panel.korean_with_top3} ({panel.hub_in_top3_share:.0%}; "
                f"{index.names[index.row(panel.hub)] if panel.hub else '-'})",
                "<= 25%",
                met["hub_in_top3_share"],
            ),
            ("(public or funding bodies on either side)", f"{panel.public_bodies}", "", True),
            ("(distinct European organisations)", f"{panel.distinct_european}", "", True),
        ]
        for label, value, target, ok in rows:
            print(f"  {label:58s} {value:34s} {target:8s} {'' if not target else ('met' if ok else 'NOT met')}")
        print(f"  top {args.show}:")
        for r in report.pairings.head(args.show).itertuples(index=False):
            print(
                f"   {r.rank:3d}. {str(r.kr_name)[:38]:38s} x {str(r.eu_name)[:44]:44s} {r.eu_country}  "
                f"{r.eu_activity or '-':3s} {r.score:.3f}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

"""The self-contained HTML report: one file, inline CSS, charts as base64 PNG images (matplotlib, drawn
without pyplot's global state), no scripts, fonts or links to anything outside the file."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd

from recommender.batch.report import PairingReport

SHORT_VERDICT = {"ELIGIBLE": "E", "CONDITIONAL": "C", "INELIGIBLE": "I", "": "-"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #1d2733; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #d8dee6; }
.meta { color: #52606d; font-size: .9rem; }
.figures { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.figure { background: #f3f6f9; border-radius: 6px; padding: .6rem 1rem; }
.figure b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .6rem 0; }
th, td { border: 1px solid #d8dee6; padding: .25rem .45rem; vertical-align: top; text-align: left; }
th { background: #eef2f6; }
img { max-width: 100%; height: auto; }
.note { font-size: .85rem; color: #52606d; }
"""


def render_html(report: PairingReport) -> str:
    """The whole report as one HTML document."""
    meta = report.meta
    title = f"Corridor partnership map: {meta['priority_label']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(_scope_line(meta))}</p>',
        _figures(report),
        _rejected(report),
        "<h2 id='top-pairings'>Top pairings</h2>",
        "<p class='note'>Score: the learned ranker's probability that the Korean organisation and the European "
        "organisation would start a project together on this priority, computed exactly as <code>corridor "
        "recommend --org KOREAN_ORG --region EU --priority P</code> would, but for every allowed European "
        "organisation, not only generated candidates. Why: the features that raise the score most (score drop "
        "when each is reset to a typical value).</p>",
        _table(_top_table(report.pairings.head(50)), "top-pairings-table"),
        "<h3>Eligibility of the top pairings, per instrument</h3>",
        "<p class='note'>Korean / European organisation as a funded participant: E eligible, C conditional, "
        "I ineligible. Consortium-level rules (minimum members, coordinator country ...) are not checked here: "
        "run <code>corridor eligibility</code> on a full consortium.</p>",
        _table(_eligibility_table(report, 25), "eligibility-table"),
        "<h2 id='countries'>European countries x Korean organisations</h2>",
        _image(_heatmap_png(report.heatmap), "Heatmap of the best pair score by European country and Korean org"),
        _table(_round(report.countries.head(30)), "countries-table"),
        "<h2 id='distributions'>Score distributions</h2>",
        _image(_distribution_png(report), "Distribution of pair scores and of each Korean organisation's best score"),
        "<h2 id='strength'>Each side's strength per priority</h2>",
        "<p class='note'>Left: mean priority score of the organisations in scope that have a capability "
        "profile. Right: each side's priority mix (its means as shares of their sum).</p>",
        _image(_strength_png(report), "Mean priority scores of European and Korean organisations"),
        "<h2 id='needs'>Where European needs meet Korean capabilities</h2>",
        "<p class='note'>Priorities in which Korean organisations are relatively more specialised than "
        "European ones (kr_specialisation = the priority's share of the Korean side's summed mean scores divided "
        "by its share on the European side; above 1 Korea leads), with the strongest Korean organisations. "
        "Shares rather than raw means because the sides are selected differently (curated Korean defence firms "
        "against every European project participant): raw means favour Korea everywhere.</p>",
        _table(_needs(report.priorities, korean_stronger=True), "kr-strengths-table"),
        "<h3>Where Korean needs meet European capabilities</h3>",
        "<p class='note'>Priorities in which European organisations are relatively more specialised "
        "(kr_specialisation below 1), with the strongest European organisations.</p>",
        _table(_needs(report.priorities, korean_stronger=False), "eu-strengths-table"),
        "<h2 id='korean'>Korean organisations and their best European partners</h2>",
        _table(_round(_korean_table(report.korean.head(40))), "korean-table"),
        "<h2 id='european'>European organisations most in demand</h2>",
        _table(_round(report.european.head(25)), "european-table"),
        "<h2 id='method'>Method and files</h2>",
        f"<p class='note'>{_e(_method(report))}</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# ---- text pieces ------------------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text))


def _scope_line(meta: dict) -> str:
    inst = meta["instrument"] or "any instrument (no eligibility filter)"
    scope = "the organisations listed in the input file" if meta["organisation_list"] else "the whole catalogue"
    return (
        f"Priority {meta['priority']}; instrument: {inst}; scope: {scope}; engine: {meta['engine']}; "
        f"taxonomy {meta['taxonomy_version']}; rules {meta['rules_version']} (valid as of "
        f"{meta['rules_valid_as_of']}); generated {meta['generated_at']}."
    )


def _figures(report: PairingReport) -> str:
    meta = report.meta
    best = report.pairings.iloc[0] if len(report.pairings) else None
    items = [
        ("Korean organisations", f"{meta['korean_organisations']:,}"),
        ("European organisations", f"{meta['european_organisations']:,}"),
        ("pairs scored", f"{meta['pairs_scored']:,}"),
        ("pairs / second", f"{meta['pairs_per_second']:,}"),
        ("pairs scored by the model", f"{meta['scoring']['model_pairs']:,} ({meta['scoring']['mode']})"),
    ]
    if best is not None:
        items.append(("best pairing", f"{best['kr_name']} + {best['eu_name']} ({best['score']:.3f})"))
    cells = "".join(f"<div class='figure'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in items)
    return f"<div class='figures'>{cells}</div>"


def _rejected(report: PairingReport) -> str:
    if not report.rejected:
        return ""
    items = "".join(f"<li>{_e(r)}</li>" for r in report.rejected[:50])
    more = f"<li>... and {len(report.rejected) - 50} more</li>" if len(report.rejected) > 50 else ""
    return f"<h2>Rejected rows of the organisation list</h2><ul>{items}{more}</ul>"


def _scoring_method(scoring: dict) -> str:
    if scoring["mode"] == "exhaustive":
        return "The model scored every pair."
    return (
        f"Two stages: a linear first stage (rank correlation {scoring['first_stage_rank_correlation']:.3f} with "
        f"the model on {scoring['first_stage_fit_pairs']:,} fitted pairs) scored every pair, and the model re-scored "
        f"the best {scoring['reranked_per_korean']:,} of each Korean organisation; the pairings and best partners "
        "are model scores, while distributions also count first-stage estimates (capped below the re-scored pairs)."
    )


def _method(report: PairingReport) -> str:
    req = report.request
    return (
        f"Every Korean organisation in scope was ranked against every European organisation in scope "
        f"(instrument filter: {req.instrument or 'none'}; ineligible kept: {req.keep_ineligible}); only the "
        f"best {req.top} pairs were kept (bounded memory), of which the best {req.explain} are explained. "
        f"{_scoring_method(report.meta['scoring'])} "
        "Heatmap and country table aggregate all scored pairs. Tables: pairings.parquet/csv (with elig_kr_* and "
        "elig_eu_* verdict columns for every instrument), korean_organisations, european_organisations, "
        "countries, priorities, score_histogram; summary.json records the parameters."
    )


def _table(frame: pd.DataFrame, table_id: str) -> str:
    if frame.empty:
        return "<p class='note'>(nothing to show)</p>"
    return frame.to_html(index=False, escape=True, na_rep="", border=0, table_id=table_id)


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    return out


def _top_table(pairs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": pairs["rank"],
            "Korean organisation": pairs["kr_name"] + " (" + pairs["kr_id"].astype(str) + ")",
            "European organisation": pairs["eu_name"] + " (" + pairs["eu_country"].astype(str) + ")",
            "score": pairs["score"].map(lambda v: f"{v:.3f}"),
            "why": pairs["explanation"],
            "both eligible under": pairs["both_eligible_under"].astype(str).str.replace(";", ", "),
            "joint projects": pairs["prior_joint_projects"],
            "shared partners": pairs["shared_partners"],
        }
    )


def _eligibility_table(report: PairingReport, n: int) -> pd.DataFrame:
    pairs = report.pairings.head(n)
    out = pd.DataFrame({"#": pairs["rank"], "pair": pairs["kr_name"] + " + " + pairs["eu_name"]})
    for inst in report.instruments:
        kr = pairs[f"elig_kr_{inst}"].map(SHORT_VERDICT)
        eu = pairs[f"elig_eu_{inst}"].map(SHORT_VERDICT)
        out[inst] = kr + " / " + eu
    return out


def _korean_table(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["kr_name", "kr_id", "kr_activity", "priority_score", "best_score", "mean_score", "best_partners"]
    return frame[cols]


def _needs(priorities: pd.DataFrame, korean_stronger: bool) -> pd.DataFrame:
    spec = priorities["kr_specialisation"]
    rows = priorities[spec > 1] if korean_stronger else priorities[spec < 1]
    rows = rows.sort_values("kr_specialisation", ascending=not korean_stronger)
    who = "top_kr" if korean_stronger else "top_eu"
    cols = ["priority", "label", "kr_specialisation", "kr_share", "eu_share", "kr_mean", "eu_mean", who]
    return _round(
        rows[cols].rename(
            columns={who: "strongest Korean organisations" if korean_stronger else "strongest European organisations"}
        )
    )


# ---- charts -------------------------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _image(png: bytes | None, alt: str) -> str:
    if png is None:
        return "<p class='note'>(no data for this chart)</p>"
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _heatmap_png(heatmap: pd.DataFrame) -> bytes | None:
    if heatmap.empty:
        return None
    values = heatmap.to_numpy(dtype=float)
    fig = _figure(max(6.0, 0.45 * values.shape[1] + 3), max(3.0, 0.32 * values.shape[0] + 2))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in heatmap.columns], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(values.shape[0]), [str(i) for i in heatmap.index], fontsize=8)
    ax.set_xlabel("Korean organisation (strongest first)")
    ax.set_ylabel("European country")
    ax.set_title("Best pair score")
    fig.colorbar(image, ax=ax, shrink=0.8, label="score")
    return _png(fig)


def _distribution_png(report: PairingReport) -> bytes | None:
    hist = report.histogram
    if hist["pairs"].sum() == 0:
        return None
    fig = _figure(11, 3.6)
    left, right = fig.subplots(1, 2)
    width = float(hist["bin_end"].iloc[0] - hist["bin_start"].iloc[0])
    left.bar(hist["bin_start"], hist["pairs"], width=width, align="edge", color="#3b6ea5")
    left.set_yscale("log")
    left.set_xlabel("pair score")
    left.set_ylabel("pairs (log scale)")
    left.set_title(f"All {int(hist['pairs'].sum()):,} scored pairs")
    best = report.korean["best_score"].dropna()
    right.hist(best, bins=np.linspace(0, 1, 26), color="#c0504d")
    right.set_xlabel("best European partner's score")
    right.set_ylabel("Korean organisations")
    right.set_title("Each Korean organisation's best pair")
    return _png(fig)


def _strength_png(report: PairingReport) -> bytes | None:
    pr = report.priorities
    if pr.empty or pr[["kr_mean", "eu_mean"]].isna().all().all():
        return None
    y = np.arange(len(pr))
    mark = pr["priority"] == report.request.priority
    labels = [f"{label} *" if marked else str(label) for label, marked in zip(pr["label"], mark, strict=True)]
    fig = _figure(12, max(3.0, 0.32 * len(pr) + 1.4))
    panels = fig.subplots(1, 2, sharey=True)
    for ax, (eu, kr, title) in zip(
        panels,
        (("eu_mean", "kr_mean", "mean priority score"), ("eu_share", "kr_share", "priority mix (share of the side)")),
        strict=True,
    ):
        ax.barh(y - 0.2, pr[eu].fillna(0), height=0.4, label="European", color="#3b6ea5")
        ax.barh(y + 0.2, pr[kr].fillna(0), height=0.4, label="Korean", color="#c0504d")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(title)
    panels[0].set_yticks(y, labels, fontsize=8)
    panels[0].invert_yaxis()
    panels[1].legend(loc="lower right")
    fig.suptitle("* = this report's priority", fontsize=8, x=0.01, ha="left")
    return _png(fig)

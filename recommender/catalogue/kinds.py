"""What kind of organisation each catalogue row is, and which of them fund or administer research.

Why: CORDIS lists research funders and programme administrators (research councils, national
funding and innovation agencies, ministries, the programme owners of ERA-NET and European
Partnership co-fund actions, Korea's KIAT) as ordinary participants. They collaborate with
everybody, so collaboration-based rankings put them at the top, yet none of them co-develops
anything. This module gives every organisation a ``kind`` -- company, research, university,
public, or funding -- so that rankings can leave funders out by default and users can ask for
one kind of partner.

How: only from what the organisation *is*, never from whom it works with --

1. the activity type (PRC company, REC research organisation, HES higher education, PUB public
   body, OTH other, empty);
2. its names (``name`` and ``short_name``), matched against multilingual patterns for funders
   (research councils, funding and innovation agencies, national research funds, ministries,
   named national and Korean agencies);
3. its record of coordination and co-fund actions: the share of its projects of a known type of
   action that are CSA / COFUND / ERA-NET actions (MSCA co-fund fellowships excluded). Only
   public and "other" bodies are judged by their record; H2020 link-table projects carry no type
   of action and do not count.

Precision comes first: a real partner wrongly hidden is costly. Universities are never funders;
companies only when the name says so outright (a Projektträger, a research-funding agency, the
national innovation agency); research organisations only under the name of a known funder (NWO,
FNRS, the Swiss National Science Foundation, UEFISCDI, ...), never under a generic phrase, so
research performers whose names look like a funder's (the Swedish Defence Research Agency FOI,
Korea's Agency for Defense Development, Italy's Consiglio Nazionale delle Ricerche, national
research councils that run labs) stay research. For public and other bodies a performer word in
the name (institute, laboratory, national research council, academy of sciences, ...) overrides a
generic funder phrase.
Ministries whose portfolio makes them end users of security and defence research (interior,
defence, justice, police, customs, civil protection) stay public bodies unless their record says
otherwise; a "ministry" declared as a research organisation is one of its labs (Public Health
England took part as the UK Department of Health) and stays research.

Two judgement calls: the European Defence Agency is a funding body (it administers defence
research and capability programmes for its member states and performs none itself); the European
Space Agency is not (it runs its own technical centres and missions and takes part in research
projects as a technical partner), so it stays a public body.

Pure: no environment reads and no I/O; the caller passes the three catalogue tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.errors import CorridorError

KINDS: tuple[str, ...] = ("company", "research", "university", "public", "funding")
KIND_FILTERS: tuple[str, ...] = ("company", "research", "university", "public", "any")
KIND_LABELS: dict[str, str] = {
    "company": "company",
    "research": "research organisation",
    "university": "university",
    "public": "public body",
    "funding": "funding or programme body",
}

ACTIVITY_KINDS: dict[str, str] = {"PRC": "company", "REC": "research", "HES": "university", "PUB": "public"}
"""Kind by activity type; anything else (OTH, empty, unknown) is a public body."""

# The record rule, for public, "other" and unclassified bodies with at least RECORD_MIN_PROJECTS projects of a
# known type of action. Any such body is a funder if at least RECORD_COFUND_SHARE of them are co-fund actions.
# A public body also is if at least RECORD_COFUND_MIN of them, and RECORD_PUBLIC_COFUND_SHARE, are co-fund
# actions, or if at least one is and RECORD_COORDINATION_SHARE are coordination or co-fund actions. Other bodies
# (associations, clusters, networks) run many coordination actions without funding anything, hence the stricter rule.
RECORD_MIN_PROJECTS = 3
RECORD_COFUND_SHARE = 1 / 2
RECORD_COFUND_MIN = 2
RECORD_PUBLIC_COFUND_SHARE = 1 / 3
RECORD_COORDINATION_SHARE = 3 / 4
_NO_RECORD: frozenset[str] = frozenset({"PRC", "REC", "HES"})  # judged by activity type and names only

_COFUND = re.compile(r"cofund|era-net", re.IGNORECASE)
_MSCA = re.compile(r"msca", re.IGNORECASE)
_COORDINATION = re.compile(r"(?<!cp-)csa", re.IGNORECASE)  # CP-CSA (FP7) is mostly a research project


class UnknownKindFilterError(CorridorError, ValueError):
    """A kind filter that is not one of KIND_FILTERS."""

    def __init__(self, kind_filter: object) -> None:
        super().__init__(kind_filter)
        self.kind_filter = kind_filter

    def __str__(self) -> str:
        return f"unknown organisation kind filter {self.kind_filter!r}; known filters: {', '.join(KIND_FILTERS)}"


@dataclass(frozen=True)
class _Pattern:
    label: str  # shown in kind_reason as name: '<label>'
    regex: re.Pattern[str]
    companies: bool = False  # strong enough to make a company (PRC) a funder
    vetoable: bool = True  # a research-performer name overrides it


def _p(label: str, pattern: str, *, companies: bool = False, vetoable: bool = True) -> _Pattern:
    return _Pattern(label, re.compile(pattern), companies, vetoable)


# Patterns run on normalised names: lower case, accents and special letters folded to ASCII (ü -> u,
# ø -> o, ß -> ss, ð -> d), every run of other characters one space, one space added at each end.
# German umlauts are also written ae/oe/ue in the sources, hence the (u|ue) alternatives.
_FUNDER_PATTERNS: tuple[_Pattern, ...] = (
    # --- grant administrators and funding agencies, by what the name says (strong enough for a company)
    _p("projekttrager", r"projekttr(a|ae)ger", companies=True, vetoable=False),
    _p("forschungsforderung", r"forschungsf(o|oe)rderung|innovationsf(o|oe)rderung"
       r"|fonds zur f(o|oe)rderung der wissenschaftlichen forschung", companies=True, vetoable=False),
    _p("forderagentur", r"f(o|oe)rderagentur", companies=True, vetoable=False),
    _p("fachagentur", r"fachagentur", vetoable=False),
    _p("funding agency", r" (research|science|innovation) funding | funding (agency|body|organi[sz]ation|council) ",
       companies=True),
    _p("agencia nacional de inovacao", r" agencia nacional de inova", companies=True, vetoable=False),
    _p("bpifrance", r" bpi ?france ", companies=True, vetoable=False),
    # --- named national funders and programme bodies
    _p("deutsche forschungsgemeinschaft", r"deutsche forschungsgemeinschaft", vetoable=False),
    _p("bundesanstalt fur landwirtschaft und ernahrung", r"bundesanstalt fu?e?r landwirtschaft und ernae?hrung",
       vetoable=False),
    _p("agence nationale de la recherche", r"agence nationale de la recherche", vetoable=False),
    _p("agencia estatal de investigacion", r"agencia estatal de investigacion", vetoable=False),
    _p("CDTI", r"centro (para el )?desarrollo tecnologico (y|e) (la )?innovacion"
       r"|centro para el desarrollo tecnologico industrial", vetoable=False),
    _p("FECYT", r"fundacion espanola para la ciencia", vetoable=False),
    _p("fundacao para a ciencia e a tecnologia", r"fundacao para a ciencia e (a )?tecnologia", vetoable=False),
    _p("Polish national research centres", r"narodowe centrum (badan i rozwoju|nauki)"
       r"|narodowa agencja wymiany akademickiej|fundacja na rzecz nauki polskiej", vetoable=False),
    _p("Hungarian research and innovation office", r"nemzeti kutatasi fejlesztesi es innovacios hivatal"
       r"|nemzeti innovacios ugynokseg", vetoable=False),
    _p("Rannis", r"rannsoknamidstod islands| rannis ", vetoable=False),
    _p("Nordic research council", r"vetenskapsradet|forskningsr(a|aa)d|forskningsfond|forskningsstyrelse"
       r"|granskingarrad", vetoable=False),
    _p("Baltic research council", r"mokslo taryba|zinatnes padome|teadusagentuur|teadusnoukogu", vetoable=False),
    _p("Lithuanian innovation agency", r"mokslo inovaciju ir technologiju agentura", vetoable=False),
    _p("Academy of Finland", r"suomen akatemia|academy of finland|research council of finland", vetoable=False),
    _p("Czech/Slovak research agency", r"technologicka agentura|grantova agentura|agentura pro zdravotnicky vyzkum"
       r"|agentura na podporu vyskumu|vyskumna agentura", vetoable=False),
    _p("Slovenian research agency", r"agencija za (znanstveno)?raziskovalno", vetoable=False),
    _p("Croatian funding body", r"hrvatska zaklada za znanost|agencija za malo gospodarstvo"
       r"|agencija za mobilnost i programe", vetoable=False),
    _p("UEFISCDI", r"finantarea (invatamantului|cercetarii)", vetoable=False),
    _p("national research agency", r"agentia nationala pentru cercetare|agjencia kombetare e kerkimit",
       vetoable=False),
    _p("research and innovation foundation", r"idryma erevnas kai kainotomias|research (and|&) innovation foundation"
       r"|research promotion foundation", vetoable=False),
    _p("general secretariat for research", r"geniki grammatia (erevnas|ereunas)|general secretariat for research",
       vetoable=False),
    _p("Xjenza Malta", r"xjenza malta|malta council for science", vetoable=False),
    _p("national research fund", r"nationalfonds|fonds national de la recherche|fonds de la recherche scientifique"
       r"|fonds voor wetenschappelijk onderzoek|research foundation flanders|klima und energiefonds", vetoable=False),
    _p("NWO/ZonMw", r"nederlandse organisatie voor wetenschappelijk onderzoek|zorgonderzoek nederland| zonmw "
       r"|rijksdienst voor ondernemend nederland", vetoable=False),
    _p("Flemish/Brussels innovation agency", r"agentschap innoveren|fonds innoveren| innoviris ", vetoable=False),
    _p("science policy office", r"politique scientifique|wetenschapsbeleid| belspo |science policy office",
       vetoable=False),
    _p("Swiss funding body", r" innosuisse |staatssekretariat fu?e?r bildung forschung"
       r"|state secretariat for education research", vetoable=False),
    _p("innovation agency", r" vinnova |verket for innovationssystem|business finland| tekes |innovasjon norge"
       r"|^ innovation norway |innovate uk|enterprise ireland|scottish enterprise|enterprise singapore|malta enterprise"
       r"|enterprise estonia|ettevotluse (ja innovatsiooni|arendamise) sihtasutus| luxinnovation "
       r"|austria wirtschaftsservice|innovationsfond|innovation fund denmark|competitivitat de l ?empresa",
       vetoable=False),
    _p("Swedish Energy Agency", r"energimyndighet", vetoable=False),
    _p("Irish research funder", r"science foundation ireland|research ireland|irish research council"
       r"|health research board", vetoable=False),
    _p("innovation authority", r"innovation authority| matimop |israel science foundation", vetoable=False),
    _p("CEPI", r"coalition for epidemic preparedness innovations", vetoable=False),
    _p("ADEME", r"agence de l ?environnement et de ?la ?maitrise de l ?energie", vetoable=False),
    _p("agence de l'innovation de defense", r"agence de l ?innovation de defense", vetoable=False),
    _p("research promotion/NCP agency", r"promozione della ricerca|national contact point| euresearch "
       r"|nationale kontaktstelle|kooperationsstelle eu", vetoable=False),
    # --- Korean funders and planners
    _p("Korea Institute for Advancement of Technology", r"advancement of technology| kiat ", vetoable=False),
    _p("national research foundation", r"national research foundation", vetoable=False),
    _p("Korean R&D evaluation/planning agency", r"evaluation institute of industrial technology"
       r"|planning (and|&) evaluation|evaluation (and|&) planning|health industry development institute"
       r"|science (and|&) technology promotion|industry promotion agency|information promotion agency"
       r"|defen[cs]e technology planning|national research council of science (and|&) technology", vetoable=False),
    _p("trade-investment promotion agency", r"trade (and |& )?investment promotion| kotra ", vetoable=False),
    _p("Defense Acquisition Program Administration", r"defen[cs]e acquisition program(me)? administration",
       vetoable=False),
    # --- other national funders
    _p("foreign national funder", r"defen[cs]e advanced research projects agency|office of naval research"
       r"|air force office of scientific research|army research office|society for the promotion of science"
       r"|japan science and technology agency|new energy and industrial technology development organi[sz]ation"
       r"|agency for medical research and development|natural sciences and engineering research council"
       r"|australian research council|conselho nacional de desenvolvimento cientifico|amparo a pesquisa"
       r"|financiadora de estudos e projetos|national natural science foundation"
       r"|national science and technology council", vetoable=False),
    _p("UK research council (funding only)", r"(engineering and physical sciences|economic and social|arts and "
       r"humanities|biotechnology and biological sciences) research council", vetoable=False),
    # --- European bodies
    _p("European Commission", r"^ european commission ", vetoable=False),
    _p("EU executive agency", r"(research|council|smes|health and digital|infrastructure and environment"
       r"|education and culture|innovation and networks) executive agency", vetoable=False),
    _p("European Defence Agency", r"european defen[cs]e agency|agence europeenne de defense", vetoable=False),
    _p("European funders' organisation", r"european science foundation|fondation europeenne de la science"
       r"|joint programming initiative| science europe | eureka (network|secretariat)"
       r"|european cooperation in science and technology", vetoable=False),
    # --- generic funder phrases (a research-performer name overrides them)
    _p("research council", r"research council|council for (scientific )?research|council of science"
       r"|forschungsrat|conseil de (la )?recherche"),
    _p("research agency", r"(research|innovation|science) (promotion )?agency|agency for (research|innovation|science)"
       r"|agence (nationale )?(pour la recherche|de l ?innovation)"
       r"|agencia (nacional |valenciana |andaluza |asturiana |vasca )?(de |para )?(la )?(investigacion|innovacion"
       r"|investigacao|inovacao)|axencia galega de innovacion|agenzia (nazionale )?per (la )?(ricerca|innovazione)"
       r"|agentur fu?e?r innovation|innovationsagentur"),
    _p("science foundation", r"science foundation|foundation for science and technology|science fund"
       r"|research fund |fund for (scientific )?research"),
)

_MINISTRY = _p("ministry", r"(?<!ad)(?<!fe)minist(e|r|a|i)|miniszt|bakanligi|ypourgeio|ypourgio|^ departement fu?e?r "
               r"|eidgen(o|oe)ssisches departement|^ department (of|for) |^ dept of |^ departament(o)? (de|d) "
               r"|^ consejeria de|^ conselleria de|staatssekretariat|^ home office |regeringskansliet")

# A lab, hospital or institute named after its ministry is not the ministry.
_NOT_A_MINISTRY = re.compile(r"institut|laborator|hospital|klinik|research cent(er|re)|medical cent(er|re)|museum")

# "... of the Ministry of ...": a body under a ministry, not the ministry itself.
_SUBORDINATE = re.compile(
    r" (of|under|do|da|del|dello|della|des|du|de|der|prie|pri) (\w+ ){0,4}?(\w*minist|dep(artmen)?t )"
)

# A ministry for one of these portfolios is an end user of security and defence research, not a funder.
_END_USER_PORTFOLIO = re.compile(
    r"interior|interno|interieur|innern|inneres|binnenlandse|home affairs|home office|homeland|internal affairs"
    r"|administracao interna|sisaministeri|inrikes|indenrigs|notranje|unutarnj|vnitra|vnutra|spraw wewnetrznych"
    r"|belugy|afacerilor interne|vidaus reikalu|ieksliet|siseministeerium|public security|public order"
    r"|citizen protection|prostasias tou politi|police|policia|policij|polizei|politie|politsei|politiet|rigspoliti"
    r"|customs|douane|dogana|aduana|muitin|(?<!climate )emergenc(?!ia clim)|civil protection|protection civile"
    r"|protezione civile|proteccion civil|prison|(?<!food )(?<!energy )(?<!social )security"
    r"|seguridad(?! alimentaria)|sicurezza(?! energetica)|defen[cs]|difesa|verteidigung|forsvar|puolustus|obrany"
    r"|defesa|unutrasnj|obrony|obrane|obrambo|apararii|krasto apsaugos|aizsardzibas|kaitseministeerium|amynas|armees"
    r"|armed forces|justic|justica|giustizia|justiz|justitie|justis|oikeusministeri|spravedlnosti"
    r"|sprawiedliwosci|pravosud|pravosodj"
)

# Research performers whose names contain a funder phrase.
_PERFORMER = re.compile(
    r"defen[cs]e research (agency|establishment|institute)|agency for defen[cs]e development"
    r"|defen[cs]e science and technology|national research council(?! of science)|consiglio nazionale delle ricerche"
    r"|consejo superior de investigaciones|consejo nacional de investigaciones|council for scientific and industrial"
    r"|agricultural research council|medical research council|natural environment research council"
    r"|science and technology facilities council|agency for science technology and research|academy of sciences"
    r"|akademie der wissenschaften|akademia nauk|akademia vied|akademie ved|academia de stiinte|fraunhofer"
    r"|helmholtz|max planck|leibniz|institut|laborator|universit|hospital|klinik|forschungszentrum"
    r"|research cent(er|re)|medical cent(er|re)|centre de recherche|centro (de|di) (investigacion|ricerc)|polytechn"
    r"|school|college"
)

_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ð": "d", "þ": "th", "ł": "l", "đ": "d", "ı": "i", "œ": "oe"})


def normalise_names(names: pd.Series) -> pd.Series:
    """Lower-case ASCII names with single spaces and a space at each end; missing names become ``""``."""
    text = names.astype("string").fillna("").str.lower().str.translate(_FOLD).str.normalize("NFKD")
    text = text.str.encode("ascii", "ignore").str.decode("ascii")
    text = text.str.replace(r"[^a-z0-9&]+", " ", regex=True).str.strip()
    return (" " + text + " ").where(text != "", "").astype(object)


def _name_verdict(activity: str, texts: tuple[str, str]) -> tuple[bool, str]:
    """(is funder, reason) from the normalised name and short name; reason is empty when they say nothing."""
    if activity == "HES" or not any(texts):
        return False, ""
    performer = _PERFORMER.search(" ".join(texts))
    for pattern in _FUNDER_PATTERNS:
        if not any(pattern.regex.search(text) for text in texts):
            continue
        if activity == "PRC" and not pattern.companies:
            continue  # a company is a funder only if its name says so outright
        if pattern.vetoable and activity == "REC":
            continue  # a research organisation is a funder only under a named funder's name
        if pattern.vetoable and performer:
            return False, f"name: {pattern.label!r} but also {performer.group(0).strip()!r} (research performer)"
        return True, f"name: {pattern.label!r}"
    if activity in ("PRC", "REC") or not any(_MINISTRY.regex.search(text) for text in texts):
        return False, ""  # a ministry declared as a research organisation is one of its labs (e.g. PHE under DH)
    if any(_NOT_A_MINISTRY.search(text) or _SUBORDINATE.search(text) for text in texts):
        return False, ""  # a lab, hospital or service *of* a ministry is not the ministry
    end_user = _END_USER_PORTFOLIO.search(" ".join(texts))
    if end_user:
        return False, f"ministry with an end-user portfolio ({end_user.group(0).strip()!r})"
    return True, "name: 'ministry'"


def _record(projects: pd.DataFrame, participations: pd.DataFrame) -> pd.DataFrame:
    """Per organisation id: projects of a known type of action, and how many are coordination / co-fund actions.
    Only the projects ``participations`` links are read (an added organisation has a few, or none)."""
    links = participations[["org_id", "project_id"]].dropna().astype(str).drop_duplicates()
    if links.empty:
        return pd.DataFrame({"known": [], "cofund": [], "coordination": []}, dtype=int,
                            index=pd.Index([], name="org_id"))
    types = projects[["id", "type_of_action"]]
    if len(links) < len(types) // 4:
        types = types[types["id"].astype(str).isin(links["project_id"].unique())]
    types = types.dropna().drop_duplicates("id")
    kinds = types["type_of_action"].astype(str)
    cofund = kinds.str.contains(_COFUND) & ~kinds.str.contains(_MSCA)
    coordination = kinds.str.contains(_COORDINATION) & ~cofund
    typed = pd.DataFrame({"project_id": types["id"].astype(str).to_numpy(), "cofund": cofund.to_numpy(),
                          "coordination": coordination.to_numpy()})
    joined = links.merge(typed, on="project_id", how="inner")
    return joined.groupby("org_id").agg(
        known=("project_id", "size"), cofund=("cofund", "sum"), coordination=("coordination", "sum")
    )


def _record_verdict(activity: str, known: int, cofund: int, coordination: int) -> bool:
    """Whether a public / other / unclassified body's record of typed projects makes it a funder."""
    if known < RECORD_MIN_PROJECTS:
        return False
    if cofund / known >= RECORD_COFUND_SHARE:
        return True
    if activity != "PUB":
        return False
    if cofund >= RECORD_COFUND_MIN and cofund / known >= RECORD_PUBLIC_COFUND_SHARE:
        return True
    return cofund >= 1 and (cofund + coordination) / known >= RECORD_COORDINATION_SHARE


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{name} lacks column(s) {', '.join(missing)}")


def classify_organisations(
    organisations: pd.DataFrame, projects: pd.DataFrame, participations: pd.DataFrame
) -> pd.DataFrame:
    """One row per organisation, in the order (and with the index) of ``organisations``.

    Columns: ``id``; ``kind`` (one of KINDS); ``funding_body`` (bool, ``kind == "funding"``);
    ``kind_reason``, a short human-readable reason such as ``"name: 'research council'"``.
    A row's answer depends only on that organisation's own names, activity type and projects.
    """
    _require(organisations, "organisations", ("id", "name", "short_name", "activity_type"))
    _require(projects, "projects", ("id", "type_of_action"))
    _require(participations, "participations", ("org_id", "project_id"))

    activity = organisations["activity_type"].astype("string").fillna("").str.strip().str.upper()
    names = normalise_names(organisations["name"]).to_numpy()
    short = normalise_names(organisations["short_name"]).to_numpy()
    record = _record(projects, participations)
    ids = organisations["id"].astype("string").fillna("").to_numpy()
    stats = record.reindex(ids).fillna(0).astype(int)
    known_n, cofund_n, coordination_n = (stats[c].to_numpy() for c in ("known", "cofund", "coordination"))

    kinds: list[str] = []
    reasons: list[str] = []
    # Only rows whose names hit some funder phrase need the per-pattern search.
    candidate = _any_hint(names) | _any_hint(short)
    for i, act in enumerate(activity.to_numpy()):
        funder, why = False, ""
        if candidate[i]:
            funder, why = _name_verdict(act, (names[i], short[i]))
        if not funder and act not in _NO_RECORD and not why.startswith("name:"):
            known, cofund, coordination = int(known_n[i]), int(cofund_n[i]), int(coordination_n[i])
            if _record_verdict(act, known, cofund, coordination):
                funder = True
                body = "public body" if act == "PUB" else f"body (activity {act or 'unknown'})"
                why = (f"{body} whose {cofund + coordination} of {known} typed projects are coordination/co-fund "
                       f"actions ({cofund} co-fund)")
        if funder:
            kinds.append("funding")
            reasons.append(why)
        else:
            base_reason = f"activity type {act}" if act else "no activity type"
            kinds.append(ACTIVITY_KINDS.get(act, "public"))
            reasons.append(f"{base_reason}; {why}" if why else base_reason)
    kind = pd.Series(kinds, index=organisations.index, dtype=object)
    return pd.DataFrame(
        {"id": organisations["id"], "kind": kind, "funding_body": kind == "funding",
         "kind_reason": pd.Series(reasons, index=organisations.index, dtype=object)},
        index=organisations.index,
    )


_HINT = re.compile(
    "|".join(p.regex.pattern for p in _FUNDER_PATTERNS) + "|" + _MINISTRY.regex.pattern
)


def _any_hint(texts: np.ndarray) -> np.ndarray:
    return np.fromiter((bool(t) and _HINT.search(t) is not None for t in texts), dtype=bool, count=len(texts))


def kind_mask(kinds: np.ndarray, kind_filter: str | None) -> np.ndarray:
    """Boolean mask of the organisations a kind filter allows.

    ``None`` (the default) allows every kind except funding bodies; ``"any"`` allows everything;
    ``"public"`` allows public bodies and funding bodies (a user who asks for public bodies gets the
    funders too); any other filter allows exactly that kind. Unknown filters raise
    :class:`UnknownKindFilterError`, which names the known filters.
    """
    values = np.asarray(kinds, dtype=object)
    if kind_filter is None:
        return values != "funding"
    if kind_filter not in KIND_FILTERS:
        raise UnknownKindFilterError(kind_filter)
    if kind_filter == "any":
        return np.ones(values.shape, dtype=bool)
    if kind_filter == "public":
        return (values == "public") | (values == "funding")
    return values == kind_filter

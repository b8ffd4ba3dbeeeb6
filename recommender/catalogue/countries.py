"""Country codes and regions. CORDIS writes Greece as EL and the United Kingdom as UK; we use ISO 3166-1."""

from __future__ import annotations

EU27: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EEA_EFTA: frozenset[str] = frozenset({"IS", "LI", "NO"})

# EU/Commission codes that differ from ISO 3166-1 alpha-2.
ALIASES: dict[str, str] = {"EL": "GR", "UK": "GB"}

# ISO 3166-1 alpha-2 codes (officially assigned) plus XK (Kosovo, used by the Commission).
ISO_COUNTRIES: frozenset[str] = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
    BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
    FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO
    IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG
    MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK
    PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC
    TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    XK""".split()
)

REGIONS: tuple[str, ...] = ("EU27", "EEA-EFTA", "UA", "KR", "OTHER")


def normalise_country(code: object) -> str | None:
    """Upper-case, strip and alias a country code (EL -> GR, UK -> GB). Empty or missing gives None.

    Does not validate: use :func:`is_known_country` for that.
    """
    if code is None:
        return None
    text = str(code).strip().upper()
    if not text or text in {"NAN", "NONE", "<NA>"}:
        return None
    return ALIASES.get(text, text)


def is_known_country(code: str | None) -> bool:
    return code is not None and code in ISO_COUNTRIES


def region_of(country: str | None) -> str:
    """Map an ISO-2 code (already normalised) to Corridor's region: EU27, EEA-EFTA, UA, KR or OTHER."""
    if country in EU27:
        return "EU27"
    if country in EEA_EFTA:
        return "EEA-EFTA"
    if country == "UA":
        return "UA"
    if country == "KR":
        return "KR"
    return "OTHER"

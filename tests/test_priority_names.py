"""Technology priorities named as people type them: ids, labels and synonyms resolved to the id by the
taxonomy (case, spaces, hyphens and underscores ignored), unknown names refused with the closest ones;
the CLI checks --priority from the taxonomy file alone, before any heavy loading."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recommender.errors import CorridorError
from recommender.profiles.taxonomy import TaxonomyError, UnknownPriorityError, load_taxonomy
from recommender.ranking.batch import read_queries
from tests.conftest import REPO
from tests.synthetic import make_world
from tests.test_profiles import tiny_taxonomy
from tests.test_ranking import make_index

SHIPPED = load_taxonomy(REPO / "data" / "taxonomy" / "priorities.yaml")
NAMES = [(name, p.id) for p in SHIPPED.priorities for name in (p.id, p.label, *p.synonyms)]


# ---- the taxonomy -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("drones", "unmanned"),
        ("Drones", "unmanned"),
        ("drone", "unmanned"),
        ("UAV", "unmanned"),
        ("uas", "unmanned"),
        ("UAS", "unmanned"),
        ("semiconductor", "semiconductors"),
        ("chips", "semiconductors"),
        ("AI", "ai"),
        ("Artificial Intelligence", "ai"),
        ("EW", "sensors_ew"),
        ("Sensors-EW", "sensors_ew"),
        ("sensors ew", "sensors_ew"),
        ("  SENSORS_EW ", "sensors_ew"),
        ("C2", "c4isr"),
        ("command-and-control", "c4isr"),
        ("naval", "maritime"),
        ("Cyber Security", "cyber"),
        ("cyber-security", "cyber"),
        ("Air systems", "air"),
        ("satellites", "space"),
    ],
)
def test_resolve_is_case_insensitive_and_knows_synonyms(name, expected):
    assert SHIPPED.resolve(name) == expected
    assert SHIPPED.get(name).id == expected and SHIPPED.ids[SHIPPED.index(name)] == expected


def test_every_shipped_id_label_and_synonym_resolves_to_its_priority():
    assert all(SHIPPED.resolve(name) == pid for name, pid in NAMES)
    assert all(s == s.lower() and s.strip() for p in SHIPPED.priorities for s in p.synonyms)
    assert len({p.id for p in SHIPPED.priorities if p.synonyms}) == len(SHIPPED.priorities)


def test_synonyms_leave_the_version_the_tagger_is_bound_to():
    manifest = json.loads((REPO / "data" / "models" / "priority-tagger" / "manifest.json").read_text())
    assert SHIPPED.version == manifest["taxonomy_version"]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_resolve_ignores_case_and_separators(data):
    name, pid = data.draw(st.sampled_from(NAMES))
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    sep = data.draw(st.sampled_from([" ", "-", "_", "  ", " - "]))
    typed = "".join(c.upper() if f else c.lower() for c, f in zip(name, flips, strict=True))
    typed = typed.replace(" ", sep).replace("_", sep)
    pad = data.draw(st.sampled_from(["", " ", "\t"]))
    assert SHIPPED.resolve(pad + typed + pad) == pid


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownPriorityError) as caught:
        SHIPPED.resolve("dornes")
    assert caught.value.suggestions[0] == "unmanned (drones)"
    assert str(caught.value).startswith("unknown priority 'dornes'; did you mean unmanned (drones)")
    assert "known priorities: ai, unmanned" in str(caught.value)
    assert isinstance(caught.value, CorridorError) and isinstance(caught.value, KeyError)
    with pytest.raises(UnknownPriorityError, match="did you mean quantum"):
        SHIPPED.get("quantun")
    with pytest.raises(UnknownPriorityError, match=r"did you mean semiconductors \(semiconductor\)"):
        SHIPPED.index("semi")  # a prefix of a name
    with pytest.raises(UnknownPriorityError) as caught:
        SHIPPED.resolve("zzz")
    assert caught.value.suggestions == [] and "did you mean" not in str(caught.value)
    for bad in ("", "   "):
        with pytest.raises(UnknownPriorityError):
            SHIPPED.resolve(bad)


def _write(tmp_path, priorities: str):
    path = tmp_path / "priorities.yaml"
    path.write_text('version: "t-1"\npriorities:\n' + priorities)
    return path


def test_a_name_shared_by_two_priorities_is_refused(tmp_path):
    ok = (
        "  - {id: unmanned, label: Unmanned systems, description: d, terms: [drone], synonyms: [drones, robotics]}\n"
        "  - {id: sensors_ew, label: Sensors, description: d, terms: [radar], synonyms: [ew, radar]}\n"
    )
    assert load_taxonomy(_write(tmp_path, ok)).resolve("Robotics") == "unmanned"
    for clash, names in [
        ("synonyms: [robotics]", ("'robotics'", "unmanned", "land")),  # a synonym of another priority
        ("synonyms: [Sensors-EW]", ("sensors_ew", "land")),  # another priority's id, written differently
        ("synonyms: [sensors]", ("'Sensors'", "sensors_ew", "land")),  # another priority's label
        ("label: Unmanned Systems", ("unmanned", "land")),  # two labels
    ]:
        extra = f"  - {{id: land, description: d, terms: [tank], {clash}}}\n"
        with pytest.raises(TaxonomyError) as caught:
            load_taxonomy(_write(tmp_path, ok + extra))
        assert str(caught.value).startswith(str(tmp_path)) and all(n in str(caught.value) for n in names), clash
    with pytest.raises(TaxonomyError, match="synonyms must be a list"):
        load_taxonomy(_write(tmp_path, "  - {id: land, description: d, terms: [tank], synonyms: tanks}\n"))
    with pytest.raises(TaxonomyError, match="empty name"):
        load_taxonomy(_write(tmp_path, "  - {id: land, description: d, terms: [tank], synonyms: ['-']}\n"))


def test_a_name_repeated_within_one_priority_is_fine(tmp_path):
    path = _write(
        tmp_path,
        "  - {id: cyber, label: Cyber, description: d, terms: [x], "
        "synonyms: [cybersecurity, cyber security, cyber-security]}\n",
    )
    assert load_taxonomy(path).resolve("CYBER SECURITY") == "cyber"


# ---- the CLI: --priority checked from the taxonomy file before the workspace is built ----------------------------
runner = CliRunner()


def not_built(*args, **kwargs):
    raise AssertionError("nothing heavy may load for an unknown priority")


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--org", "kr-hanwha-aerospace", "--priority", "dornes"],
        ["match", "--text", "drone swarms", "--priority", "dornes"],
        ["report", "--priority", "dornes", "--out", "unused"],
    ],
)
def test_cli_unknown_priority_exits_2_before_loading_anything(args, monkeypatch, tmp_path):
    import cli.commands as cli
    from recommender.service import WorkspaceSource

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(WorkspaceSource, "load", not_built)
    result = runner.invoke(cli.app, [a if a != "unused" else str(tmp_path / "r") for a in args])
    assert result.exit_code == 2, result.output
    assert "unknown priority 'dornes'" in result.output and "did you mean unmanned (drones)" in result.output
    assert not (tmp_path / "r").exists()


@pytest.fixture()
def tiny_cli(monkeypatch, tmp_path):
    """`corridor ...` over the small trained world."""
    import cli.commands as cli
    from cli import common
    from recommender.ranking.rankers import LearnedRanker
    from recommender.ranking.service import Recommender
    from tests.api_support import corridor_over, make_index, train_model
    from tests.synthetic import make_world  # noqa: F401 - the world train_model and corridor_over share

    ranker = LearnedRanker.load(train_model(tmp_path / "model"), expect=None)
    recommender = Recommender(make_index(), ranker)
    monkeypatch.setattr(common, "open_corridor", lambda: corridor_over(recommender, f"sqlite:///{tmp_path}/c.db"))
    return lambda *args: runner.invoke(cli.app, list(args))


def test_cli_passes_the_canonical_id_on(tiny_cli):
    seen = []
    for args in (["recommend", "--org", "drones-kr-8", "--priority", "UAV"], ["match", "--text", "radar",
                 "--priority", "Sensors-EW"], ["match", "--text", "radar"]):
        result = tiny_cli(*args, "--json")
        assert result.exit_code == 0, result.output
        seen.append(json.loads(result.stdout)["query"]["priority"])
    assert seen == ["unmanned", "sensors_ew", None]


def test_report_passes_the_canonical_id_on(tiny_cli, tmp_path):
    result = tiny_cli("report", "--priority", "UAV", "--out", str(tmp_path / "r"), "--top", "5", "--explain", "1")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["priority"] == "unmanned"


# ---- `corridor rank` query files: each row's priority resolved, unknown ones rejected per row --------------------
def test_query_file_priorities_are_resolved_per_row(tmp_path):
    path = tmp_path / "queries.csv"
    path.write_text(
        "query_id,org_id,text,region,instrument,priority\n"
        "a,drones-eu-0,,EU,,Drones\n"
        "b,,radar systems,ANY,,Sensors-EW\n"
        "c,drones-eu-0,,EU,,dornes\n"
        "d,drones-eu-0,,EU,,\n"
        "e,drones-eu-0,,EU,nope,UAV\n"
        "f,chips-kr-9,,EU,edf-research,CHIPS\n"
    )
    recommender = SimpleNamespace(index=make_index(make_world()))
    assert recommender.index.profiles.taxonomy == tiny_taxonomy()
    queries, problems = read_queries(path, recommender)
    assert [(q.query_id, q.priority) for q in queries] == [
        ("a", "unmanned"),
        ("b", "sensors_ew"),
        ("d", None),
        ("f", "semiconductors"),
    ]
    assert [(p.row, p.fields) for p in problems] == [(4, ["priority"]), (6, ["instrument"])]
    assert "unknown priority 'dornes'; did you mean unmanned (drones)?" in problems[0].reasons[0]

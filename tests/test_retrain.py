"""`corridor retrain` end to end, in a clean state directory, on the real catalogue and the real encoder:

1. the catalogue as it stood at the end of 2022 (a catalogue version built from the shipped one), the shipped
   model being served by a real `corridor serve`;
2. a corrupt release stops the run with a clear error and exit code 2: the catalogue version and the served
   model stay, and the server keeps answering;
3. the 2023 slice in the CORDIS export layout (Horizon Europe) and in the EDF results layout: `corridor
   retrain --from ...` refreshes, embeds, retrains the tagger (its weak labels changed), trains, evaluates,
   promotes (exit code 0) and writes a report listing the new projects;
4. the running server swaps in the new catalogue and model without a restart;
5. a second run with nothing new trains nothing and says "kept" (exit code 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recommender.catalogue import load_catalogue
from recommender.catalogue.build import catalogue_until
from recommender.catalogue.versions import CatalogueVersions
from tests.release_files import write_cordis_export, write_edf_results
from tests.server_support import REPO, Server, run_cli

pytestmark = pytest.mark.slow
SHIPPED = REPO / "data"


def _retrain(env, *args) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "cli", "retrain", "--json", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    try:
        outcome = json.loads(done.stdout)
    except json.JSONDecodeError:
        outcome = {}
    return done.returncode, outcome, done.stderr


def test_retrain_refreshes_trains_promotes_and_a_running_server_swaps_it_in(tmp_path):
    full = load_catalogue(SHIPPED / "catalogue")
    state, ranker_dir = tmp_path / "state", tmp_path / "ranker"
    shutil.copytree(SHIPPED / "models" / "ranker", ranker_dir)
    versions = CatalogueVersions(state / "catalogue", SHIPPED / "catalogue")
    until_2022 = versions.commit(catalogue_until(full, 2022), {"kind": "the catalogue at the end of 2022"}, {}, "")
    release = write_cordis_export(full, 2023, tmp_path / "cordis-HORIZONprojects-csv.zip")
    edf = write_edf_results(full, 2023, tmp_path / "edf-2023")
    corrupt = tmp_path / "corrupt-HORIZONprojects-csv.zip"
    corrupt.write_bytes(release.read_bytes()[:4096])
    env = {**os.environ, "CORRIDOR_STATE_DIR": str(state), "CORRIDOR_RANKER_DIR": str(ranker_dir),
           "CORRIDOR_MODEL_POLL_SECONDS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for name in ("CORRIDOR_DATA_DIR", "CORRIDOR_DATABASE_URL"):
        env.pop(name, None)
    key = run_cli(env, "keys", "create", "--scope", "read").strip()
    served_before = json.loads((ranker_dir / "manifest.json").read_text())["model_version"]
    new_2023 = full.projects[(full.projects["year"] == 2023) & (full.projects["programme"] == "edf")].iloc[0]
    newcomer = sorted(set(full.participations.loc[full.participations["project_id"] == new_2023["id"], "org_id"])
                      - set(catalogue_until(full, 2022).organisations["id"]))[0]

    server = Server(env)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as http:
            assert http.get("/ready").json()["model_version"] == served_before
            assert http.get(f"/v1/organisations/{newcomer}").status_code == 404  # first seen in 2023

            code, outcome, stderr = _retrain(env, "--from", str(corrupt))
            assert code == 2 and outcome["status"] == "failed", (code, outcome, stderr)
            assert "corrupt-HORIZONprojects-csv.zip" in outcome["reason"] and "as they were" in outcome["reason"]
            assert versions.current_name() == until_2022
            assert json.loads((ranker_dir / "manifest.json").read_text())["model_version"] == served_before
            assert http.get("/ready").json()["model_version"] == served_before

            began = time.monotonic()
            code, outcome, stderr = _retrain(env, "--from", str(release), "--from", str(edf))
            seconds = time.monotonic() - began
            assert code == 0 and outcome["status"] == "promoted", (code, outcome, stderr[-3000:])
            new_version = outcome["model_version"]
            assert new_version != served_before and versions.current_name() != until_2022
            report = Path(outcome["report"]).read_text()
            assert "## New projects" in report and str(new_2023["id"]) in report and str(new_2023["title"]) in report
            html = Path(outcome["report"]).with_suffix(".html").read_text()
            assert "<table>" in html and "http" not in html.split("</style>")[0]
            assert "Korean organisations whose European top 10 changed" in report

            deadline = time.monotonic() + 240
            while http.get("/ready").json().get("model_version") != new_version:
                assert time.monotonic() < deadline, "the running server did not swap in the new model"
                time.sleep(1)
            profile = http.get(f"/v1/organisations/{newcomer}")
            assert profile.status_code == 200, profile.text  # the new catalogue version is served too
            print(f"retrain with refresh: {seconds:.0f} s")

            code, outcome, _ = _retrain(env)
            assert code == 3 and outcome["status"] == "kept" and "nothing new" in outcome["reason"]
    finally:
        server.stop()

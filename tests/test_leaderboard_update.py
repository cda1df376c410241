"""`lhcad leaderboard --update`: rebuild the tasks a results folder holds, keep the other published ones."""
from __future__ import annotations

import json

import pytest

from benchmark.leaderboard import build_leaderboard
from benchmark.leaderboard_update import Published, check_update
from benchmark.runner import plan_jobs, run_jobs

PROBES = "tests.scorers.probes"


def _run(results, task, scorer, seeds=2):
    run_jobs(plan_jobs(tasks=[task], scorers=[scorer], seeds=seeds, source="generated", results_dir=results,
                       n_boot=10), progress=False)


def test_update_keeps_published_tasks_and_rebuilds_the_others(synth_registry, tmp_path):
    from benchmark.site import build_site

    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "lb"
    _run(first, "synth/unsup", f"{PROBES}:MassScorer")
    _run(first, "synth/multi", "random")
    build_leaderboard(first, out, plots=False)
    build_site(first, out / "site")
    kept_page = (out / "synth__unsup.md").read_text()
    kept_html = (out / "site" / "synth__unsup.html").read_text()
    old_multi = json.loads((out / "synth__multi.json").read_text())

    _run(second, "synth/multi", f"{PROBES}:MassScorer", seeds=3)
    build_leaderboard(second, out, plots=False, update=True)
    build_site(second, out / "site", updated_board=out)

    # the kept task: page, data and site page untouched; the rebuilt one holds only the new entries
    assert (out / "synth__unsup.md").read_text() == kept_page
    assert (out / "site" / "synth__unsup.html").read_text() == kept_html
    board = json.loads((out / "leaderboard.json").read_text())
    assert sorted(board) == ["synth/multi", "synth/unsup"]
    assert [r["scorer"] for r in board["synth/multi"]] == ["MassScorer"] != [r["scorer"] for r in old_multi]
    assert [r["scorer"] for r in board["synth/unsup"]] == ["MassScorer"]
    # the summary carries the kept column and the rebuilt one side by side
    summary = {(r["scorer"], r["source"]): r for r in json.loads((out / "summary.json").read_text())}
    assert set(summary[("MassScorer", "generated")]["auc"]) == {"synth/multi", "synth/unsup"}
    assert ("random", "generated") not in summary  # its only task was rebuilt without it
    csv_header = (out / "summary.csv").read_text().splitlines()[0]
    assert csv_header == "scorer,source,synth/multi AUC,synth/unsup AUC"
    index = (out / "README.md").read_text()
    assert "## [synth/unsup](synth__unsup.md)" in index and "## [synth/multi](synth__multi.md)" in index
    assert index.index("## [synth/multi]") < index.index("## [synth/unsup]")
    site_index = (out / "site" / "index.html").read_text()
    assert 'href="synth__unsup.html"' in site_index and 'href="synth__multi.html"' in site_index
    assert 'data-value="' in site_index  # summary cells sort by their AUC

    # without --update the rebuild holds only what the results folder holds
    build_leaderboard(second, out, plots=False)
    assert sorted(json.loads((out / "leaderboard.json").read_text())) == ["synth/multi"]


def test_update_refuses_to_mix_dark_machines_channels():
    published = Published(tasks={"darkmachines/chan1": [], "darkmachines/chan2b": [], "top/qcd-vs-top": []})
    check_update(published, {"top/qcd-vs-top"})  # no channel touched: fine
    check_update(published, {"darkmachines/chan1", "darkmachines/chan2b", "darkmachines/chan3"})
    with pytest.raises(ValueError, match="must also rebuild the published darkmachines/chan2b"):
        check_update(published, {"darkmachines/chan1"})


def test_update_of_an_unreadable_leaderboard_names_the_folder(tmp_path):
    from benchmark.leaderboard_update import read_published

    assert read_published(tmp_path).tasks == {}  # nothing published yet: an update is a plain build
    (tmp_path / "leaderboard.json").write_text("{}")
    with pytest.raises(ValueError, match=str(tmp_path)):
        read_published(tmp_path)

"""Recipes: registry agreement (datasets.yaml documents exactly what runs), Pythia accepts them."""
from __future__ import annotations

import pytest

from benchmark.generate import RECIPES, get_recipe
from benchmark.generate.pythia import recipe_fingerprint
from benchmark.registry import load_registry


def test_one_recipe_per_process_family():
    assert set(RECIPES) == {"top", "darkjets", "zprime", "lhco", "darkmachines"}
    with pytest.raises(KeyError, match="did you mean"):
        get_recipe("tpo")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_registry_generated_block_matches_recipe(name):
    recipe = RECIPES[name]
    spec = load_registry().dataset(recipe.dataset)
    source = spec.source("generated")
    assert source.recipe == name
    if name == "darkmachines":  # per-process classes; the source holds the mixed background and the signals
        from benchmark.generate.dm_recipes import channel_classes

        for channel in {c.split("/", 1)[0] for c in recipe.classes}:
            signals = set(channel_classes(channel, "signal"))
            assert set(source.classes) >= signals | {f"{channel}/background"}
            assert signals <= set(spec.classes)
    else:
        assert set(recipe.classes) == set(spec.classes)
    extra = source.extra
    assert extra["settings"] == recipe.settings_listing(), "datasets.yaml settings drifted from recipes.py"
    assert extra["selection"] == recipe.selection_dict(), "datasets.yaml selection drifted from recipes.py"
    assert isinstance(extra.get("notes"), str) and len(extra["notes"]) > 50
    assert extra["detector"] == recipe.detector_name, "datasets.yaml names another detector than recipes.py runs"
    assert len(extra.get("detector_source", "")) > 40, "say where the fact about the real detector comes from"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_shapes_match_canonical_arrays(name):
    recipe = RECIPES[name]
    arrays = set(load_registry().dataset(recipe.dataset).arrays)
    sel = recipe.selection
    if name == "darkmachines":
        assert sel.mode == "objects" and sel.n_jets == 0 and sel.objects.jet_radius == 0.4
        assert {"objects", "objects_mask", "met", "weights"} <= arrays
        return
    if name == "lhco":
        assert sel.mode == "dijet" and sel.n_jets == 2 and sel.max_constituents == 279 and sel.radius == 1.0
        assert {"jet_nsubjettiness", "mjj"} <= arrays and sel.nsubjettiness
    else:
        assert sel.mode == "jets" and sel.n_jets == 1 and sel.max_constituents == 200 and sel.radius == 0.8
    assert {"constituents", "constituents_mask", "jets", "weights"} <= arrays


def test_key_physics_settings():
    top = RECIPES["top"]
    assert "Beams:eCM = 14000." in top.settings("top") and "PartonLevel:MPI = off" in top.settings("qcd")
    assert top.classes["top"].match == "top"
    assert (top.selection.jet_pt_min, top.selection.jet_pt_max, top.selection.jet_abs_eta_max) == (550, 650, 2)
    dark = RECIPES["darkjets"]
    assert "4900023:m0 = 2000." in dark.settings("aachen") and "HiddenValley:probVector = 0.25" in dark.settings("aachen")
    assert "4900001:m0 = 50." in dark.settings("heidelberg") and "4900111:m0 = 10." in dark.settings("heidelberg")
    assert (dark.selection.jet_pt_min, dark.selection.jet_pt_max) == (150, 300)
    zp = RECIPES["zprime"]
    assert {"4900023:m0 = 1400.", "4900101:m0 = 75.", "4900111:m0 = 150."} <= set(zp.settings("zprime"))
    lhco = RECIPES["lhco"]
    sig = lhco.settings("signal")
    assert {"34:m0 = 3500.", "24:m0 = 500.", "23:m0 = 100.", "PartonLevel:MPI = off", "Beams:eCM = 13000."} <= set(sig)
    assert "23:oneChannel = 1 1.0 101 1 1 2" in lhco.settings("signal_qqq")
    assert lhco.selection.lead_pt_min == 1200 and lhco.classes["extra_qcd"].mjj_window == (3300, 3700)


def test_fingerprint_tracks_settings():
    import dataclasses

    top = RECIPES["top"]
    other = dataclasses.replace(top, common=(*top.common, "PhaseSpace:pTHatMin = 400."))
    assert recipe_fingerprint(top, "qcd") != recipe_fingerprint(other, "qcd")
    assert recipe_fingerprint(top, "qcd") != recipe_fingerprint(top, "top")
    assert recipe_fingerprint(top, "qcd") == recipe_fingerprint(RECIPES["top"], "qcd")


@pytest.mark.parametrize("name,cls", [(n, c) for n in sorted(RECIPES) for c in RECIPES[n].classes])
def test_pythia_accepts_and_initialises(name, cls):
    pytest.importorskip("pythia8mc")
    from benchmark.generate.pythia import make_pythia

    py = make_pythia(RECIPES[name], cls, 12345)  # raises on a rejected setting or a failed init()
    assert py.settings.mode("Random:seed") == 12345


def test_hidden_valley_meson_decays_are_switched_on():
    pytest.importorskip("pythia8mc")
    from benchmark.generate.pythia import make_pythia

    for name, cls, stable in (("darkjets", "heidelberg", ()), ("zprime", "zprime", ()),
                              ("darkjets", "aachen", (4900111,))):
        py = make_pythia(RECIPES[name], cls, 1)
        pd = py.particleData
        for code in (4900111, 4900113):
            entry = pd.particleDataEntryPtr(code)
            if code in stable:
                assert not entry.mayDecay()
                continue
            open_br = sum(entry.channel(k).bRatio() for k in range(entry.sizeChannels())
                          if entry.channel(k).onMode() > 0)
            assert open_br > 0, (name, cls, code)
            # vector mesons decay to quarks only
            if code == 4900113:
                for k in range(entry.sizeChannels()):
                    ch = entry.channel(k)
                    if ch.onMode() > 0:
                        assert abs(ch.product(0)) <= 6
        # the Zv of the dark-quark recipes decays to dark quarks only
        if cls in ("aachen", "zprime"):
            zv = pd.particleDataEntryPtr(4900023)
            on = [abs(zv.channel(k).product(0)) for k in range(zv.sizeChannels()) if zv.channel(k).onMode() > 0]
            assert on and set(on) == {4900101}

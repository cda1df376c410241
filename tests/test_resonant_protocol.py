"""Resonant protocol: the background template (who gets it, that it is independent of the data) and
the paper's max-SIC variant beside the harness's."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmark import metrics as M
from benchmark.protocols.resonant import PAPER_SIC_EPS_B_FLOOR, max_sic_paper


def _brute_force_paper_sic(y: np.ndarray, s: np.ndarray) -> float:
    """The paper's code path, literally: sklearn ROC, SIC = tpr/sqrt(fpr), SIC = 1 where fpr < 1e-4."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = tpr / np.sqrt(fpr)
    sic[fpr < 1e-4] = 1.0
    return float(np.nanmax(sic))


def test_max_sic_paper_matches_the_reference_code_path():
    rng = np.random.default_rng(0)
    for n_bkg in (30000, 2000):
        y = np.concatenate([np.zeros(n_bkg), np.ones(500)])
        s = np.concatenate([rng.normal(0, 1, n_bkg), rng.normal(2.5, 1, 500)])
        assert max_sic_paper(y, s) == pytest.approx(_brute_force_paper_sic(y, s), rel=1e-12)


def test_max_sic_paper_differs_from_the_low_statistics_rule():
    """One background event above all signal, then all signal: at eps_B = 1/20000 < 1e-4 the
    unconstrained SIC is 1/sqrt(5e-5) = 141.4, which the paper's variant replaces by 1, so its max
    is the next point, 1/sqrt(1e-4) = 100; the harness's rule (>= 10 background events pass) reads
    1/sqrt(10/20000) = 44.7. Three conventions, three numbers: the record must say which is which."""
    n_bkg = 20000
    y = np.concatenate([np.zeros(n_bkg), np.ones(100)])
    s = np.concatenate([np.linspace(0, 1, n_bkg), np.full(100, 1.5)])
    s[n_bkg - 1] = 2.0  # one background event on top
    harness = M.max_sic(M.roc_curve(y, s))
    paper = max_sic_paper(y, s)
    assert paper == pytest.approx(_brute_force_paper_sic(y, s))
    assert harness.unconstrained == pytest.approx(np.sqrt(n_bkg))
    assert paper == pytest.approx(1 / np.sqrt(2 / n_bkg))
    assert harness.value == pytest.approx(1 / np.sqrt(10 / n_bkg))
    assert PAPER_SIC_EPS_B_FLOOR == 1e-4


def test_judge_reports_both_max_sics_for_resonant_tasks():
    from benchmark.judge import judge
    from benchmark.registry import load_registry

    task = load_registry().task("lhco/rnd")
    rng = np.random.default_rng(1)
    y = np.concatenate([np.zeros(3000), np.ones(300)]).astype(np.int8)
    s = np.concatenate([rng.normal(0, 1, 3000), rng.normal(1.5, 1, 300)])
    out = judge(task, y, s, None, np.where(y == 1, "signal", "background").astype(object), n_boot=0, seed=0)
    assert out["metrics"]["max_sic_paper"] == pytest.approx(max_sic_paper(y, s))
    assert "max_sic" in out["metrics"]


def test_registry_names_the_background_template():
    from benchmark.registry import ClassRef, load_registry

    spec = load_registry().task("lhco/rnd").resonant
    assert spec.background_template == ClassRef("lhco", "extra_qcd")


def test_unknown_template_class_names_the_yaml_path(tmp_path, monkeypatch):
    from benchmark.registry import load_registry

    text = (Path(__file__).resolve().parents[1] / "datasets.yaml").read_text()
    text = text.replace("background_template: lhco:extra_qcd", "background_template: lhco:extra_qdc")
    reg = tmp_path / "datasets.yaml"
    reg.write_text(text)
    monkeypatch.setenv("LHCAD_REGISTRY", str(reg))
    with pytest.raises(Exception, match=r"lhco/rnd\.resonant\.background_template"):
        load_registry(reg)


def test_template_is_sr_background_from_its_own_class_and_changes_no_split():
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    task = load_registry().task("lhco/rnd")
    data = build_task_data(task, "generated", 0, injection=0, sizes={"test": 600})
    tmpl = data.background_template
    assert tmpl is not None and data.provenance["background_template"] == "lhco:extra_qcd"
    lo, hi = task.resonant.signal_region
    assert np.all((tmpl["mjj"] > lo) & (tmpl["mjj"] < hi))
    assert data.provenance["counts"]["background_template"] == len(tmpl)
    # independent of the data and the test events: no event shared (ids carry the class namespace)
    assert not set(tmpl.event_id) & (set(data.train.event_id) | set(data.test.event_id))
    # the splits are those of the task without a template
    import dataclasses

    from benchmark.tasks import resonant_split, task_sizes
    from benchmark.data import load_class

    classes = {ref: load_class(ref.dataset, ref.name, "generated") for ref in (*task.background, *task.signal)}
    # the sizes build_task_data resolves (the generated train size caps the analysis-window data)
    bare = resonant_split(dataclasses.replace(task, resonant=dataclasses.replace(task.resonant, background_template=None)),
                          "generated", 0, classes, task_sizes(task, "generated", {"test": 600}), 0)
    assert np.array_equal(bare.train.event_id, data.train.event_id)
    assert np.array_equal(bare.test.event_id, data.test.event_id)


def test_signal_train_is_sr_signal_outside_the_test_set_and_the_same_at_every_injection():
    """The supervised reference's labelled signal: SR events of the signal class, none of them a
    test event (ids carry the class namespace and are unique), independent of the injection, and
    the data, sideband and test split are those of a task without it."""
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    task = load_registry().task("lhco/rnd")
    lo, hi = task.resonant.signal_region
    by_inj = {inj: build_task_data(task, "generated", 0, injection=inj, sizes={"test": 600}) for inj in (0, 1000)}
    for data in by_inj.values():
        sig = data.signal_train
        assert sig is not None and len(sig) > 500
        assert np.all((sig["mjj"] > lo) & (sig["mjj"] < hi))
        test_signal_ids = set(data.test.event_id[data.test_labels.is_signal.astype(bool)])
        assert len(test_signal_ids) > 50 and not set(sig.event_id) & set(data.test.event_id)
        assert "signal_train" not in data.provenance["counts"]  # the data's counts stay those bundles compare
    assert np.array_equal(by_inj[0].signal_train.event_id, by_inj[1000].signal_train.event_id)
    # every SR signal event is either a test event or a training one
    from benchmark.data import load_class

    signal = load_class("lhco", "signal", "generated")
    n_sr = int(((signal["mjj"] > lo) & (signal["mjj"] < hi)).sum())
    assert len(by_inj[0].signal_train) + len(test_signal_ids) == n_sr


PROBE = textwrap.dedent('''
    import numpy as np
    from benchmark.contract import FitContext, ScorerInfo

    class Probe:
        info = ScorerInfo(name="probe", protocols=("resonant",), representation="highlevel", EXTRAS)
        def fit(self, train, *, context: FitContext):
            self.n_template = -1 if context.background_template is None else len(context.background_template)
            self.template_role = None if context.background_template is None else context.background_template.meta["role"]
            self.n_signal = -1 if context.signal_train is None else len(context.signal_train)
            self.has_labels = context.train_labels is not None
            return self
        def score(self, events):
            return np.arange(len(events), dtype=float)
''')


@pytest.mark.parametrize("extras,expect", [("extras=('background_template',)", True), ("", False),
                                           ("extras=('signal_train',)", False)])
def test_template_reaches_only_scorers_that_ask(tmp_path, extras, expect):
    from benchmark.fitting import FitRun, fit_and_score_once
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    path = tmp_path / "probe.py"
    path.write_text(PROBE.replace(", EXTRAS", (", " + extras) if extras else ""))
    task = load_registry().task("lhco/rnd")
    data = build_task_data(task, "generated", 0, injection=0, sizes={"test": 600})
    run = FitRun(0, "cpu", tmp_path, lambda m: None, {})
    _, scorer = fit_and_score_once(data, f"{path}:Probe", {}, run, train=data.train)
    if expect:
        assert scorer.n_template == len(data.background_template) and scorer.template_role == "background_template"
    else:
        assert scorer.n_template == -1
    assert scorer.n_signal == (len(data.signal_train) if "signal_train" in extras else -1)
    assert not scorer.has_labels  # no labels of any kind under the resonant protocol


@pytest.mark.parametrize("extras", [(), ("signal_train", "background_template")])
def test_sandbox_inputs_hold_only_the_extras_a_scorer_asks_for(tmp_path, extras):
    """What the sandboxed child can read: its own inputs folder. Extras it did not ask for are not
    written there at all (not merely left out of its context), and no label file is."""
    from types import SimpleNamespace

    from benchmark.isolation import _write_inputs
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    path = tmp_path / "probe.py"
    path.write_text(PROBE.replace(", EXTRAS", f", extras={extras!r}"))
    data = build_task_data(load_registry().task("lhco/rnd"), "generated", 0, injection=300,
                           sizes={"test": 300, "train": 1000})
    job = SimpleNamespace(scorer=f"{path}:Probe", params={}, seed=0, source="generated", injection=300, preset=None)
    private = tmp_path / "private"
    private.mkdir()
    _write_inputs(job, data, private, "cpu")
    written = {p.stem for p in (private / "in").glob("*.h5")}
    assert written == {"train", "test", "sideband", *extras}
    assert not list((private / "in").glob("*label*"))



def test_unknown_context_extra_is_refused():
    from benchmark.contract import ScorerInfo

    with pytest.raises(ValueError, match="unknown context extras"):
        ScorerInfo(name="x", protocols=("resonant",), extras=("labels",))

"""Each leaderboard entry states what ran: preset, device, fit time, parameters, epochs, and the
command that reruns it at the paper's size."""
from __future__ import annotations

from benchmark.leaderboard import model_card, model_card_text, paper_size_command


def _record(seed: int, fit: float, params: int | None = 416_000, epochs: int | None = 10) -> dict:
    training = {"n_parameters": params, "epochs_run": epochs} if params else None
    return {"job": {"seed": seed, "device": "cpu", "preset": "smoke", "scorer_spec": "dense-ae"},
            "timings": {"load": 5.0, "fit": fit, "score": 1.0}, "training": training}


def test_model_card_is_the_median_over_seeds():
    card = model_card([_record(0, 10.0), _record(1, 12.0), _record(2, 30.0)])
    assert card == {"preset": "smoke", "device": "cpu", "fit_time_s": 12.0, "n_parameters": 416000.0, "epochs": 10.0}
    assert model_card_text(card) == "cpu, fit 12.0 s, 416k params, 10 ep"


def test_untrained_scorer_card_and_density_ratio_fit_phases():
    record = _record(0, 0.0, params=None)
    record["timings"] = {"fit_background": 2.0, "fit_signal": 3.0, "fit_supervised_reference": 1.0}
    card = model_card([record])
    assert card["n_parameters"] is None and card["fit_time_s"] == 6.0
    assert model_card_text(card) == "cpu, fit 6.00 s"


def test_paper_size_command_only_for_entries_below_paper_size():
    assert paper_size_command("top/qcd-vs-top", [_record(0, 1.0)]) == \
        "lhcad run --scorer dense-ae --task top/qcd-vs-top --preset paper --source real --seeds 5"
    paper = _record(0, 1.0)
    paper["job"]["preset"] = "paper"
    assert paper_size_command("top/qcd-vs-top", [paper]) is None
    single_size = _record(0, 1.0)
    single_size["job"]["preset"] = None
    assert paper_size_command("top/qcd-vs-top", [single_size]) is None

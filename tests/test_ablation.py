"""Ablation tables (ssnenas/analysis/ablation.py, experiments/plus_ablation.py): variants in their own run
folders, paired by trial with a reference algorithm of another folder, early regret, cost, the page block."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssnenas.analysis.ablation import ablation
from ssnenas.analysis.pages import ablation_table
from ssnenas.analysis.runs import read_results
from ssnenas.errors import InputError


@pytest.fixture(scope="module")
def runs(ray_session, synthetic_nb201_store, tmp_path_factory):
    """A reference run (random, 4 trials) and two variant folders (rea, 3 trials; one with --set)."""
    from ssnenas.cli import main

    root = tmp_path_factory.mktemp("abl")
    common = ["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
              "--budget", "50", "--seed", "3"]
    assert main(common + ["--algos", "random", "--trials", "4", "--out", str(root / "ref")]) == 0
    assert main(common + ["--algos", "rea", "--trials", "3", "--out", str(root / "a")]) == 0
    assert main(common + ["--algos", "rea", "--trials", "3", "--out", str(root / "b"),
                          "--set", "tournament_size=2"]) == 0
    return root


def _best_at(run, algorithm: str, q: int) -> dict[int, float]:
    t = read_results(run).to_pydict()
    out: dict[int, float] = {}
    for trial, algo, query, val in zip(t["trial"], t["algorithm"], t["query"], t["val_acc"]):
        if algo == algorithm and query <= q:  # queries count from 1
            out[trial] = max(out.get(trial, -np.inf), val)
    return out


def test_rows_pair_trials_and_measure_regret_from_the_table_best(runs, synthetic_nb201_benchmark):
    doc = ablation(runs / "ref", "random", [{"label": "rea", "run": runs / "a", "algorithm": "rea"},
                                            {"label": "rea-t2", "run": runs / "b", "algorithm": "rea"}],
                   cost_reference={"run": runs / "a", "algorithm": "rea"}, queries=(30, 50))
    best = float(synthetic_nb201_benchmark.best()["val_acc"])
    assert doc["table_best"] == pytest.approx(best)
    first, second = doc["rows"]
    assert first["num_pairs"] == 3 and first["settings"] == {} and second["settings"] == {"tournament_size": 2}
    for q in (30, 50):
        ref, var = _best_at(runs / "ref", "random", q), _best_at(runs / "a", "rea", q)
        regrets = [best - var[t] for t in range(3)]
        ref_regrets = [best - ref[t] for t in range(3)]  # trial 3 of the reference has no pair
        at = first["at"][str(q)]
        assert at["regret"] == pytest.approx(np.mean(regrets))
        assert at["reference_regret"] == pytest.approx(np.mean(ref_regrets))
        assert at["delta"] == pytest.approx(np.mean(regrets) - np.mean(ref_regrets))
        d = np.subtract(regrets, ref_regrets)
        assert (at["wins"], at["losses"]) == (int((d < 0).sum()), int((d > 0).sum()))
    assert first["cost"] == pytest.approx(1.0)
    lines = ablation_table(doc)
    assert "regret @30 (Δ vs random, W/L, p)" in lines[2]
    assert lines[-1].startswith("| rea-t2 | tournament_size=2 |")


def test_variants_of_another_table_or_algorithm_are_refused(runs, tmp_path):
    with pytest.raises(InputError, match="has no algorithm 'npenas-ssccl'"):
        ablation(runs / "ref", "npenas-ssccl", [{"label": "x", "run": runs / "a", "algorithm": "rea"}])
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.json", "summary.json"):
        (other / name).write_text((runs / "a" / name).read_text())
    config = json.loads((other / "config.json").read_text())
    config["data_fingerprint"] = "0" * 64
    (other / "config.json").write_text(json.dumps(config))
    (other / "results").symlink_to(runs / "a" / "results")
    with pytest.raises(InputError, match="searched another table"):
        ablation(runs / "ref", "random", [{"label": "x", "run": other, "algorithm": "rea"}])

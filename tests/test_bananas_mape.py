"""``bananas-mape``: BANANAS with NPENASv1's NAS-Bench-201 settings, the ensemble trained with the published
MAPE loss (lower bound 4.5) instead of the MAE loss of the SSNENAS runs (search_algos/bananas.py).

On the synthetic NAS-Bench-201 table (tests/synthetic_tables.py; val errors from 8.53 up, above the bound)
with small ensembles (a few epochs, width 20, 20 candidates), so the whole file takes seconds.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from search_algos import ALGORITHMS, COHORT_SIZES, BANANAS, algorithm_settings, make_searcher, run_direct
from search_algos._cohort import fulfil, run_cohort
from search_algos.bananas import EnsembleFit, fit_predict_ensemble, mape_loss
from ssnenas.errors import InputError
from ssnenas.spaces import get_space
from trainables.tabular import tabular_evaluator

NB201 = get_space("nasbench201")
BUDGET = 20  # 5 initial, then fits on 5, 10 and 15 architectures
SMALL = {"epochs": 6, "width": 20, "num_candidates": 20, "children_per_parent": 10, "num_init": 5, "k": 5}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


def _initial(store, seed: int) -> list[str]:
    return [str(a) for a in store.column("arch")[store.sample_indices(5, np.random.default_rng(seed))]]


def _search(name: str, store, *, seed: int, initial: list[str] | None = None, **extra) -> BANANAS:
    return make_searcher(name, space="nasbench201", store=store, seed=seed, budget=BUDGET,
                         initial_archs=initial, **{**SMALL, **extra})


def _proposals(searcher: BANANAS, store) -> list[str]:
    return [r["arch"] for r in run_direct(searcher, tabular_evaluator(store), BUDGET)]


# -- the loss -------------------------------------------------------------------------------------------------
def test_mape_loss_on_a_hand_computed_example():
    pred = torch.tensor([[10.0, 6.0], [5.5, 9.0]])
    target = torch.tensor([[8.0, 7.5], [5.5, 14.5]])
    # row 0: |5.5/3.5 - 1| = 4/7, |1.5/3 - 1| = 1/2 -> mean 15/28; row 1: |1/1 - 1| = 0, |4.5/10 - 1| = 0.55
    got = mape_loss(pred, target, 4.5)
    assert got.shape == (2,)
    np.testing.assert_allclose(got.numpy(), [15 / 28, 0.275], rtol=1e-6)
    # the published form equals an absolute error weighted by 1 / (target - bound)
    np.testing.assert_allclose(got.numpy(), ((pred - target).abs() / (target - 4.5)).mean(1).numpy(), rtol=1e-6)
    assert float(mape_loss(torch.tensor([12.0]), torch.tensor([12.0]))) == 0.0  # default bound 4.5
    # a different bound weighs the same errors differently: 2/(8-0) and 1.5/(7.5-0)
    np.testing.assert_allclose(mape_loss(pred[:1], target[:1], 0.0).numpy(), [(2 / 8 + 1.5 / 7.5) / 2], rtol=1e-6)


def test_batched_fit_trains_with_the_mape_loss():
    rng = np.random.default_rng(3)
    x = np.stack([NB201.encode(NB201.sample(rng), "path") for _ in range(24)]).astype(np.float32)[:, :300]
    y = (8.0 + 2.0 * x[:, :40].sum(1)).astype(np.float64)
    xp = np.stack([NB201.encode(NB201.sample(rng), "path") for _ in range(10)]).astype(np.float32)[:, :300]
    kw = dict(ensemble_size=3, num_layers=3, width=12, epochs=12, batch_size=8, lr=0.01)
    ours = fit_predict_ensemble(x, y, xp, gen=torch.Generator().manual_seed(7), loss="mape", **kw)
    from test_searchers import _dense_reference

    published = lambda pred, target: ((pred - 4.5) / (target - 4.5) - 1).abs().mean(1)  # noqa: E731
    ref = _dense_reference(x, y, xp, gen=torch.Generator().manual_seed(7), P=3, layers=3, width=12, epochs=12,
                           bs=8, lr=0.01, loss=published)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    mae = fit_predict_ensemble(x, y, xp, gen=torch.Generator().manual_seed(7), **kw)
    assert not np.allclose(ours, mae)  # the loss setting reaches the fit
    # targets at (or below) the bound would divide by zero: refused, naming the setting and the fix
    with pytest.raises(InputError, match=r"mape_lower_bound=4.5, got an error of 4.5 .*use loss='mae'"):
        fit_predict_ensemble(x, np.where(np.arange(24) == 3, 4.5, y), xp, gen=torch.Generator(), loss="mape", **kw)
    fit_predict_ensemble(x, np.full(24, 3.0), xp, gen=torch.Generator(), **{**kw, "epochs": 1})  # MAE: any target


# -- the algorithm -------------------------------------------------------------------------------------------
def test_bananas_mape_is_registered_with_the_published_nb201_settings(store):
    assert ALGORITHMS[ALGORITHMS.index("bananas") + 1] == "bananas-mape"
    assert "bananas-mape" not in COHORT_SIZES  # cohorts of 1 by default, as bananas
    cls, settings = algorithm_settings("BANANAS-MAPE", "nb201")
    assert cls is BANANAS and settings == {"encoding": "path", "loss": "mape", "mape_lower_bound": 4.5}
    b = make_searcher("bananas-mape", space="nasbench201", store=store, seed=0, budget=100)
    plain = make_searcher("bananas", space="nasbench201", store=store, seed=0, budget=100)
    got = (b.encoding, b.loss, b.mape_lower_bound, b.ensemble_size, b.num_layers, b.width, b.epochs, b.lr,
           b.batch_size, b.num_candidates)
    assert got == ("path", "mape", 4.5, 5, 10, 200, 200, 0.001, 32, 100)  # meta_neuralnet_params('nasbench_201')
    assert (plain.loss, plain.width, plain.epochs, plain.lr) == ("mae", 200, 200, 0.001)
    # the loss is an ordinary setting: bananas with loss="mape" is bananas-mape, the bound can be moved
    assert make_searcher("bananas", space="nasbench201", store=store, seed=0, budget=10, loss="mape").loss == "mape"
    assert make_searcher("bananas-mape", space="nasbench201", store=store, seed=0, budget=10,
                         mape_lower_bound=0).mape_lower_bound == 0.0


def test_bananas_mape_proposes_other_archs_than_bananas_and_reproduces(store):
    initial = _initial(store, 0)
    mape = _proposals(_search("bananas-mape", store, seed=11, initial=initial), store)
    mae = _proposals(_search("bananas", store, seed=11, initial=initial), store)
    assert mape[:5] == mae[:5] == initial  # paired start
    assert len(mape) == len(mae) == BUDGET and len(set(mape)) == BUDGET
    assert mape[5:] != mae[5:]  # same seed, same candidates' RNG, another loss: other picks
    again = _proposals(_search("bananas-mape", store, seed=11, initial=initial), store)
    assert again == mape  # same seed, same proposals
    other = _proposals(_search("bananas-mape", store, seed=12, initial=initial), store)
    assert other[5:] != mape[5:]


def test_cohort_equals_single_searches_and_never_mixes_losses(store):
    names = ["bananas-mape", "bananas-mape", "bananas", "bananas-mape"]
    extra = [{}, {}, {}, {"mape_lower_bound": 2.0}]

    def build():
        return [_search(n, store, seed=100 + i, initial=_initial(store, i), **e)
                for i, (n, e) in enumerate(zip(names, extra))]

    alone = build()
    expected = [run_direct(s, tabular_evaluator(store), BUDGET) for s in alone]
    together = build()
    got = run_cohort(together, [tabular_evaluator(store)] * len(together), BUDGET)
    assert got == expected
    for a, b in zip(alone, together):
        assert a.timings["fits"] == b.timings["fits"] == 3
        assert torch.equal(a._torch_gen.get_state(), b._torch_gen.get_state())
    # requests of equal settings share a batch; another loss, or another bound, never does
    keys = []
    for s in build():
        x = s._encode([NB201.sample(np.random.default_rng(0))] * 4)
        keys.append(EnsembleFit(s, x, np.full(4, 9.0), x).group_key())
    assert keys[0] == keys[1] and len({keys[0], keys[2], keys[3]}) == 3
    # and a mixed batch answered by fulfil gives each request what it gets alone
    reqs = []
    for s in build()[1:]:
        x = s._encode([NB201.sample(np.random.default_rng(j)) for j in range(6)])
        reqs.append(EnsembleFit(s, x, np.linspace(9, 20, 6), x))
    mixed = fulfil(reqs)
    for s, r, m in zip(build()[1:], reqs, mixed):
        single = EnsembleFit(s, r.task[0], r.task[1], r.task[2])
        np.testing.assert_array_equal(fulfil([single])[0], m)


# -- bad settings ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting, value, message", [
    ("loss", "mse", r"loss='mse' is unknown; choose one of mae, mape"),
    ("loss", "MAPE", r"loss='MAPE' is unknown"),
    ("loss", None, r"loss=None is unknown"),
    ("mape_lower_bound", "4.5", r"mape_lower_bound='4.5' is not a finite number"),
    ("mape_lower_bound", float("nan"), r"mape_lower_bound=nan is not a finite number"),
    ("mape_lower_bound", float("inf"), r"mape_lower_bound=inf is not a finite number"),
    ("mape_lower_bound", True, r"mape_lower_bound=True is not a finite number"),
    ("mape_lower_bound", [4.5], r"mape_lower_bound=\[4.5\] is not a finite number"),
])
def test_bad_settings_raise_input_error_naming_the_setting(store, setting, value, message):
    for name in ("bananas", "bananas-mape"):
        with pytest.raises(InputError, match=message):
            make_searcher(name, space="nasbench201", store=store, seed=0, budget=10, **{setting: value})
    with pytest.raises(InputError, match=message):
        fit_predict_ensemble(np.ones((2, 3), np.float32), np.array([9.0, 10.0]), np.ones((1, 3), np.float32),
                             gen=torch.Generator(), **{setting: value})


def test_errors_under_the_bound_stop_the_search_with_a_clear_message(store):
    s = _search("bananas-mape", store, seed=0, mape_lower_bound=50.0)  # synthetic val errors start at 8.53
    with pytest.raises(InputError, match=r"loss='mape' needs every training error above mape_lower_bound=50.0"):
        run_direct(s, tabular_evaluator(store), BUDGET)

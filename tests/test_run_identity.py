"""A run's identity by content, and runs that grow (issue 28.2): a run records its store's content and
is extended only with a store of the same content (one line naming the differing field otherwise);
``--trials`` grows a run like ``--algos``, and the grown run equals, result for result, one made at
its size. That runs recorded before stores were fingerprinted still resume needs the real NB201 table
they were made on: tests/test_shared_tables.py."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import search_algos
from ssnenas.analysis.runs import finished_tasks, result_path
from ssnenas.cli import main
from ssnenas.errors import InputError
from ssnenas.runner import BenchmarkConfig, run_benchmark
from ssnenas.store.content import store_identity

ALGOS = ("random", "rea", "npenas-np")
SETTINGS = {"npenas-np": {"epochs": 5, "num_candidates": 20, "children_per_parent": 10}}
TIMES = ("wall_time_s", "search_time_s", "node_id")


def config(store: Path, out: Path, **kw) -> BenchmarkConfig:
    args = {**dict(space="nasbench201", data=store, algorithms=ALGOS, trials=4, budget=20, seed=11, out=out,
                   progress=False), **kw}
    args["overrides"] = {a: s for a, s in SETTINGS.items() if a in args["algorithms"]}  # --set for --algos only
    return BenchmarkConfig(**args)


def rows(path: Path) -> pa.Table:
    """A result file without the columns that measure time or place."""
    table = pq.read_table(path)
    return table.select([c for c in table.column_names
                         if c not in TIMES and not (c.startswith("timing_") and c.endswith("_s"))])


@pytest.fixture(scope="module")
def store_without_test(synthetic_nb201_csv, tmp_path_factory) -> Path:
    """The synthetic NB201 CSV prepared as synthetic_nb201_store, but without --test-column."""
    from ssnenas.store.nasbench201 import prepare_nasbench201

    out = tmp_path_factory.mktemp("no_test_column")
    prepare_nasbench201(synthetic_nb201_csv, "cifar10-valid", out, val_column="cifar10-valid_val_acc",
                        test_column=None)
    return out


@pytest.fixture(scope="module")
def at_once(ray_session, synthetic_nb201_store, tmp_path_factory) -> Path:
    """The 8-trial run made at once."""
    out = tmp_path_factory.mktemp("at_once") / "run"
    assert run_benchmark(config(synthetic_nb201_store, out, trials=8), search_algos.REGISTRY)["complete"]
    return out


def test_a_run_grown_from_4_to_8_trials_equals_one_made_with_8(at_once, synthetic_nb201_store, tmp_path):
    run = tmp_path / "grown"
    first = run_benchmark(config(synthetic_nb201_store, run), search_algos.REGISTRY)
    assert first["complete"] and first["tasks_run"] == 12
    kept = {k: p.read_bytes() for k, p in finished_tasks(run).items()}
    grown = run_benchmark(config(synthetic_nb201_store, run, trials=8), search_algos.REGISTRY)
    assert grown["complete"] and grown["tasks_done_before"] == 12 and grown["tasks_run"] == 12
    assert {k: finished_tasks(run)[k].read_bytes() for k in kept} == kept  # the first 4 trials untouched
    files, once = finished_tasks(run), finished_tasks(at_once)
    assert sorted(files) == sorted(once) and len(files) == 24
    for key in files:  # result for result: the same rows and the same recorded identity
        assert rows(files[key]).equals(rows(once[key])), key
        assert (pq.read_schema(files[key]).metadata == pq.read_schema(once[key]).metadata), key
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["trials"] == 8 and cfg["algorithms"] == list(ALGOS)
    assert [(e["added"], e["trials"]) for e in cfg["extended"]] == [([], {"from": 4, "to": 8})]
    assert cfg["store"] == store_identity(synthetic_nb201_store)
    # grown to 8, it is an 8-trial run: fewer trials are another run, refused in one line
    with pytest.raises(InputError, match=r"trials: 4 now vs 8 there.*--algos/--trials may grow it"):
        run_benchmark(config(synthetic_nb201_store, run), search_algos.REGISTRY)
    # and the same size again has nothing to do
    assert run_benchmark(config(synthetic_nb201_store, run, trials=8), search_algos.REGISTRY)["already_complete"]


def test_more_algorithms_and_more_trials_at_once(at_once, synthetic_nb201_store, tmp_path):
    run = tmp_path / "run"
    assert run_benchmark(config(synthetic_nb201_store, run, algorithms=("random",), trials=2),
                         search_algos.REGISTRY)["complete"]
    summary = run_benchmark(config(synthetic_nb201_store, run, trials=8), search_algos.REGISTRY)
    assert summary["complete"] and summary["tasks_done_before"] == 2 and summary["tasks_run"] == 22
    for key, path in finished_tasks(run).items():
        assert rows(path).equals(rows(finished_tasks(at_once)[key])), key
    entry = json.loads((run / "config.json").read_text())["extended"][-1]
    assert entry["added"] == ["rea", "npenas-np"] and entry["trials"] == {"from": 2, "to": 8}


def test_a_store_without_the_test_column_does_not_extend_a_run_made_with_it(
        ray_session, synthetic_nb201_store, store_without_test, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_benchmark(config(synthetic_nb201_store, run, algorithms=("random",), trials=2),
                         search_algos.REGISTRY)["complete"]
    before = {k: p.read_bytes() for k, p in finished_tasks(run).items()}
    config_before = (run / "config.json").read_bytes()
    # the same source CSV: the file fingerprint agrees, the content does not
    same_source = json.loads(config_before)["data_fingerprint"]
    from ssnenas.store import BenchmarkStore

    assert BenchmarkStore.open(store_without_test).fingerprint == same_source
    rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(store_without_test),
               "--algos", "random", "rea", "--trials", "2", "--budget", "20", "--seed", "11", "--out", str(run)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: --out {run} holds a run with a different config (store value_columns: "
                          "['val_acc'] now vs ['val_acc', 'test_acc'] there; store values_sha256: "), err
    assert "data_fingerprint" not in err
    assert {k: p.read_bytes() for k, p in finished_tasks(run).items()} == before
    assert (run / "config.json").read_bytes() == config_before and not (run / ".lock").exists()


def test_content_decides_where_both_configs_have_it(ray_session, synthetic_nb201_store, tmp_path):
    """A store of the same content from a file with another fingerprint (re-saved, moved) is the same
    run; a run recorded before stores were fingerprinted resumes and gains the fingerprint."""
    run = tmp_path / "run"
    cfg = config(synthetic_nb201_store, run, algorithms=("random",), trials=3)
    assert run_benchmark(cfg, search_algos.REGISTRY)["complete"]
    path = run / "config.json"
    recorded = json.loads(path.read_text())
    path.write_text(json.dumps({**recorded, "data_fingerprint": "0" * 64}))  # another source file
    result_path(run, 2, "random").unlink()
    summary = run_benchmark(cfg, search_algos.REGISTRY)
    assert summary["complete"] and summary["tasks_run"] == 1
    # an old run: no "store" recorded; compared by the source file's fingerprint as before
    old = {k: v for k, v in recorded.items() if k != "store"}
    path.write_text(json.dumps(old))
    result_path(run, 1, "random").unlink()
    summary = run_benchmark(cfg, search_algos.REGISTRY)
    assert summary["complete"] and summary["tasks_run"] == 1
    assert json.loads(path.read_text())["store"] == recorded["store"]  # recorded from now on
    path.write_text(json.dumps({**old, "data_fingerprint": "0" * 64}))
    with pytest.raises(InputError, match=r"data_fingerprint: '[0-9a-f]{64}' now vs '0{64}' there"):
        run_benchmark(cfg, search_algos.REGISTRY)

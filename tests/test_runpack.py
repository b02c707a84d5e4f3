"""``ssnenas pack`` / ``ssnenas unpack`` (ssnenas.analysis.runpack) on run folders written with the
runner's own writer: byte-equal round trips of result files of different schemas, merging, and the
one-line errors that leave every file as it was. The round trip through a real (toy-searcher) run and
its resume is in test_benchmark_runner.py."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ssnenas.analysis.runpack import pack_run, unpack_run
from ssnenas.analysis.runs import finished_tasks, write_result
from ssnenas.atomic import atomic_json
from ssnenas.cli import main
from ssnenas.errors import InputError

CONFIG = {"kind": "benchmark", "format_version": 1, "space": "nasbench201", "benchmark": "nasbench201",
          "dataset": "cifar100", "data_fingerprint": "f" * 64, "algorithms": ["rea", "npenas-ssrl-fixed:20"],
          "trials": 3, "budget": 4, "seed": 3, "num_initial": 10, "initial_sampling": "store",
          "predictors": {"ss-rl": {"path": "/ckpt/a.pt", "sha256": "a" * 64, "weights_sha256": "w" * 64}},
          "overrides": {}, "created": "2026-12-02T08:00:00+00:00"}


def _table(trial: int, algorithm: str, timings: bool) -> pa.Table:
    n = 4
    cols = {"trial": pa.array([trial] * n, pa.int32()), "algorithm": [algorithm] * n,
            "query": pa.array(range(1, n + 1), pa.int32()), "arch": [f"a{trial}{i}" for i in range(n)],
            "key": [f"a{trial}0", f"k{trial}1", None, f"a{trial}3"],  # = arch, another string, null, = arch
            "val_acc": [70.0 + trial + i / 3 for i in range(n)],
            "test_acc": pa.array([None] * n, pa.float64())}  # cifar100: no test column
    if timings:
        cols["timing_fits"] = [float(trial)] * n
        cols["timing_predictor_fit_s"] = [0.1 * trial + 1e-9] * n
    return pa.table(cols)


@pytest.fixture
def run(tmp_path) -> Path:
    """3 trials of REA (no timing columns) and of a -fixed:20 variant (timings; a %-escaped file name),
    the second with another result metadata, as after an extension."""
    run = tmp_path / "run"
    atomic_json(run / "config.json", CONFIG)
    atomic_json(run / "summary.json", {"wall_time_s": 12.5, "complete": True})
    for trial in range(3):
        write_result(run, trial, "rea", _table(trial, "rea", False), {"config_sha256": "1", "ssnenas_version": "x"})
        write_result(run, trial, "npenas-ssrl-fixed:20", _table(trial, "npenas-ssrl-fixed:20", True),
                     {"config_sha256": "2", "ssnenas_version": "x"})
    return run


def _files(run: Path) -> dict[tuple[int, str], bytes]:
    return {k: p.read_bytes() for k, p in finished_tasks(run).items()}


def test_unpack_recreates_every_file_byte_for_byte(run, tmp_path):
    info = pack_run(run, tmp_path / "p.parquet")
    assert info["tasks"] == 6 and info["rows"] == 24 and info["algorithms"] == {"npenas-ssrl-fixed:20": 3, "rea": 3}
    assert not (tmp_path / "run2").exists()
    out = unpack_run(tmp_path / "p.parquet", tmp_path / "run2")
    assert out == {"run": str(tmp_path / "run2"), "written": 6, "kept": 0,
                   "algorithms": {"npenas-ssrl-fixed:20": 3, "rea": 3}}
    assert _files(tmp_path / "run2") == _files(run)
    for name in ("config.json", "summary.json"):
        assert (tmp_path / "run2" / name).read_bytes() == (run / name).read_bytes()
    rea = pq.read_table(finished_tasks(tmp_path / "run2")[(1, "rea")])
    assert "timing_fits" not in rea.column_names and rea.schema.field("test_acc").type == pa.float64()


def test_packs_of_parts_merge_and_never_overwrite(run, tmp_path):
    pack_run(run, tmp_path / "rea.parquet", ["rea"])
    pack_run(run, tmp_path / "all.parquet")
    assert unpack_run(tmp_path / "rea.parquet", tmp_path / "m")["written"] == 3
    assert sorted(finished_tasks(tmp_path / "m")) == [(t, "rea") for t in range(3)]
    kept = finished_tasks(tmp_path / "m")[(0, "rea")]
    kept.write_bytes(kept.read_bytes())  # same bytes; a later unpack must not replace the file
    before = kept.stat().st_mtime_ns
    out = unpack_run(tmp_path / "all.parquet", tmp_path / "m")
    assert (out["written"], out["kept"]) == (3, 3) and kept.stat().st_mtime_ns == before
    assert _files(tmp_path / "m") == _files(run)
    assert unpack_run(tmp_path / "all.parquet", tmp_path / "m")["written"] == 0


def test_packs_from_before_and_after_an_extension_merge_into_the_larger_config(run, tmp_path):
    before = tmp_path / "before"  # the run before `--algos` added the -fixed:20 variant
    atomic_json(before / "config.json", {**CONFIG, "algorithms": ["rea"], "predictors": {}})
    for trial in range(3):
        write_result(before, trial, "rea", _table(trial, "rea", False), {"config_sha256": "1"})
    pack_run(before, tmp_path / "old.parquet")
    pack_run(run, tmp_path / "new.parquet", ["npenas-ssrl-fixed:20"])
    for order in (("old", "new"), ("new", "old")):
        target = tmp_path / "-".join(order)
        assert [unpack_run(tmp_path / f"{name}.parquet", target)["written"] for name in order] == [3, 3]
        assert json.loads((target / "config.json").read_text()) == CONFIG
        assert sorted(finished_tasks(target)) == sorted(finished_tasks(run))
    # the same weights elsewhere are the same study; other weights are another one
    moved = {"ss-rl": {"path": "/elsewhere/b.pt", "sha256": "b" * 64, "weights_sha256": "w" * 64}}
    atomic_json(tmp_path / "c" / "config.json", {**CONFIG, "predictors": moved})
    assert unpack_run(tmp_path / "new.parquet", tmp_path / "c")["written"] == 3
    retrained = {"ss-rl": {**moved["ss-rl"], "weights_sha256": "v" * 64}}
    atomic_json(tmp_path / "d" / "config.json", {**CONFIG, "predictors": retrained})
    with pytest.raises(InputError, match="predictors: .*a.pt.* in the pack vs .*b.pt.* there"):
        unpack_run(tmp_path / "new.parquet", tmp_path / "d")


def test_unpack_into_another_study_is_an_error_that_writes_nothing(run, tmp_path):
    pack_run(run, tmp_path / "p.parquet")
    other = tmp_path / "other"
    atomic_json(other / "config.json", {**CONFIG, "seed": 4})
    with pytest.raises(InputError, match=r"holds another run than .*seed: 3 in the pack vs 4 there.*new folder"):
        unpack_run(tmp_path / "p.parquet", other)
    assert not finished_tasks(other)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(InputError, match="non-empty folder that is not a benchmark run"):
        unpack_run(tmp_path / "p.parquet", tmp_path / "notes")


def test_benchmark_out_and_unpack_refuse_the_same_folders(run, tmp_path):
    """One folder check (analysis.runs.holds_run) serves `benchmark --out` and `unpack`: a file or a
    non-empty folder that is not a run is refused by both and left as it was; hidden files do not count."""
    from ssnenas.runner.folder import check_run_folder as _check_run_folder

    pack_run(run, tmp_path / "p.parquet")
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("y")
    for folder, message in ((a_file, "exists and is not a directory"),
                            (notes, "a non-empty folder that is not a benchmark run")):
        with pytest.raises(InputError, match=f"^--out {folder}: {message}"):
            _check_run_folder(folder, CONFIG)
        with pytest.raises(InputError, match=f"^{folder}: {message}"):
            unpack_run(tmp_path / "p.parquet", folder)
    assert a_file.read_text() == "x" and [p.name for p in notes.iterdir()] == ["a.txt"]
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / ".DS_Store").write_text("")
    _check_run_folder(hidden, CONFIG)  # a new run may go there
    assert unpack_run(tmp_path / "p.parquet", hidden)["written"] == len(finished_tasks(run))


@pytest.mark.parametrize("content, message", [
    (None, "no such pack file"),
    (b"hello", "not a Parquet file"),
    ("plain", "a Parquet file but not a run pack"),
])
def test_a_file_that_is_not_a_pack_is_named(content, message, tmp_path):
    f = tmp_path / "x.parquet"
    if content == "plain":
        pq.write_table(pa.table({"a": [1]}), f)
    elif content is not None:
        f.write_bytes(content)
    with pytest.raises(InputError, match=message):
        unpack_run(f, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_pack_names_what_it_cannot_pack(run, tmp_path):
    with pytest.raises(InputError, match=r"--algos bananas: not in .*its algorithms: rea npenas-ssrl-fixed:20"):
        pack_run(run, tmp_path / "p.parquet", ["bananas"])
    empty = tmp_path / "empty"
    atomic_json(empty / "config.json", CONFIG)
    with pytest.raises(InputError, match="no finished tasks to pack"):
        pack_run(empty, tmp_path / "p.parquet")
    with pytest.raises(InputError, match="not a run folder"):
        pack_run(tmp_path / "nowhere", tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()


def test_command_line_prints_one_line_or_json_and_errors_exit_2(run, tmp_path, capsys):
    assert main(["pack", str(run), str(tmp_path / "p.parquet")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("packed 6 finished tasks (npenas-ssrl-fixed:20 3, rea 3; 24 rows) into ")
    assert main(["unpack", str(tmp_path / "p.parquet"), str(tmp_path / "r2"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 6
    assert main(["unpack", str(tmp_path / "p.parquet"), str(tmp_path / "r2")]) == 0
    assert "unpacked 0 finished tasks" in capsys.readouterr().out
    assert main(["unpack", str(tmp_path / "missing.parquet"), str(tmp_path / "r3")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no such pack file" in err and "\n" not in err


def test_committed_packs_still_unpack(tmp_path):
    """The packs under experiments/results/benchmark/packs/ pass the whole-pack validation and unpack."""
    packs = Path(__file__).resolve().parents[1] / "experiments" / "results" / "benchmark" / "packs"
    pack = packs / "nb201-cifar100-600-bananas.parquet"
    if not pack.is_file():
        pytest.skip(f"{pack} not in this checkout")
    out = unpack_run(pack, tmp_path / "run")
    assert out["written"] == 600 and out["algorithms"] == {"bananas": 600}
    tasks = finished_tasks(tmp_path / "run")
    assert sorted(tasks) == [(t, "bananas") for t in range(600)]
    table = pq.read_table(tasks[(599, "bananas")])
    assert table.num_rows == 100 and set(table["trial"].to_pylist()) == {599}
    assert not [p.name for p in tmp_path.iterdir() if ".unpack-" in p.name]


def test_pack_replaces_only_a_pack_of_the_same_study(run, tmp_path):
    pack_run(run, tmp_path / "p.parquet")
    other = tmp_path / "other"
    atomic_json(other / "config.json", {**CONFIG, "seed": 9})
    write_result(other, 0, "rea", _table(0, "rea", False), {"config_sha256": "9"})
    before = (tmp_path / "p.parquet").read_bytes()
    with pytest.raises(InputError, match=r"p.parquet: a pack of another run \(seed differ\)"):
        pack_run(other, tmp_path / "p.parquet")
    assert (tmp_path / "p.parquet").read_bytes() == before
    assert pack_run(run, tmp_path / "p.parquet", ["rea"])["tasks"] == 3  # same study: replaced


def test_unpack_asks_the_run_folder_lock_first(run, tmp_path, monkeypatch):
    """A folder a running driver holds is refused through runpack.check_not_in_use (the lock's seam)."""
    from ssnenas import runfolder

    pack_run(run, tmp_path / "p.parquet")
    asked = []

    def busy(folder, command):
        asked.append((Path(folder), command))
        raise InputError(f"{folder}: in use by a running benchmark; wait for it")

    monkeypatch.setattr(runfolder, "check_not_in_use", busy, raising=False)
    with pytest.raises(InputError, match="in use"):
        unpack_run(tmp_path / "p.parquet", tmp_path / "busy")
    assert asked == [(tmp_path / "busy", "unpack")] and not (tmp_path / "busy").exists()


def test_unpack_into_an_existing_run_moves_files_in_and_leaves_no_temporary(run, tmp_path):
    pack_run(run, tmp_path / "p.parquet")
    target = tmp_path / "t"
    atomic_json(target / "config.json", CONFIG)
    mine = write_result(target, 1, "rea", _table(1, "rea", False), {"config_sha256": "mine"}).read_bytes()
    out = unpack_run(tmp_path / "p.parquet", target)
    assert (out["written"], out["kept"]) == (5, 1)
    files = _files(target)
    assert files.pop((1, "rea")) == mine  # kept as it was
    assert files == {k: v for k, v in _files(run).items() if k != (1, "rea")}
    assert not (target / "summary.json").exists()  # an existing run keeps its own (absent) summary
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

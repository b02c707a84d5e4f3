"""Packs cannot lie or leak: ``ssnenas unpack`` checks a whole pack before it writes anything and
writes only inside RUN; ``ssnenas pack`` never replaces a file that is not a pack of the same run.

Every forged pack below starts from a real pack of a small run (3 trials of two algorithms, 4 rows
per task) and changes one thing in its header, the way someone could edit a file before sending it.
Each refusal is one line on stderr with exit status 2, and leaves nothing behind: no RUN folder, no
temporary folder next to it, no file outside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ssnenas.analysis.runpack import PACK_KEY, pack_run
from ssnenas.analysis.runs import finished_tasks, write_result
from ssnenas.atomic import atomic_json
from ssnenas.cli import main

CONFIG = {"kind": "benchmark", "format_version": 1, "space": "nasbench201", "benchmark": "nasbench201",
          "dataset": "cifar10-valid", "data_fingerprint": "f" * 64, "algorithms": ["random", "npenas-np"],
          "trials": 3, "budget": 4, "seed": 0, "num_initial": 2, "initial_sampling": "store", "predictors": {},
          "overrides": {}, "created": "2026-12-06T00:00:00+00:00"}


def _table(trial: int, algorithm: str) -> pa.Table:
    return pa.table({"trial": pa.array([trial] * 4, pa.int32()), "algorithm": [algorithm] * 4,
                     "query": pa.array(range(1, 5), pa.int32()), "arch": [f"a{trial}{i}" for i in range(4)],
                     "key": [f"a{trial}{i}" for i in range(4)], "val_acc": [80.0 + trial + i for i in range(4)]})


@pytest.fixture
def pack(tmp_path) -> Path:
    run = tmp_path / "source-run"
    atomic_json(run / "config.json", CONFIG)
    for trial in range(3):
        for algorithm in CONFIG["algorithms"]:
            write_result(run, trial, algorithm, _table(trial, algorithm), {"config_sha256": "1"})
    pack_run(run, tmp_path / "good.parquet")
    return tmp_path / "good.parquet"


def _forge(pack: Path, edit) -> Path:
    """A copy of ``pack`` whose header ``edit(header)`` changed; the rows are the same."""
    rows = pq.read_table(pack)
    header = json.loads(rows.schema.metadata[PACK_KEY])
    edit(header)
    forged = pack.with_name("forged.parquet")
    pq.write_table(rows.replace_schema_metadata({PACK_KEY: json.dumps(header).encode()}), forged)
    return forged


def _refused(args: list[str], capsys, *must: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for part in must:
        assert part in err, err
    return err


def _nothing_left(parent: Path, run: Path) -> None:
    assert not run.exists()
    assert not [p.name for p in parent.iterdir() if ".unpack-" in p.name]


def _set_task(i: int, field: int, value):
    def edit(header):
        header["tasks"][i][field] = value
    return edit


def test_shifted_row_counts_are_refused(pack, tmp_path, capsys):
    """10 and 30 rows instead of 20 and 20, in small: a task's rows would carry another algorithm's."""
    def shift(header):
        header["tasks"][0][2] -= 2
        header["tasks"][1][2] += 2
    forged = _forge(pack, shift)
    run = tmp_path / "run"
    _refused(["unpack", str(forged), str(run)], capsys, str(forged), "row 2 lies in task 1", "names trial 0")
    _nothing_left(tmp_path, run)


def test_a_fractional_trial_is_refused(pack, tmp_path, capsys):
    forged = _forge(pack, _set_task(0, 0, 1.5))
    run = tmp_path / "run"
    _refused(["unpack", str(forged), str(run)], capsys, "trial 1.5", "integer in 0..2")
    _nothing_left(tmp_path, run)


def test_a_schema_index_out_of_range_is_refused(pack, tmp_path, capsys):
    forged = _forge(pack, _set_task(5, 3, 7))  # the last task: refused before the first file is written
    run = tmp_path / "run"
    _refused(["unpack", str(forged), str(run)], capsys, "schema index 7 out of range")
    _nothing_left(tmp_path, run)


def test_a_negative_trial_is_refused(pack, tmp_path, capsys):
    """trial -7 once wrote results/trial=-0007/, which the run never reads, and said "unpacked 12"."""
    forged = _forge(pack, _set_task(2, 0, -7))
    run = tmp_path / "run"
    _refused(["unpack", str(forged), str(run)], capsys, "trial -7", "integer in 0..2")
    _nothing_left(tmp_path, run)


def test_unpack_never_writes_through_a_results_link(pack, tmp_path, capsys):
    run = tmp_path / "run"
    atomic_json(run / "config.json", CONFIG)  # a run of the same study, whose results/ is a link
    outside = tmp_path / "outside"
    outside.mkdir()
    (run / "results").symlink_to(outside, target_is_directory=True)
    _refused(["unpack", str(pack), str(run)], capsys, f"{run / 'results'}: a symbolic link")
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "results"]
    assert not [p.name for p in tmp_path.iterdir() if ".unpack-" in p.name]
    (run / "results").unlink()  # a real folder instead: the same pack unpacks
    assert main(["unpack", str(pack), str(run)]) == 0 and len(finished_tasks(run)) == 6


def test_pack_does_not_replace_a_text_file(pack, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    _refused(["pack", str(tmp_path / "source-run"), str(notes)], capsys, "exists and is not a run pack")
    assert notes.read_text() == "my notes\n"
    # a pack of the same run may be replaced (packing again after more tasks finished)
    assert main(["pack", str(tmp_path / "source-run"), str(pack)]) == 0
    capsys.readouterr()


def test_pack_onto_a_folder_is_one_line(pack, tmp_path, capsys):
    folder = tmp_path / "packs"
    folder.mkdir()
    _refused(["pack", str(tmp_path / "source-run"), str(folder)], capsys, f"{folder}: a folder")
    assert list(folder.iterdir()) == []

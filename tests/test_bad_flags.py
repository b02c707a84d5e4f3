"""Every bad value of every numeric or path flag: exit 2, one stderr line naming the flag, nothing written.

One table (:data:`CASES`) over the commands ``data prepare/info/lookup``, ``pretrain ss-rl/ss-ccl``,
``predictor-study``, ``report``, ``pack``, ``unpack``, ``encodings``, ``benchmark``, ``search``,
``retrain`` and ``evaluate`` (with ``ray.init`` made to fail, so that a value refused only once Ray
runs fails here, as does one refused after the run folder's ``.lock`` was taken): zero, negative and absurd
numbers (10**12; 1e12, nan and inf for floats), a file where a folder is wanted and the reverse, a
missing input and an unwritable place (a path under a regular file: the tests run as root, whom
``chmod`` does not stop). Each case runs ``ssnenas.cli.main`` in-process in a fresh folder holding a
small store, a run folder, its pack, a saved report, a text file and an empty folder, and compares the
folder's listing (names, sizes, modification times) before and after.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssnenas.cli import main

REPO = Path(__file__).resolve().parents[1]
#: a committed pack of a real benchmark run (NB201 cifar100, BANANAS): two of its trials make the run folder
REAL_PACK = REPO / "experiments" / "results" / "benchmark" / "packs" / "nb201-cifar100-600-bananas.parquet"
#: a committed saved report (``ssnenas report RUN --json``)
REAL_REPORT = REPO / "experiments" / "results" / "benchmark" / "nb201-cifar100.json"

BIG = str(10 ** 12)


@dataclass(frozen=True)
class Case:
    """``argv`` with placeholders ({W} the case's folder, {STORE}, {CSV}, {RUN}, {PACK}, {REPORT},
    {FILE} a text file, {DIR} an empty folder, {MISSING}, {CKPT} a DARTS trainer checkpoint); ``names``
    is what the error line must contain: the flag, or for a positional argument the path given."""

    argv: tuple[str, ...]
    names: str

    @property
    def id(self) -> str:
        return f"{_command(self)} {' '.join(self.argv[-2:])}"


def _command(case: Case) -> str:
    """``data prepare nasbench201``, ``data info``, ``pretrain ss-rl``, ``report``, ..."""
    n = {"data": 3 if case.argv[1] == "prepare" else 2, "pretrain": 2}.get(case.argv[0], 1)
    return " ".join(case.argv[:n])


def bad(base: tuple[str, ...], flag: str, *values: str, names: str | None = None) -> list[Case]:
    """One case per value of ``flag`` appended to ``base``."""
    return [Case((*base, flag, v), names or flag) for v in values]


def pos(culprit: int, *argv: str) -> Case:
    """A case of a bad positional argument, ``argv[culprit]``: the error must name the path given."""
    return Case(tuple(argv), argv[culprit])


INTS = ("0", "-1", BIG)
FLOATS_POSITIVE = ("0", "-1", "nan", "inf", "1e12")
FLOATS_NONNEGATIVE = ("-1", "nan", "inf", "1e12")
SEED = ("-1",)
#: seeds of the commands that pass them on to numpy and torch: negative, and beyond 2**63 - 1
SEEDS = ("-1", str(2 ** 64))

P201 = ("data", "prepare", "nasbench201", "--source", "{CSV}", "--dataset", "cifar10-valid")
P101 = ("data", "prepare", "nasbench101", "--no-progress")
PDARTS = ("data", "prepare", "darts")
PTNB = ("data", "prepare", "transnas101-micro", "--dataset", "class_scene")
# valid and quick as they stand (one epoch, a batch the 120-cell store fills), so a case the checks
# miss fails by running instead of hanging the suite
RL = ("pretrain", "ss-rl", "--space", "nasbench201", "--data", "{STORE}", "--out", "{W}/rl.pt", "--no-progress",
      "--device", "cpu", "--epochs", "1", "--batch-size", "16")
CCL = ("pretrain", "ss-ccl", "--space", "nasbench201", "--data", "{STORE}", "--out", "{W}/ccl.pt", "--no-progress",
       "--device", "cpu", "--epochs", "1", "--batch-size", "100", "--train-samples", "50", "--batch-step", "25",
       "--min-negative-size", "50")
PS = ("predictor-study", "--space", "nasbench201", "--data", "{STORE}", "--predictors", "gin", "--train-sizes",
      "10", "--repeats", "1", "--epochs", "1", "--out", "{W}/study", "--no-progress", "--device", "cpu")
ENC = ("encodings", "--space", "nasbench201", "--num-archs", "10")
BENCH = ("benchmark", "--space", "nasbench201", "--data", "{STORE}", "--algos", "random", "--trials", "2",
         "--budget", "20", "--out", "{W}/bench", "--no-progress", "--num-cpus", "1")
SEARCH = ("search", "--data", "digits", "--budget", "2", "--epochs", "1", "--out", "{W}/search", "--no-progress",
          "--num-cpus", "1")
RETRAIN = ("retrain", "--genotype", "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
           "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
           "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
           "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
           "reduce_concat=[2, 3, 4, 5])", "--epochs", "1", "--out", "{W}/retrain", "--num-cpus", "1")

CASES: list[Case] = [
    # -- data prepare ------------------------------------------------------------------------------
    *bad(P201, "--out", "{FILE}", "{FILE}/store"),
    *bad(("data", "prepare", "nasbench201", "--dataset", "cifar10-valid", "--out", "{W}/o"), "--source",
         "{MISSING}", "{DIR}", "{FILE}"),
    *bad(P201, "--dataset", "cifar11"),
    *bad(P201, "--val-column", "no_such_column"),
    *bad(P201, "--test-column", "no_such_column"),
    *bad((*P101, "--source", "{CSV}"), "--out", "{FILE}", "{FILE}/store"),
    *bad((*P101, "--out", "{W}/o"), "--source", "{MISSING}", "{DIR}", "{FILE}", "{CSV}"),
    *bad((*PDARTS, "--source", "{CSV}"), "--out", "{FILE}", "{FILE}/store"),
    *bad((*PDARTS, "--out", "{W}/o"), "--source", "{MISSING}", "{DIR}", "{FILE}", "{CSV}"),
    *bad((*PTNB, "--source", "{CSV}"), "--out", "{FILE}", "{FILE}/store"),
    *bad((*PTNB, "--out", "{W}/o"), "--source", "{MISSING}", "{DIR}", "{FILE}", "{CSV}"),
    *bad(("data", "prepare", "transnas101-micro", "--source", "{CSV}", "--out", "{W}/o"), "--dataset", "chess"),
    # -- data info / lookup --------------------------------------------------------------------------
    pos(2, "data", "info", "{MISSING}"), pos(2, "data", "info", "{FILE}"), pos(2, "data", "info", "{DIR}"),
    *bad(("data", "info", "{STORE}"), "--dataset", "cifar11"),
    *bad(("data", "info", "{STORE}"), "--benchmark", "nasbench999"),
    pos(2, "data", "lookup", "{MISSING}", "--key", "x"), pos(2, "data", "lookup", "{FILE}", "--key", "x"),
    *bad(("data", "lookup", "{STORE}"), "--key", "no-such-key"),
    # -- pretrain ss-rl --------------------------------------------------------------------------------
    *[c for flag in ("--epochs", "--batch-size", "--width", "--layers", "--num-archs") for c in bad(RL, flag, *INTS)],
    *bad(RL, "--seed", *SEED),
    *bad(RL, "--lr", *FLOATS_POSITIVE),
    *bad(RL, "--train-fraction", "0", "-1", "1", "nan", "inf", "1e12"),
    *bad(RL, "--out", "{DIR}", "{FILE}", "{FILE}/rl.pt"),
    *bad(RL, "--data", "{MISSING}", "{FILE}", "{DIR}"),
    *bad(RL, "--space", "nasbench999"),
    *bad(RL, "--device", "tpu"),
    *bad(RL, "--ged", "cubic"),
    # -- pretrain ss-ccl -------------------------------------------------------------------------------
    *[c for flag in ("--epochs", "--batch-size", "--train-samples", "--batch-step", "--min-negative-size", "--dim",
                     "--workers", "--chunk-elems", "--width", "--layers", "--num-archs")
      for c in bad(CCL, flag, *INTS)],
    *bad(CCL, "--seed", *SEED),
    *bad(CCL, "--lr", *FLOATS_POSITIVE),
    *bad(CCL, "--temperature", *FLOATS_POSITIVE),
    *bad(CCL, "--margin", *FLOATS_NONNEGATIVE),
    *bad(CCL, "--center-weight", *FLOATS_NONNEGATIVE),
    *bad(CCL, "--out", "{DIR}", "{FILE}", "{FILE}/ccl.pt"),
    *bad(CCL, "--data", "{MISSING}", "{FILE}", "{DIR}"),
    *bad(CCL, "--ray-storage", "{FILE}", "{FILE}/ray"),
    *bad(CCL, "--preset", "huge"),
    # -- predictor-study ---------------------------------------------------------------------------
    *[c for flag in ("--train-sizes", "--repeats", "--epochs", "--baseline-epochs", "--batch-size")
      for c in bad(PS, flag, *INTS)],
    *bad(PS, "--group-size", "-1", BIG),
    *bad(PS, "--threads", "-1", BIG),
    *bad(PS, "--seed", *SEED),
    *bad(PS, "--weight-decay", *FLOATS_NONNEGATIVE),
    *bad(PS, "--lr", *(f"gin={v}" for v in FLOATS_POSITIVE)),
    *bad(PS, "--out", "{FILE}", "{FILE}/study"),
    *bad(PS, "--data", "{MISSING}", "{FILE}", "{DIR}"),
    *bad(PS, "--predictors", "ss-rl={MISSING}", "ss-rl={DIR}", "ss-rl={FILE}"),
    *bad(PS, "--target", "no_such_column"),
    *bad(PS, "--baseline", "mlp"),
    *bad(PS, "--device", "tpu"),
    # -- report ------------------------------------------------------------------------------------
    pos(1, "report", "{MISSING}"), pos(1, "report", "{FILE}"), pos(1, "report", "{DIR}"),
    *bad(("report", "{REPORT}"), "--plot", "{DIR}", "{FILE}/report.png"),
    *bad(("report", "{RUN}"), "--plot", "{DIR}", "{FILE}/report.png"),
    *bad(("report", "{RUN}", "--no-plot"), "--reference", "no-such-algo"),
    # -- pack / unpack -----------------------------------------------------------------------------
    pos(1, "pack", "{MISSING}", "{W}/p.parquet"), pos(1, "pack", "{FILE}", "{W}/p.parquet"),
    pos(1, "pack", "{DIR}", "{W}/p.parquet"),
    pos(2, "pack", "{RUN}", "{DIR}"), pos(2, "pack", "{RUN}", "{FILE}/p.parquet"),
    *bad(("pack", "{RUN}", "{W}/p.parquet"), "--algos", "no-such-algo"),
    pos(1, "unpack", "{MISSING}", "{W}/r"), pos(1, "unpack", "{DIR}", "{W}/r"), pos(1, "unpack", "{FILE}", "{W}/r"),
    pos(2, "unpack", "{PACK}", "{FILE}"), pos(2, "unpack", "{PACK}", "{FILE}/r"),
    # -- encodings ---------------------------------------------------------------------------------
    *bad(ENC, "--num-archs", *INTS),
    *bad(ENC, "--seed", *SEED),
    *bad(ENC, "--out", "{DIR}", "{FILE}/enc.json"),
    *bad(ENC, "--data", "{MISSING}", "{FILE}", "{DIR}"),
    *bad(ENC, "--encodings", "morse"),
    *bad(ENC, "--space", "nasbench999"),
    # -- benchmark / search / retrain / evaluate: refused before Ray starts (the test makes ray.init
    # fail, so a check that moves behind Ray fails here) and before the run folder's lock is taken
    *[c for flag in ("--trials", "--budget", "--num-cpus", "--cohort-size") for c in bad(BENCH, flag, *INTS)],
    *bad(BENCH, "--seed", *SEEDS),
    *bad(BENCH, "--gpus-per-task", *FLOATS_NONNEGATIVE),
    *bad(BENCH, "--max-retries", "-1", BIG),
    *bad(BENCH, "--checkpoint-every", "-1", "nan", "inf"),
    *bad(BENCH, "--out", "{FILE}", "{FILE}/bench"),
    *bad(BENCH, "--data", "{MISSING}", "{FILE}", "{DIR}"),
    *bad(BENCH, "--predictor", "ss-rl={MISSING}", "ss-rl={DIR}", "ss-rl={FILE}", "ss-xx={FILE}"),
    *bad(BENCH, "--algos", "no-such-algo"),
    *bad(BENCH, "--address", "127.0.0.1:1"),
    *[c for flag in ("--budget", "--epochs", "--num-init", "--k", "--channels", "--layers", "--batch-size",
                     "--predictor-epochs", "--num-cpus", "--torch-threads") for c in bad(SEARCH, flag, *INTS)],
    *bad(SEARCH, "--channels", "7"),
    *bad(SEARCH, "--layers", "2"),
    *bad(SEARCH, "--seed", *SEEDS),
    *bad(SEARCH, "--gpus-per-trial", *FLOATS_NONNEGATIVE),
    *bad(SEARCH, "--cpus-per-trial", *FLOATS_POSITIVE),
    *bad(SEARCH, "--out", "{FILE}", "{FILE}/search"),
    *bad(SEARCH, "--predictor", "ss-rl={MISSING}", "ss-rl={DIR}", "ss-rl={FILE}"),
    *bad(SEARCH, "--data", "imagenet", "cifar10:{MISSING}", "cifar10:{FILE}"),
    *bad(SEARCH, "--space", "nasbench201"),
    *bad(SEARCH, "--algorithm", "no-such-algo"),
    *bad(SEARCH, "--address", "127.0.0.1:1"),
    *[c for flag in ("--epochs", "--channels", "--layers", "--batch-size", "--workers", "--num-cpus")
      for c in bad(RETRAIN, flag, *INTS)],
    *bad(RETRAIN, "--channels", "7"),
    *bad(RETRAIN, "--layers", "2"),
    *bad(RETRAIN, "--seed", *SEEDS),
    *bad(RETRAIN, "--cutout", "-1", BIG),
    *bad(RETRAIN, "--drop-path", "-1", "1", "nan", "inf", "1e12"),
    *bad(RETRAIN, "--auxiliary-weight", *FLOATS_NONNEGATIVE),
    *bad(RETRAIN, "--lr", *FLOATS_POSITIVE),
    *bad(RETRAIN, "--out", "{FILE}", "{FILE}/retrain"),
    *bad(RETRAIN, "--data", "imagenet", "cifar10:{MISSING}"),
    *bad(RETRAIN, "--genotype", "Genotype(nonsense)"),
    *bad(RETRAIN, "--address", "127.0.0.1:1"),
    *bad(("evaluate",), "--checkpoint", "{MISSING}", "{DIR}", "{FILE}"),
    *bad(("evaluate", "--checkpoint", "{CKPT}"), "--data", "imagenet", "cifar10:{MISSING}"),
]


# -- the folder every case runs in ------------------------------------------------------------------
def _write_store(root: Path) -> tuple[Path, Path]:
    """An NB201 CSV of 120 cells (deterministic accuracies) and the store ``data prepare`` makes of it."""
    from ssnenas.spaces import get_space

    space = get_space("nasbench201")
    source = root / "nb201.csv"
    with open(source, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "cifar10-valid_val_acc", "cifar10_test_acc"])
        for i, arch in enumerate(list(space.all_archs())[:120]):
            w.writerow([i, space.to_str(arch), 50 + (i * 37 % 101) / 3, 51 + (i * 37 % 101) / 3])
    store = root / "store"
    assert main(["data", "prepare", "nasbench201", "--source", str(source), "--dataset", "cifar10-valid",
                 "--test-column", "cifar10_test_acc", "--out", str(store)]) == 0
    return source, store


def _write_run(root: Path) -> tuple[Path, Path]:
    """A run folder holding two finished tasks of a real run (from its committed pack) and its own pack."""
    from ssnenas.analysis.runpack import pack_run, read_pack, unpack_run

    header, rows = read_pack(REAL_PACK)
    full = root / "full"
    unpack_run(REAL_PACK, full)
    run = root / "run"
    run.mkdir()
    for name in ("config.json", "summary.json"):
        if (full / name).exists():
            shutil.copy(full / name, run / name)
    for trial_dir in sorted((full / "results").iterdir())[:2]:
        shutil.copytree(trial_dir, run / "results" / trial_dir.name)
    shutil.rmtree(full)
    pack = root / "run.pack.parquet"
    pack_run(run, pack)
    return run, pack


def _write_checkpoint(root: Path) -> Path:
    """An untrained DARTS trainer checkpoint on digits (a tiny network), as `ssnenas retrain` writes them."""
    from ssnenas.darts.data import load_data
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.spaces.darts import parse_genotype

    genotype = parse_genotype(RETRAIN[RETRAIN.index("--genotype") + 1])
    trainer = CandidateTrainer(genotype, load_data("digits", split="full"),
                               TrainConfig(epochs=1, channels=4, layers=3, batch_size=16, device="cpu"))
    trainer.meta = {"data": "digits", "data_seed": 0}
    path = root / "ckpt" / "trainer.pt"
    path.parent.mkdir()
    trainer.save(path)
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict[str, Path]:
    if not REAL_PACK.is_file() or not REAL_REPORT.is_file():
        pytest.fail(f"committed results {REAL_PACK} / {REAL_REPORT} missing: they are part of the repository")
    root = tmp_path_factory.mktemp("bad-flags-template")
    source, store = _write_store(root)
    run, pack = _write_run(root)
    _write_checkpoint(root)
    shutil.copy(REAL_REPORT, root / "report.json")
    (root / "file.txt").write_text("a regular file, not what any flag wants\n")
    (root / "folder").mkdir()
    return {"root": root}


def _listing(root: Path) -> list[tuple[str, int, int]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            out.append((str(p.relative_to(root)), st.st_size if p.is_file() else -1, st.st_mtime_ns))
    return sorted(out)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_flag_is_one_line_exit_2_and_writes_nothing(case: Case, template, tmp_path, capsys, monkeypatch):
    w = tmp_path / "w"
    shutil.copytree(template["root"], w)
    monkeypatch.chdir(w)
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError(f"{case.argv[0]} started Ray before refusing a bad value")

    monkeypatch.setattr(ray, "init", no_ray)
    monkeypatch.setenv("SSNENAS_DATA", str(w / "default-data"))  # a prepare without --out would write here
    places = {"W": str(w), "STORE": str(w / "store"), "CSV": str(w / "nb201.csv"), "RUN": str(w / "run"),
              "PACK": str(w / "run.pack.parquet"), "REPORT": str(w / "report.json"), "FILE": str(w / "file.txt"),
              "DIR": str(w / "folder"), "MISSING": str(w / "missing"),
              "CKPT": str(w / "ckpt" / "trainer.pt")}
    argv = [a.format(**places) for a in case.argv]
    names = case.names.format(**places)
    before = _listing(w)
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, f"exit {rc}; stderr: {err!r}"
    assert len(lines) == 1, f"{len(lines)} stderr lines:\n{err}"
    assert lines[0].startswith("error: ") and names in lines[0], lines[0]
    assert _listing(w) == before, "the command wrote or changed files"


def test_table_covers_every_owned_command():
    """Each command of the table has cases; a new command or flag gets its rows here."""
    commands = {_command(c) for c in CASES}
    assert {"data prepare nasbench201", "data prepare nasbench101", "data prepare darts",
            "data prepare transnas101-micro", "data info",
            "data lookup", "pretrain ss-rl", "pretrain ss-ccl", "predictor-study", "report", "pack", "unpack",
            "encodings", "benchmark", "search", "retrain", "evaluate"} <= commands

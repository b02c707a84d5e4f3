"""A DARTS search folder is resumed from its own records, all data: a folder someone sent cannot run code.

Threat: re-running ``ssnenas search --out RUN`` on a received RUN used to unpickle the searcher state
(``tune/searcher-state-*.pkl``) and Ray's ``tune/tuner.pkl``. Now the searcher state is a
``torch.load(weights_only=True)`` file (``RUN/searcher.pt``, also what Ray's snapshot holds), the
candidates' results are JSON and their checkpoints data; a folder that only Ray's pickles record needs
``--trust-pickle``. Every refusal is one line (exit 2) and happens before Ray starts or anything is
written. The same goes for the other checks of ``search --out`` and for ``report`` on a damaged result.
Each payload only creates a marker file under tmp_path, which must never appear."""

from __future__ import annotations

import argparse
import json
import pickle

import pytest
import torch

from payloads import Touch, assert_no_marker, touch_marker_pickle
from ssnenas.cli import main
from ssnenas.errors import DataFormatError

TINY = ["--budget", "3", "--num-init", "2", "--k", "1", "--epochs", "2", "--channels", "4", "--layers", "3",
        "--batch-size", "64", "--predictor-epochs", "5"]


def _config(argv: list[str]):
    from ssnenas.darts.search import add_arguments, resolve_settings

    p = argparse.ArgumentParser()
    add_arguments(p)
    return resolve_settings(p.parse_args(argv))


def _searcher(argv: list[str] = TINY):
    from ssnenas.cli.search import make_search_searcher

    return make_search_searcher(_config(argv))


def _search_folder(run, argv: list[str] = TINY) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps({"kind": "darts-search", "settings": _config(argv).run_settings()}))


def _files(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _refused(capsys, argv: list[str]) -> str:
    """Run ``ssnenas ARGV``; assert exit 2 with one line on stderr; return it."""
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


# -- the searcher state --------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["npenas-np", "rea", "random", "bananas"])
def test_a_searcher_state_is_data_and_resumes_exactly(tmp_path, algorithm):
    argv = [*TINY, "--algorithm", algorithm, "--budget", "6"]
    if algorithm in ("rea", "random"):  # no predictor to train
        argv = argv[:argv.index("--predictor-epochs")] + argv[argv.index("--predictor-epochs") + 2:]
    a = _searcher(argv)
    for t in ("t0", "t1"):
        a.suggest(t)
    for i, t in enumerate(("t0", "t1")):
        a.on_trial_complete(t, {"best_val_acc": 50.0 + i})
    a.suggest("t2")  # one in flight
    a.save(tmp_path / "state.pt")
    data = torch.load(tmp_path / "state.pt", weights_only=True)  # loads with no pickled object
    assert data["format"] == "ssnenas-searcher-state" and data["class"] == type(a).__name__
    b = _searcher([*argv, "--seed", "5"])  # restore replaces everything, the seed too
    b.restore(tmp_path / "state.pt")
    assert b.in_flight == a.in_flight and b.seed == a.seed
    assert b._rng.bit_generator.state == a._rng.bit_generator.state
    for s in (a, b):
        s.on_trial_complete("t2", {"best_val_acc": 40.0})
    assert a.suggest("t3") == b.suggest("t3")


def test_a_searcher_state_with_a_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    s = _searcher()
    raw, saved = tmp_path / "searcher-state-raw.pkl", tmp_path / "searcher.pt"
    raw.write_bytes(touch_marker_pickle(marker, inside={"class": type(s).__name__}, protocol=4))
    torch.save({"class": type(s).__name__, "state": {"x": Touch(marker)}}, saved)
    for path in (raw, saved):
        with pytest.raises(DataFormatError) as exc:
            s.restore(path)
        assert str(path) in str(exc.value) and "--trust-pickle" in str(exc.value) and "\n" not in str(exc.value)
    assert_no_marker(marker)


def test_an_old_pickled_searcher_state_restores_only_when_trusted(tmp_path):
    from ssnenas.torchdata import trusting_pickles

    a = _searcher()
    a.suggest("t0")
    path = tmp_path / "searcher-state-old.pkl"
    path.write_bytes(pickle.dumps({"class": type(a).__name__, "state": a.get_state()}))  # the old layout
    with pytest.raises(DataFormatError, match="--trust-pickle"):
        _searcher().restore(path)
    b = _searcher()
    b.restore(path, trust_pickle=True)
    assert b.in_flight == a.in_flight
    c = _searcher()
    with trusting_pickles():  # how an older folder's Tuner.restore reaches it under --trust-pickle
        c.restore(path)
    assert c.in_flight == a.in_flight


# -- resuming a received search folder ---------------------------------------------------------------
def test_a_folder_that_only_rays_pickles_record_needs_trust(tmp_path, capsys):
    run = tmp_path / "run"
    _search_folder(run)
    marker = tmp_path / "marker"
    (run / "tune").mkdir()
    (run / "tune" / "tuner.pkl").write_bytes(touch_marker_pickle(marker))
    (run / "tune" / "searcher-state-2026-01-01.pkl").write_bytes(touch_marker_pickle(marker, inside={"class": "NPENAS"}))
    before = {p: (run / p).read_bytes() for p in _files(run) if (run / p).is_file()}
    line = _refused(capsys, ["search", "--out", str(run), *TINY])
    assert "tuner.pkl" in line and "--trust-pickle" in line
    assert_no_marker(marker)
    assert {p: (run / p).read_bytes() for p in _files(run) if (run / p).is_file()} == before


def test_a_poisoned_searcher_state_is_refused_before_anything_runs(tmp_path, capsys):
    run = tmp_path / "run"
    _search_folder(run)
    marker = tmp_path / "marker"
    torch.save({"format": "ssnenas-searcher-state", "version": 1, "class": "NPENAS", "state": Touch(marker)},
               run / "searcher.pt")
    before = _files(run)
    line = _refused(capsys, ["search", "--out", str(run), *TINY])
    assert str(run / "searcher.pt") in line and "--trust-pickle" in line
    assert_no_marker(marker)
    assert _files(run) == before


def test_a_poisoned_candidate_checkpoint_is_refused_before_anything_runs(tmp_path, capsys):
    """The searcher state is sound, but the checkpoint an unfinished candidate would continue from
    carries a payload: refused in the driver, before a trial could load it."""
    run = tmp_path / "run"
    _search_folder(run)
    s = _searcher()
    s.suggest("aaa00001")
    s.suggest("aaa00002")
    s.save(run / "searcher.pt")
    ckpt = run / "tune" / "candidate_0001_aaa00001" / "checkpoint_000000" / "trainer.pt"
    ckpt.parent.mkdir(parents=True)
    marker = tmp_path / "marker"
    torch.save({"genotype": "x", "config": {}, "model": {}, "epoch": 1, "payload": Touch(marker)}, ckpt)
    before = _files(run)
    line = _refused(capsys, ["search", "--out", str(run), *TINY])
    assert str(ckpt) in line and "--trust-pickle" in line
    assert_no_marker(marker)
    assert _files(run) == before


# -- search --out and every flag, checked before anything is written -----------------------------------
def test_search_refuses_a_non_empty_folder_that_is_not_a_search(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.png").write_bytes(b"my own picture")
    (out / "candidates.json").write_text("my notes")
    line = _refused(capsys, ["search", "--out", str(out), *TINY])
    assert str(out) in line and "not a DARTS search" in line
    assert _files(out) == ["candidates.json", "report.png"] and (out / "report.png").read_bytes() == b"my own picture"
    (tmp_path / "file").write_text("x")
    assert "not a directory" in _refused(capsys, ["search", "--out", str(tmp_path / "file"), *TINY])


@pytest.mark.parametrize("bad", [["--layers", "2"], ["--cpus-per-trial", "0"], ["--algorithm", "no-such-algo"],
                                 ["--predictor", "ss-ccl=PAYLOAD"]])
def test_a_refused_flag_writes_nothing(tmp_path, capsys, bad):
    marker = tmp_path / "marker"
    payload = tmp_path / "ccl.pt"
    payload.write_bytes(touch_marker_pickle(marker, inside={"format": "ssnenas-pretrain"}))
    bad = [b.replace("PAYLOAD", str(payload)) for b in bad]
    out = tmp_path / "run"
    _refused(capsys, ["search", "--out", str(out), *TINY, *bad])
    assert not out.exists()
    out.mkdir()  # an empty folder is a new search: still nothing written into it
    _refused(capsys, ["search", "--out", str(out), *TINY, *bad])
    assert _files(out) == []
    assert_no_marker(marker)


# -- report on a damaged result ---------------------------------------------------------------------------
def test_report_names_a_result_file_whose_score_is_not_a_number(tmp_path, capsys):
    run = tmp_path / "run"
    _search_folder(run)
    folder = run / "tune" / "candidate_0001_abc"
    folder.mkdir(parents=True)
    row = {"config": {"arch": "x"}, "epoch": 1, "val_acc": 50.0, "best_val_acc": 50.0, "done": True,
           "score": "not a number", "test_acc": 40.0}
    (folder / "result.json").write_text(json.dumps(row) + "\n")
    line = _refused(capsys, ["report", str(run)])
    assert str(folder / "result.json") in line and "'score'" in line
    (folder / "result.json").write_text("[1, 2]\n")
    assert str(folder / "result.json") in _refused(capsys, ["report", str(run)])

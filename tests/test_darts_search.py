"""The DARTS class trainable (trainables/darts.py) and ``ssnenas search`` (ssnenas/darts/search.py, its
command ssnenas/cli/search.py): settings, a real Tuner search in miniature, and resuming after the
driver is killed."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ssnenas.cli.search import run_search
from ssnenas.darts.search import DEFAULTS, add_arguments, resolve_settings
from ssnenas.errors import InputError
from ssnenas.spaces.darts import SPACE, genotype_to_str, parse_genotype

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--budget", "3", "--num-init", "2", "--k", "1", "--epochs", "2", "--channels", "4", "--layers", "3",
        "--batch-size", "64", "--predictor-epochs", "5"]


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


def _fake_pretraining(path: Path, method: str = "ss-ccl", space: str = "darts") -> None:
    """A file laid out as `ssnenas pretrain` writes it (the flags only read its header)."""
    from ssnenas.pretrain.checkpoint import save_checkpoint

    save_checkpoint(path, {"format": "ssnenas-pretrain", "version": 1, "method": method, "space": space,
                           "dims": {"width": 32}, "epoch": 1, "model": {}})


def test_settings_defaults_and_errors(tmp_path):
    s = resolve_settings(_args([]))
    assert {k: getattr(s, k) for k in DEFAULTS} == DEFAULTS
    assert s.algorithm == "npenas-np" and s.predictor is None and s.space == "darts"
    assert not s.asynchronous and s.step_mode == "auto" and s.gpus_per_trial is None
    assert resolve_settings(_args(["--fixed"])).algorithm == "npenas-np-fixed"
    assert resolve_settings(_args(["--async"])).asynchronous is True
    ckpt = tmp_path / "ccl.pt"
    _fake_pretraining(ckpt)
    s = resolve_settings(_args(["--predictor", f"ss-ccl={ckpt}", "--fixed"]))
    assert s.algorithm == "npenas-ssccl-fixed" and s.predictor == str(ckpt.resolve())
    bad_inputs = [(["--predictor", f"ss-ccl={tmp_path / 'missing.pt'}"], "pretrain ss-ccl"),
                  (["--predictor", "gin"], "ss-ccl=CHECKPOINT"),
                  (["--predictor", f"ss-rl={ckpt}"], "not a ss-rl pre-training"),
                  (["--layers", "2"], "--layers must be >= 3"),
                  (["--cpus-per-trial", "0"], "--cpus-per-trial must be > 0"),
                  (["--torch-threads", "0"], "--torch-threads must be >= 1"),
                  (["--predictor-epochs", "0"], "--predictor-epochs must be >= 1"),
                  (["--data", "mnist"], "digits.*cifar10:PATH"),
                  (["--data", f"cifar10:{tmp_path}"], "missing data_batch_1"),
                  (["--space", "nasbench201"], "only 'darts'"),
                  (["--channels", "5"], "even"),
                  (["--async", "--algorithm", "rea"], "--async.*npenas"),
                  (["--gpus-per-trial", "-1"], "--gpus-per-trial must be >= 0")]
    for argv, message in bad_inputs:
        with pytest.raises(InputError, match=message):
            resolve_settings(_args(argv))
    # CIFAR-10 takes the paper's search settings (100 candidates, 50 epochs, C 16, 8 cells, batch 64)
    from test_darts_model import _fake_cifar

    _fake_cifar(tmp_path / "c" / "cifar-10-batches-py")
    s = resolve_settings(_args(["--data", f"cifar10:{tmp_path / 'c'}"]))
    assert (s.budget, s.epochs, s.channels, s.layers, s.batch_size) == (100, 50, 16, 8, 64)
    assert s.data.endswith("cifar-10-batches-py")


@pytest.mark.slow
def test_trainable_reports_per_epoch_and_continues_from_a_checkpoint(tmp_path, monkeypatch):
    from trainables.darts import DartsTrainable

    # a Trainable built outside Tune makes its log folder in Ray's default storage: keep it in tmp_path
    monkeypatch.setattr("ray.tune.trainable.trainable.DEFAULT_STORAGE_PATH", str(tmp_path / "ray"))

    arch = genotype_to_str(SPACE.sample(np.random.default_rng(4)))
    config = {"arch": arch, "data": "digits", "train": {"epochs": 2, "channels": 4, "layers": 3, "seed": 1,
                                                         "torch_threads": 1}}
    a = DartsTrainable(config=config)
    first = a.step()
    assert first["epoch"] == 1 and "done" not in first and first["params"] > 0 and first["flops"] > 0
    assert 0 <= first["val_acc"] <= 100 and first["best_val_acc"] == first["val_acc"]
    from ssnenas.compute_platform import compute_platform
    assert first["platform"] == compute_platform("cpu")  # no GPU assigned: trained on this CPU
    a.save_checkpoint(str(tmp_path))
    straight = a.step()
    b = DartsTrainable(config=config)  # a retried trial: restore, then only epoch 2 is trained
    b.load_checkpoint(str(tmp_path))
    resumed = b.step()
    assert resumed["epoch"] == 2 and resumed["done"] is True
    for key in ("val_acc", "best_val_acc", "test_acc", "score"):
        assert resumed[key] == straight[key]
    again = b.step()  # restored from a final checkpoint: nothing more is trained
    assert again["epoch"] == 2 and again["done"] and again["test_acc"] == resumed["test_acc"]
    a.stop(); b.stop()


@pytest.mark.slow
def test_search_in_a_tuner_then_rerun_resumes_without_training(ray_session, tmp_path):
    out = tmp_path / "run"
    settings = resolve_settings(_args(TINY))
    summary = run_search(settings, out, cpus_per_trial=1)
    cands = summary["candidates"]
    assert summary["finished"] == 3 and len({c["genotype"] for c in cands}) == 3
    for c in cands:
        parse_genotype(c["genotype"])
        assert c["epochs"] == 2 and len(c["val_curve"]) == 2 and c["val_acc"] == max(c["val_curve"])
        assert c["params"] > 0 and c["flops"] > 0 and c["train_time"] > 0 and c["test_acc"] is not None
    from ssnenas.compute_platform import compute_platform
    assert summary["platforms"] == {compute_platform("cpu"): 3}
    assert summary["best"]["score"] == max(c["score"] for c in cands)
    saved = json.loads((out / "candidates.json").read_text())
    assert saved["best"]["genotype"] == summary["best"]["genotype"]
    for png in ("report.png", "best_cells.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "config.json").read_text())["kind"] == "darts-search"
    trials = sorted((out / "tune").glob("candidate_*"))
    assert [t.name.split("_")[1] for t in trials] == ["0001", "0002", "0003"]
    before = {t.name: (t / "result.json").read_bytes() for t in trials}
    again = run_search(settings, out, cpus_per_trial=1)
    assert again["resumed"] and [c["genotype"] for c in again["candidates"]] == [c["genotype"] for c in cands]
    assert {t.name: (t / "result.json").read_bytes() for t in sorted((out / "tune").glob("candidate_*"))} == before
    changed = resolve_settings(_args([*TINY, "--seed", "9"]))
    with pytest.raises(InputError, match="seed: 9 now vs 0 there"):
        run_search(changed, out)


def _terminated(exp: Path) -> set[str]:
    """Trial ids that the last saved experiment state records as finished."""
    done: set[str] = set()
    for f in sorted(exp.glob("experiment_state-*.json")):
        try:
            state = json.loads(f.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        for entry in state["trial_data"]:
            trial = json.loads(entry[0])
            if trial.get("status") == "TERMINATED":
                done.add(trial["trial_id"])
    return done


@pytest.mark.slow
def test_killing_the_driver_and_rerunning_resumes(ray_session, tmp_path):
    """A driver process joins the test's Ray, is SIGKILLed once a candidate is recorded as finished;
    the same search re-run here restores it: finished candidates are not trained again."""
    out = tmp_path / "run"
    address = ray_session.get_runtime_context().gcs_address
    argv = [sys.executable, "-m", "experiments.darts_search", "--out", str(out), "--address", address, *TINY,
            "--budget", "4", "--num-init", "2", "--k", "2"]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exp = out / "tune"
    deadline = time.monotonic() + 240
    finished: set[str] = set()
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            finished = _terminated(exp) if exp.exists() else set()
            if finished:
                break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert finished, "the driver finished no candidate within 240 s"
    assert len(finished) < 4, "the driver was not killed mid-search"
    results_before = {p.parent.name: p.read_bytes() for p in exp.glob("candidate_*/result.json")
                      if p.parent.name.rsplit("_", 1)[-1] in finished}
    settings = resolve_settings(_args([*TINY, "--budget", "4", "--num-init", "2", "--k", "2"]))
    summary = run_search(settings, out, cpus_per_trial=1)
    assert summary["resumed"] and summary["finished"] == 4
    assert len({c["genotype"] for c in summary["candidates"]}) == 4
    for name, data in results_before.items():  # the finished ones were not trained again
        assert (exp / name / "result.json").read_bytes() == data


def test_report_of_a_run_folder_and_the_cell_drawing(tmp_path):
    from ssnenas.darts.report import (build_search_report, format_search_report, plot_cells, score_curve,
                                      write_search_report)

    with pytest.raises(InputError, match="config.json"):
        build_search_report(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "benchmark"}))
    with pytest.raises(InputError, match="darts-search"):
        build_search_report(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "darts-search", "settings": {"budget": 3}}))
    archs = [genotype_to_str(SPACE.sample(np.random.default_rng(i))) for i in range(3)]
    # trial 1 finished (epoch 2 repeated by a retry), trial 2 finished with a higher score, trial 3 running
    rows = {1: [(1, 50.0, None), (2, 60.0, 55.0), (2, 60.0, 55.0)], 2: [(1, 70.0, None), (2, 65.0, 67.5)],
            3: [(1, 90.0, None)]}
    for n, epochs in rows.items():
        folder = tmp_path / "tune" / f"candidate_{n:04d}_abc{n}"
        folder.mkdir(parents=True)
        best = 0.0
        lines = []
        for epoch, val, score in epochs:
            best = max(best, val)
            r = {"config": {"arch": archs[n - 1]}, "epoch": epoch, "val_acc": val, "best_val_acc": best,
                 "params": 100 * n, "flops": 1000 * n, "train_time": float(epoch), "trial_id": f"abc{n}"}
            if score is not None:
                r.update(score=score, test_acc=val - 1, done=True)
            lines.append(json.dumps(r))
        (folder / "result.json").write_text("\n".join(lines) + "\n{\"cut")
    report = write_search_report(tmp_path)
    assert [c["genotype"] for c in report["candidates"]] == archs
    assert [c["val_curve"] for c in report["candidates"]] == [[50.0, 60.0], [70.0, 65.0], [90.0]]
    assert [c["finished"] for c in report["candidates"]] == [True, True, False]
    assert report["best"]["genotype"] == archs[1] and report["finished"] == 2  # by score, not by val
    for png in report["plots"].values():
        assert Path(png).read_bytes()[:4] == b"\x89PNG"
    text = format_search_report(report)
    lines = text.splitlines()
    assert len(lines) == 6 and lines[2].startswith("  *   2") and not lines[1].lstrip().startswith("*")
    assert lines[-1] == f"* selected best (highest score): #2 {archs[1]}" and "score = (best val" in lines[-2]
    # the plot's best-so-far line is of the score, so it ends at the selected best (not at #3's val 90)
    scores, best_so_far = score_curve(report)
    assert scores[:2] == [55.0, 67.5] and np.isnan(scores[2]) and best_so_far == [55.0, 67.5, 67.5]
    assert report["best"]["index"] == 2 and best_so_far[-1] == report["best"]["score"]
    # `ssnenas report RUN --json` dispatches on the folder's kind
    import contextlib
    import io

    from ssnenas.cli import main as cli_main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(["report", str(tmp_path), "--json", "--plot", str(tmp_path / "p.png")]) == 0
    printed = json.loads(buf.getvalue())
    assert printed["best"]["genotype"] == archs[1] and len(printed["candidates"]) == 3
    assert {"genotype", "val_acc", "params", "flops", "train_time"} <= set(printed["candidates"][0])
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert plot_cells(archs[0], tmp_path / "c.png").stat().st_size > 1000
    # candidates that name their platform (runs since 2026-12-02) are counted, and a mix is noted
    assert report["platforms"] == {"unrecorded": 3} and "platforms" not in text
    for n, platform in ((1, "cpu A; torch 2 AVX2"), (2, "cuda B; torch 2 CUDA 13")):
        result = next((tmp_path / "tune").glob(f"candidate_{n:04d}_*")) / "result.json"
        result.write_text(result.read_text().replace('"trial_id"', f'"platform": "{platform}", "trial_id"'))
    report = build_search_report(tmp_path)
    assert [c["platform"] for c in report["candidates"]] == ["cpu A; torch 2 AVX2", "cuda B; torch 2 CUDA 13", None]
    assert report["platforms"] == {"cpu A; torch 2 AVX2": 1, "cuda B; torch 2 CUDA 13": 1, "unrecorded": 1}
    assert format_search_report(report).splitlines()[-1].startswith(
        "computed on 3 platforms (cpu A; torch 2 AVX2: 1 candidate; cuda B; torch 2 CUDA 13: 1 candidate; ")


@pytest.mark.slow
def test_retrain_with_ddp_workers_then_evaluate(ray_session, tmp_path):
    from ssnenas.darts.retrain import evaluate_checkpoint, run_retrain

    arch = genotype_to_str(SPACE.sample(np.random.default_rng(7)))
    overrides = {"epochs": 1, "channels": 4, "layers": 3, "batch_size": 48}
    m = run_retrain(arch, "digits", tmp_path / "rt", overrides=overrides, workers=2, use_gpu=False)
    assert json.loads((tmp_path / "rt" / "config.json").read_text())["train"]["cutout"] == 4  # half of 8 px
    assert m["epoch"] == 1 and m["params"] > 0 and Path(m["checkpoint"]).is_file()
    assert 0 <= m["last_test_acc"] <= 100 and "val_acc" not in m  # full split: no validation
    r = evaluate_checkpoint(tmp_path / "rt", "digits")
    assert r["genotype"] == arch and r["epoch"] == 1 and r["params"] == m["params"]
    assert r["test_acc"] == m["last_test_acc"]  # the same weights on the same 359 test digits
    assert evaluate_checkpoint(tmp_path / "rt")["test_acc"] == r["test_acc"]  # data + split seed from the checkpoint
    again = run_retrain(arch, "digits", tmp_path / "rt", overrides=overrides, workers=2, use_gpu=False)
    assert again["epoch"] == 1 and again["last_test_acc"] == m["last_test_acc"]
    assert again["train_time"] == m["train_time"]  # the stored history: resumed, not retrained
    with pytest.raises(InputError, match="other settings"):
        run_retrain(arch, "digits", tmp_path / "rt", overrides={**overrides, "epochs": 2})
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no trainer.pt"):
        evaluate_checkpoint(tmp_path / "empty", "digits")
    with pytest.raises(InputError, match="not found"):
        evaluate_checkpoint(tmp_path / "missing.pt", "digits")


@pytest.mark.slow
@pytest.mark.parametrize("stop, sigint", [(signal.SIGINT, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_IGN)],
                         ids=["ctrl-c", "sigterm-in-the-background"])
def test_sigint_mid_search_exits_130_says_how_many_finished_and_rerun_resumes(ray_session, tmp_path, stop, sigint):
    """SIGINT (Ctrl+C) once candidates have finished: exit 130, one line saying how many finished and
    that re-running resumes; no Tune Python-API hint, no metric-fetch noise, no "best" printed. SIGTERM
    does the same, also when the search was started in the background (SIGINT ignored, said at start)."""
    out = tmp_path / "run"
    address = ray_session.get_runtime_context().gcs_address
    flags = [*TINY, "--budget", "16", "--num-init", "2", "--k", "2", "--epochs", "1"]
    argv = [sys.executable, "-m", "experiments.darts_search", "--out", str(out), "--address", address, *flags]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(_terminated(out / "tune") if (out / "tune").exists() else ()) >= 3:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the search ended before it was interrupted"
        proc.send_signal(stop)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("interrupted: ")]
    assert len(lines) == 1 and "of 16 candidates finished" in lines[0] and "re-run the same command" in lines[0]
    finished = int(lines[0].split()[1])
    assert 3 <= finished < 16
    assert "Tuner.restore" not in stderr + stdout and "Failed to fetch metrics" not in stderr + stdout
    assert "best" not in stdout and "Configuration for experiment" not in stdout + stderr
    assert "tensorboard" not in (stdout + stderr).lower()
    assert ("note: this process ignores SIGINT" in stderr) == (sigint == signal.SIG_IGN), stderr
    report = json.loads((out / "candidates.json").read_text())
    assert report["interrupted"] and report["finished"] == finished


def test_search_help_stands_alone(capsys):
    """No references to docs a user's clone lacks, no reST markup, no `None` defaults, every option described."""
    from ssnenas.cli import main as cli_main

    with pytest.raises(SystemExit) as exc:
        cli_main(["search", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for bad in ("algorithms.md", "§", "``", ":mod:", ":class:", "default None", "(None)"):
        assert bad not in text, bad
    p = argparse.ArgumentParser()
    add_arguments(p)
    for action in p._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and "default" in action.help, action.option_strings


@pytest.mark.slow
def test_async_search_in_a_tuner_spends_the_budget(ray_session, tmp_path):
    """--async under Tune: every free slot gets a proposal; the budget is spent exactly, no repeats, and
    the run folder records the mode (a re-run without --async is refused as other settings)."""
    settings = resolve_settings(_args([*TINY, "--budget", "4", "--num-init", "1", "--async"]))
    summary = run_search(settings, tmp_path / "run", cpus_per_trial=1)
    assert summary["finished"] == 4 and len({c["genotype"] for c in summary["candidates"]}) == 4
    assert json.loads((tmp_path / "run" / "config.json").read_text())["settings"]["asynchronous"] is True
    with pytest.raises(InputError, match="asynchronous: False now vs True there"):
        run_search(resolve_settings(_args([*TINY, "--budget", "4", "--num-init", "1"])), tmp_path / "run")


def test_resume_plan_replays_finished_candidates_and_reruns_unfinished_ones_from_their_checkpoint(tmp_path):
    """ssnenas.darts.resume without Ray: a searcher state saved with two candidates in flight; the first
    finished after that save (its result.json ends with ``done``), the second left a checkpoint. The plan
    hands the first to the searcher and re-runs the second from its checkpoint, under a new trial id
    that the recording searcher reports under the old one."""
    from ssnenas.cli.search import make_search_searcher
    from ssnenas.darts.resume import STATE_FILE, RecordingSearcher, plan_resume, trial_dirname
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.darts.data import load_data

    run = tmp_path / "run"
    run.mkdir()
    config = resolve_settings(_args(TINY))
    searcher = make_search_searcher(config)
    archs = [searcher.suggest(t)["arch"] for t in ("t1", "t2")]
    searcher.save(run / STATE_FILE)
    first = run / "tune" / "candidate_0001_t1"
    first.mkdir(parents=True)
    rows = [{"config": {"arch": archs[0]}, "epoch": e, "val_acc": 40.0 + e, "best_val_acc": 40.0 + e,
             "timestamp": 100 + e, "trial_id": "t1"} for e in (1, 2)]
    rows[-1].update(done=True, score=41.5, test_acc=39.0)
    (first / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    second = run / "tune" / "candidate_0002_t2"
    (second / "checkpoint_000000").mkdir(parents=True)
    trainer = CandidateTrainer(parse_genotype(archs[1]), load_data("digits", split="search"),
                               TrainConfig(epochs=2, channels=4, layers=3, batch_size=64))
    trainer.train_epoch()
    trainer.save(second / "checkpoint_000000" / "trainer.pt")
    (second / "result.json").write_text(json.dumps({"config": {"arch": archs[1]}, "epoch": 1, "val_acc": 30.0,
                                                    "timestamp": 101, "trial_id": "t2"}) + "\n")

    restored = make_search_searcher(config)
    reruns = plan_resume(run, restored, metric="best_val_acc")
    assert [r["status"] for r in restored.history] == ["ok", "live"] and restored.history[0]["value"] == 42.0
    assert [(r.trial_id, r.arch, r.index) for r in reruns] == [("t2", archs[1], 2)]
    assert reruns[0].checkpoint == str(second / "checkpoint_000000" / "trainer.pt")
    recorder = RecordingSearcher(restored, run / STATE_FILE, reruns)
    given = recorder.suggest("new")
    assert given == {"arch": archs[1], "candidate": 2, "resume_from": reruns[0].checkpoint}
    trial = argparse.Namespace(config=given, trial_id="new", experiment_tag="1_arch=x")
    assert trial_dirname(trial) == "candidate_0002_new"  # numbered as the candidate, not as the new trial
    recorder.on_trial_complete("new", {"best_val_acc": 35.0, "config": given})
    assert [r["status"] for r in restored.history] == ["ok", "ok"] and restored.history[1]["trial_id"] == "t2"
    again = make_search_searcher(config)
    again.restore(str(run / STATE_FILE))  # saved as it went
    assert again.history == restored.history
    nxt = recorder.suggest("new2")
    assert nxt["candidate"] == 3 and "resume_from" not in nxt and again.suggest("x")["arch"] == nxt["arch"]


@pytest.mark.slow
def test_a_folder_that_only_rays_pickles_record_resumes_with_trust_and_then_needs_none(ray_session, tmp_path):
    """A search folder of an older ssnenas (no RUN/searcher.pt; pickled searcher snapshots) is refused
    without --trust-pickle; with it, Ray's Tuner.restore resumes it, and the finished folder then holds
    its searcher state as data, so the next re-run needs no trust."""
    import pickle

    from ssnenas.cli.search import make_search_searcher
    from ssnenas.errors import DataFormatError

    out = tmp_path / "run"
    flags = [*TINY, "--budget", "2", "--num-init", "2", "--epochs", "1"]
    settings = resolve_settings(_args(flags))
    first = run_search(settings, out, cpus_per_trial=1)
    (out / "searcher.pt").unlink()  # as an older ssnenas left it: Ray's records only, pickled
    for snap in (out / "tune").glob("searcher-state-*.pkl"):
        old = make_search_searcher(settings)
        old.restore(str(snap))
        snap.write_bytes(pickle.dumps({"class": type(old).__name__, "state": old.get_state()}))
    with pytest.raises(DataFormatError, match="tuner.pkl.*--trust-pickle"):
        run_search(settings, out, cpus_per_trial=1)
    trusted = run_search(settings, out, cpus_per_trial=1, trust_pickle=True)
    assert trusted["resumed"] and [c["genotype"] for c in trusted["candidates"]] == \
        [c["genotype"] for c in first["candidates"]]
    assert torch_loads_as_data(out / "searcher.pt")
    again = run_search(settings, out, cpus_per_trial=1)
    assert again["resumed"] and again["finished"] == 2


def torch_loads_as_data(path: Path) -> bool:
    import torch

    return isinstance(torch.load(path, weights_only=True), dict)

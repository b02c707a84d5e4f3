"""Progress display: a tqdm bar on a terminal only; in a log, a few plain lines (ssnenas.progress)."""

from __future__ import annotations

import io

import pytest

from ssnenas import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_tqdm_bar_and_a_log_gets_none():
    from tqdm import tqdm

    bar = progress.progress_bar(total=10, desc="x", file=_Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress.progress_bar(total=10, desc="x", file=io.StringIO()), progress.LogProgress)


def test_a_log_gets_plain_lines_not_every_step(capsys):
    with progress.progress_bar(total=5000, desc="ss-ccl nasbench201", unit="step") as bar:
        for _ in range(5000):
            bar.update(1)
            bar.set_postfix(loss="0.1234")
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == [err.splitlines()[0]]  # one closing line (the run took < LOG_EVERY_S)
    assert err.startswith("ss-ccl nasbench201: 5,000/5,000 step (100.0%), loss=0.1234, ")


def test_a_log_line_every_interval_and_nothing_when_disabled(capsys):
    bar = progress.progress_bar(total=3, desc="d", every_s=0.0)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert [ln.split(",")[0] for ln in capsys.readouterr().err.splitlines()] == \
        ["d: 1/3 it (33.3%)", "d: 2/3 it (66.7%)", "d: 3/3 it (100.0%)"]
    quiet = progress.progress_bar(total=3, desc="d", every_s=0.0, enabled=False)
    quiet.update(3)
    quiet.close()
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("one_torch_thread")
def test_pretraining_into_a_log_writes_no_per_step_bars(tmp_path, capsys):
    """The reported case: SS-CCL with its progress on, stderr not a terminal (pytest captures it)."""
    from ssnenas.pretrain import CCLConfig, arch_set, train_ccl
    from ssnenas.spaces import get_space

    archs = arch_set("nasbench201", get_space("nasbench201").all_archs()[:600])
    cfg = CCLConfig(batch_size=300, train_samples=60, batch_step=20, min_negative_size=250, epochs=2)
    train_ccl(archs, tmp_path / "c.pt", config=cfg, device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err and "step/s" not in err
    assert len(err.splitlines()) == 1 and err.startswith("ss-ccl nasbench201: 12/12 step")


@pytest.mark.parametrize("argv", [
    ["data", "prepare", "nasbench101", "--source", "x.tfrecord"],
    ["pretrain", "ss-rl", "--space", "nasbench201", "--out", "rl.pt"],
    ["pretrain", "ss-ccl", "--space", "nasbench201", "--out", "ccl.pt"],
    ["predictor-study", "--space", "nasbench201", "--data", "d", "--predictors", "gin", "--out", "o"],
    ["benchmark", "--space", "nasbench201", "--data", "d", "--algos", "random", "--trials", "1", "--budget", "5",
     "--out", "o"],
], ids=lambda argv: " ".join(argv[:3 if argv[0] in ("data", "pretrain") else 1]))
def test_every_command_with_a_bar_takes_no_progress_and_its_alias_quiet(argv):
    """One name for the flag on every command (``--no-progress``); ``--quiet`` is the same flag."""
    from ssnenas.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(argv).no_progress is False
    for flag in ("--no-progress", "--quiet"):
        assert parser.parse_args([*argv, flag]).no_progress is True

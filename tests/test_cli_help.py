"""Help that stands alone: every ``ssnenas`` command's --help (but ``search``'s, owned by the DARTS
search and checked with it) cites no file a user's clone lacks, shows no reST markup, describes
every option and states defaults as values."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from ssnenas.cli import build_parser

NOT_HERE = {"search"}  # its help is the DARTS search's (experiments/darts_search.py)


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) of ``parser`` and of every sub-command below it (aliases once)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen or (not path and name in NOT_HERE):
                    continue
                seen.add(id(sub))
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def _help(parser: argparse.ArgumentParser) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        parser.print_help()
    return buf.getvalue()


def test_every_command_is_walked():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"", "data", "data prepare", "data prepare nasbench101", "data info", "data lookup", "pretrain",
            "pretrain ss-rl", "pretrain ss-ccl", "predictor-study", "report", "benchmark", "retrain",
            "evaluate", "pack", "unpack"} <= names


@pytest.mark.parametrize("path, parser", COMMANDS, ids=[" ".join(p) or "ssnenas" for p, _ in COMMANDS])
def test_help_stands_alone(path, parser):
    text = _help(parser)
    for bad in ("algorithms.md", "§", "``", ":class:", ":func:", ":meth:", "data_home()"):
        assert bad not in text, f"ssnenas {' '.join(path)} --help shows {bad!r}"
    assert parser.description, f"ssnenas {' '.join(path)} --help has no description"
    undescribed = [a.option_strings[0] for a in parser._actions
                   if a.option_strings and a.help in (None, "") and a.help is not argparse.SUPPRESS]
    assert not undescribed, f"ssnenas {' '.join(path)}: options without help: {undescribed}"


def test_the_top_level_help_describes_evaluate_and_cites_the_papers():
    text = _help(build_parser())
    assert "evaluate" in text and "test accuracy of a retrained DARTS checkpoint" in text
    assert "arXiv 2003.12857" in text and "arXiv 2011.00186" in text


def test_report_help_covers_both_run_kinds():
    report = dict(COMMANDS)[("report",)]
    text = _help(report)
    assert "benchmark run" in text and "DARTS search" in text


def test_default_output_folder_is_shown_as_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("SSNENAS_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps long lines at hyphens too
    prepare = dict(_commands(build_parser()))[("data", "prepare", "nasbench101")]
    text = " ".join(_help(prepare).split())
    assert f"here {tmp_path / 'nasbench101-cifar10'}" in text
    assert "$SSNENAS_DATA or ~/.cache/ssnenas" in text


def test_retrain_help_defaults_are_the_retraining_defaults():
    from experiments.darts_retrain import RETRAIN_HELP_DEFAULTS
    from ssnenas.darts.train import TrainConfig

    config = TrainConfig.retrain().to_dict()
    assert RETRAIN_HELP_DEFAULTS == {k: config[k] for k in RETRAIN_HELP_DEFAULTS}

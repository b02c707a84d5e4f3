"""Pieces of experiments/bench_darts_throughput.py that need no training: JSON alone on stdout and the
projection of the paper's search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from experiments.bench_darts_throughput import PAPER_SEARCH, projection

REPO = Path(__file__).resolve().parents[1]


def test_everything_but_the_json_goes_to_stderr():
    """Python prints, C-level writes to file descriptor 1 and child processes all land on stderr inside
    the block; only what is written to the yielded stream reaches stdout."""
    code = ("import os, subprocess, sys\n"
            "from experiments.bench_darts_throughput import stdout_to_stderr\n"
            "with stdout_to_stderr() as real:\n"
            "    print('table from python')\n"
            "    os.write(1, b'raw fd write\\n')\n"
            "    subprocess.run([sys.executable, '-c', 'print(\"child\")'])\n"
            "real.write('{\"ok\": 1}\\n'); real.flush()\n"
            "print('after')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"ok": 1}\nafter\n'
    assert "table from python" in proc.stderr and "raw fd write" in proc.stderr and "child" in proc.stderr


def test_projection_of_the_paper_search():
    packs = {"1": {"candidate_epochs_per_hour": 100.0, "aggregate_images_per_s": 1000.0},
             "4": {"candidate_epochs_per_hour": 400.0, "aggregate_images_per_s": 3500.0}}
    # 5,000-image epochs -> 25,000-image epochs: 400 / 5 = 80 per hour; 5,000 candidate-epochs / 80 / 0.8
    pr = projection(packs, 5000, 0.8)
    assert pr["packed"] == 4 and pr["paper_candidate_epochs_per_hour"] == pytest.approx(80.0)
    assert pr["hours"] == pytest.approx(100 * 50 / 80.0 / 0.8)
    assert PAPER_SEARCH == {"candidates": 100, "epochs": 50, "train_images": 25_000}

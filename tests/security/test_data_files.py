"""Data files with no code: a CIFAR-10 batch and a NAS-Bench-201 .pth are read as data, never as
programs. Each payload only creates a marker file under tmp_path; the marker must never appear and
the refusal must be one line that names the file (the CLI prints it and exits 2)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from nb201_files import example_archs, write_nb201_pth
from payloads import Touch, assert_no_marker
from ssnenas.cli import main
from ssnenas.darts.data import CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, load_data
from ssnenas.errors import DataFormatError


def _cifar_folder(root, n: int = 6):
    """A cifar-10-batches-py folder in the real layout (pickle protocol 2 as the python-2 originals)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE):
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def test_cifar_batch_with_a_payload_is_refused_and_never_runs(tmp_path):
    folder = _cifar_folder(tmp_path)
    assert load_data(f"cifar10:{folder}", split="full").x_train.shape == (30, 3, 32, 32)  # the layout reads
    marker = tmp_path / "cifar-marker"
    poisoned = {b"batch_label": b"training batch 1 of 5", b"labels": [0], b"payload": Touch(marker),
                b"data": np.zeros((1, 3072), np.uint8)}
    for protocol in (2, 4, 5):
        (folder / "data_batch_1").write_bytes(pickle.dumps(poisoned, protocol=protocol))
        with pytest.raises(DataFormatError) as err:
            load_data(f"cifar10:{folder}")
        message = str(err.value)
        assert "data_batch_1" in message and "system" in message and "\n" not in message
        assert_no_marker(marker)


def test_nb201_pth_under_the_official_name_is_read_as_data(tmp_path, capsys):
    """The official file name grants no trust: a payload named NAS-Bench-201-v1_1-096897.pth is refused
    (exit 2, one line, no store) and runs only behind --trust-pickle, which is the user's word."""
    marker = tmp_path / "nb201-marker"
    source = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": example_archs(2), "arch2infos": {0: Touch(marker)}, "evaluated_indexes": [0, 1]},
               source)
    out = tmp_path / "store"
    code = main(["data", "prepare", "nasbench201", "--source", str(source), "--dataset", "cifar10-valid",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"error: --source {source}: refused") and "\n" not in err
    assert "posix.system" in err and "--trust-pickle" in err
    assert_no_marker(marker)
    assert not out.exists()
    # a real-layout file under the same name (numpy scalars inside) still converts without the flag
    write_nb201_pth(source, example_archs(3))
    assert main(["data", "prepare", "nasbench201", "--source", str(source), "--dataset", "cifar10-valid",
                 "--out", str(out)]) == 0

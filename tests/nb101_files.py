"""Writers of small NAS-Bench-101 files in exactly the official formats, for the store tests.

TFRecord framing with real masked CRC32C (google-crc32c), payloads as the official JSON list
``[module_hash, epochs, raw_adjacency, raw_operations, base64(ModelMetrics)]`` and real protobuf
encoding of ``nasbench.ModelMetrics`` (the class built at runtime from a FileDescriptorProto).
Deliberately independent of :mod:`ssnenas.store.tfrecord` so reader bugs are not mirrored here.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import google_crc32c

from ssnenas.store.nb101_proto import model_metrics_class

# Three real NB101 models (rows of nb101_1k.csv: official hash, pruned adjacency, ops).
REAL_MODELS = (
    ("00005c142e6f48ac74fdcf73e3439874", "0100110001000000010010000010000001000000010000000",
     "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output"),
    ("0000718c96730a92ea6d5242f8ce77e2", "0100000001000000010000000111000001000000010000000",
     "input,conv1x1-bn-relu,conv1x1-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,conv3x3-bn-relu,output"),
    ("009a0f4922f1f1ef74542d849f60fbf2", "011111000001000100000010000001000000",
     "input,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output"),
)


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One TFRecord record."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


def write_records(path: Path, payloads: list[bytes]) -> Path:
    path.write_bytes(b"".join(frame(p) for p in payloads))
    return path


@dataclass
class Run:
    """One training run (one repeat at one budget): halfway and final evaluation numbers (fractions)."""

    half: tuple[float, float, float, float]  # training_time, train_acc, val_acc, test_acc
    final: tuple[float, float, float, float]
    params: int = 1_000_000
    total_time: float = 0.0
    checkpoint: str = "gs://fake/model.ckpt"


def metrics_bytes(run: Run, epochs: int) -> bytes:
    msg = model_metrics_class()(trainable_parameters=run.params, total_time=run.total_time)
    for epoch, nums in ((0.0, (0.0, 0.1, 0.1, 0.1)), (epochs / 2, run.half), (float(epochs), run.final)):
        msg.evaluation_data.add(current_epoch=epoch, training_time=nums[0], train_accuracy=nums[1],
                                validation_accuracy=nums[2], test_accuracy=nums[3],
                                checkpoint_path=run.checkpoint)
    return msg.SerializeToString()


def payload(module_hash: str, epochs: int, adjacency: str, operations: str, run: Run) -> bytes:
    """The official JSON payload (json.dumps with its default ", " separators)."""
    raw = base64.b64encode(metrics_bytes(run, epochs)).decode("ascii")
    return json.dumps([module_hash, epochs, adjacency, operations, raw]).encode("utf-8")


@dataclass
class ModelRuns:
    module_hash: str
    adjacency: str
    operations: str
    runs: dict[int, list[Run]] = field(default_factory=dict)  # epochs -> repeats


def synthetic_runs(index: int, epochs: int, repeats: int = 3, params: int = 1_000_000) -> list[Run]:
    """Distinct, exactly known numbers per (model, budget, repeat)."""
    out = []
    for r in range(repeats):
        base = 0.5 + 0.01 * index + 0.001 * r + epochs / 1000.0
        out.append(Run(half=(10.0 * epochs + r, base - 0.2, base - 0.21, base - 0.22),
                       final=(20.0 * epochs + r, base, base - 0.01, base - 0.02), params=params + index))
    return out


def model_payloads(models: list[ModelRuns], *, interleave: bool = True) -> list[bytes]:
    """Payloads of every run; ``interleave`` spreads a model's records over the file (as real files may)."""
    per_model = [[payload(m.module_hash, e, m.adjacency, m.operations, run)
                  for e, runs in sorted(m.runs.items()) for run in runs] for m in models]
    if not interleave:
        return [p for ps in per_model for p in ps]
    out = []
    for i in range(max(len(ps) for ps in per_model)):
        out.extend(ps[i] for ps in per_model if i < len(ps))
    return out

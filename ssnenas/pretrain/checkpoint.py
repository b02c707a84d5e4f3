"""Pre-training checkpoints: one ``torch.save`` file, rewritten atomically after every epoch.

Layout (plain dicts, lists, numbers, strings and tensors, so ``torch.load(weights_only=True)`` reads it)::

    {"format": "ssnenas-pretrain", "version": 1,
     "method": "ss-rl" | "ss-ccl", "space": "nasbench201",
     "dims": {"num_features": 8, "width": 32, "layers": 3, ...},
     "config": {...every knob that changes the result...},
     "data": {"fingerprint": ..., "source": ..., "num_archs": ...},
     "epoch": <epochs completed>, "history": [{per-epoch metrics}, ...],
     "model": state_dict, "optimizer": state_dict}

A restarted command finds the file, checks it was written by the same method, space, dimensions,
knobs and data, and continues at ``epoch``. All randomness of epoch e is derived from
``(seed, e)``, so nothing else needs saving for a bit-identical resume.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from ssnenas.atomic import atomic_path
from ssnenas.errors import InputError, StoreError
from ssnenas.spaces import get_space

FORMAT = "ssnenas-pretrain"
VERSION = 1
METHODS = ("ss-rl", "ss-ccl")
# state_dict prefix of the GIN encoder the fine-tuning reuses (the weights the original SSNENAS code
# loads): SS-RL's first branch; SS-CCL's encoder_q without its projection fc.
ENCODER_PREFIX = {"ss-rl": "branch_a.", "ss-ccl": "encoder_q.encoder."}
#: knobs added after checkpoints were first written: a checkpoint without one ran with this value
LATER_KNOB_DEFAULTS = {"ged": "normalized"}


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and sanity-check a pre-training checkpoint (StoreError naming the file otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"checkpoint {path}: no such file; run `ssnenas pretrain ss-rl|ss-ccl --out {path}`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or not a torch file
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # torch's own run over many lines
        raise StoreError(f"checkpoint {path}: cannot be read as a torch checkpoint ({why}); "
                         "re-run the pre-training to write it again") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise StoreError(f"checkpoint {path}: not an ssnenas pre-training checkpoint "
                         f"(no format={FORMAT!r} entry); pass a file written by `ssnenas pretrain`")
    if ckpt.get("version") != VERSION or ckpt.get("method") not in METHODS:
        raise StoreError(f"checkpoint {path}: version {ckpt.get('version')} / method {ckpt.get('method')!r} "
                         f"not understood (this ssnenas reads version {VERSION}, methods {METHODS})")
    return ckpt


def weights_sha256(path: str | os.PathLike) -> str:
    """sha256 of a checkpoint's model weights (each tensor's name, dtype, shape and bytes, in name
    order): what a fine-tuning starts from. Unlike the file's hash it leaves out the history (which
    records wall seconds) and the optimiser, so re-running the same pre-training gives the same value."""
    digest = hashlib.sha256()
    for name, tensor in sorted(read_checkpoint(path)["model"].items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def describe(ckpt: dict[str, Any]) -> str:
    """One line saying what a checkpoint holds: method, space, dims, epochs."""
    d = ckpt.get("dims", {})
    return (f"{ckpt.get('method')} on {ckpt.get('space')} (num_features={d.get('num_features')}, "
            f"width={d.get('width')}, layers={d.get('layers')}), {ckpt.get('epoch')} epoch(s)")


def check_same_run(path: str | os.PathLike, old: dict[str, Any], fresh: dict[str, Any]) -> None:
    """InputError unless the checkpoint ``old`` at ``path`` continues the run whose fresh checkpoint
    (same command, epoch 0) is ``fresh``."""
    check_resumable(path, old, method=fresh["method"], space=fresh["space"], dims=fresh["dims"],
                    config=fresh["config"], data_fingerprint=fresh["data"]["fingerprint"])


def check_resumable(path: str | os.PathLike, ckpt: dict[str, Any], *, method: str, space: str,
                    dims: dict, config: dict, data_fingerprint: str) -> None:
    """InputError unless ``ckpt`` was written by this very command (same knobs and data)."""
    held = {"method": ckpt.get("method"), "space": ckpt.get("space"), "dims": ckpt.get("dims"),
            "data fingerprint": ckpt.get("data", {}).get("fingerprint")}
    want = {"method": method, "space": space, "dims": dims, "data fingerprint": data_fingerprint}
    diffs = [f"{k}: checkpoint {held[k]!r} vs now {want[k]!r}" for k in held if held[k] != want[k]]
    old_cfg = {**{k: v for k, v in LATER_KNOB_DEFAULTS.items() if k in config}, **ckpt.get("config", {})}
    diffs += [f"{k}: checkpoint {old_cfg.get(k)!r} vs now {config.get(k)!r}"
              for k in sorted(set(old_cfg) | set(config)) if old_cfg.get(k) != config.get(k)]
    if diffs:
        raise InputError(f"--out {path} already holds a checkpoint of a different run ({'; '.join(diffs)}); "
                         "rerun with the same settings to resume it, or pass a new --out")


def load_pretrained_encoder(ckpt_path: str | os.PathLike, *, space: str, width: int = 32) -> dict:
    """The GIN encoder ``state_dict`` a fine-tuning loads (the part the original SSNENAS code transfers).

    SS-RL: the first branch's encoder (its projection ``linear_branch1`` is not transferred);
    SS-CCL: ``encoder_q`` without the projection fc. Load it with
    ``GINEncoder(num_features, width=width).load_state_dict(sd)``. A checkpoint of another space or
    width raises :class:`StoreError` naming the file and what it holds.
    """
    ckpt = read_checkpoint(ckpt_path)
    want = get_space(space).name
    dims = ckpt.get("dims", {})
    if ckpt.get("space") != want or dims.get("width") != width:
        raise StoreError(f"checkpoint {ckpt_path} holds {describe(ckpt)}, but the predictor needs space "
                         f"{want} with width {width}; pass a checkpoint pre-trained for {want} "
                         f"(`ssnenas pretrain ... --space {want}`) or match --width")
    prefix = ENCODER_PREFIX[ckpt["method"]]
    state = {k[len(prefix):]: v for k, v in ckpt["model"].items() if k.startswith(prefix)}
    if not state:
        raise StoreError(f"checkpoint {ckpt_path}: no '{prefix}*' encoder weights in it ({describe(ckpt)})")
    return state


def parse_predictor(text: str, *, space: str | None = None, flag: str = "--predictor") -> tuple[str, str]:
    """``KIND=CKPT`` of a ``--predictor`` flag as ``(kind, resolved path)``, the checkpoint read and
    checked here (a pre-training of ``kind``, and of ``space`` when given), so that a command refuses a
    bad file before it writes anything. :class:`InputError` naming the flag, the value and the fix."""
    kind, sep, path = str(text).partition("=")
    if kind not in METHODS or not sep or not path:
        raise InputError(f"{flag} {text!r}: use ss-ccl=CHECKPOINT (or ss-rl=CHECKPOINT), a file written by "
                         f"`ssnenas pretrain ss-ccl{'' if space is None else ' --space ' + space}`")
    where = Path(path)
    if not where.is_file():
        raise InputError(f"{flag} {text!r}: checkpoint {path} not found; pre-train one with "
                         f"`ssnenas pretrain {kind}{'' if space is None else ' --space ' + space} --out DIR`")
    try:
        ckpt = read_checkpoint(where)
    except StoreError as exc:
        msg = str(exc)
        if "\n" in msg:  # torch's own multi-line reason: keep the message to one line
            msg = msg.split(" (", 1)[0] + f"; pass a file written by `ssnenas pretrain {kind}`"
        raise InputError(f"{flag} {text!r}: {msg}") from None
    want = None if space is None else get_space(space).name
    if ckpt.get("method") != kind or (want is not None and ckpt.get("space") != want):
        raise InputError(f"{flag} {text!r}: the checkpoint holds {describe(ckpt)}, not a {kind} pre-training"
                         f"{'' if want is None else ' on ' + want}; pass a matching checkpoint")
    return kind, str(where.resolve())

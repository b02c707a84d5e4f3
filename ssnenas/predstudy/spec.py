"""Which predictors a study compares, their learning rates, and their pre-trained encoders.

A predictor is named on the command line as ``gin`` (the "supervised" baseline: the fine-tune head
on a randomly initialised GIN, as in the original SSNENAS predictor studies), ``ss-rl=CKPT`` or
``ss-ccl=CKPT`` (the same network whose encoder starts from an SS-RL / SS-CCL pre-training checkpoint).
A label after a colon, ``ss-ccl:140k=CKPT``, lets one study compare several checkpoints of one kind (as
the original code compares SS-CCL checkpoints pre-trained on 10k to 140k architectures). The baselines
``np-nas``, ``seminas``, ``mlp`` and ``bananas`` (:mod:`.baselines`) take no checkpoint; their lr is
their recipe's unless ``--lr`` overrides it.

Default learning rates, those of the original code's predictor studies as its optimisers use them (the
code also scales SS-RL's lr by 0.1, but in a field the optimiser is not built from). DARTS had no
predictor study in the original code; it gets the NB101 values.

=========== ======== ======== ========
kind        NB101    NB201    DARTS
=========== ======== ======== ========
gin         5e-3     1e-3     5e-3
ss-rl       5e-4     1e-3     5e-4
ss-ccl      5e-3     5e-3     5e-3
=========== ======== ======== ========
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ssnenas.checks import MAX_LR
from ssnenas.errors import InputError, StoreError
from ssnenas.fingerprint import file_sha256

GIN_KINDS = ("gin", "ss-rl", "ss-ccl")
KINDS = (*GIN_KINDS, "np-nas", "seminas", "mlp", "bananas")
BASELINE = "gin"
#: the SSNENAS study code's lr per predictor kind and space; TransNAS-Bench-101 micro, which that code
#: never studied, takes NAS-Bench-201's (the same cell, the same GIN inputs but one op fewer)
DEFAULT_LR: dict[str, dict[str, float]] = {
    "gin": {"nasbench101": 5e-3, "nasbench201": 1e-3, "darts": 5e-3, "transnas101-micro": 1e-3},
    "ss-rl": {"nasbench101": 5e-4, "nasbench201": 1e-3, "darts": 5e-4, "transnas101-micro": 1e-3},
    "ss-ccl": {"nasbench101": 5e-3, "nasbench201": 5e-3, "darts": 5e-3, "transnas101-micro": 5e-3},
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True, kw_only=True)
class PredictorSpec:
    """One predictor of a study: ``name`` (unique, what the results call it), ``kind`` (one of
    :data:`KINDS`), the pre-training ``checkpoint`` (None for ``gin``) and the fine-tuning ``lr``."""

    name: str
    kind: str
    checkpoint: Path | None
    lr: float


@dataclass(frozen=True, kw_only=True)
class LoadedPredictor:
    """A :class:`PredictorSpec` with its encoder weights (None: random init) and the checkpoint's
    sha256 (``""`` for none), which ties finished study cells to the exact weights they used."""

    spec: PredictorSpec
    encoder_state: dict | None = field(repr=False)
    checkpoint_sha256: str


def parse_predictors(items: Iterable[str], *, space: str,
                     lr_overrides: Mapping[str, float] | None = None) -> list[PredictorSpec]:
    """Parse ``gin``, ``ss-rl=CKPT``, ``ss-ccl[:label]=CKPT`` items; lrs from the table unless overridden.

    ``lr_overrides`` maps a predictor name or a kind to an lr (the name wins).
    """
    specs: list[PredictorSpec] = []
    for item in items:
        name, sep, ckpt = item.partition("=")
        name = name.strip()
        kind = name.split(":", 1)[0]
        if kind not in KINDS:
            raise InputError(f"--predictors {item!r}: unknown predictor {kind!r}; use gin, ss-rl=CKPT, "
                             "ss-ccl=CKPT (optionally kind:label=CKPT) or a baseline: np-nas, seminas, mlp, "
                             "bananas")
        if not _NAME.match(name.replace(":", "-", 1)) or name.endswith(":"):
            raise InputError(f"--predictors {item!r}: the label may hold letters, digits and . _ + - only")
        if kind == "gin" and sep:
            raise InputError(f"--predictors {item!r}: gin is the randomly initialised baseline and takes no "
                             "checkpoint; write plain 'gin'")
        if kind not in GIN_KINDS and sep:
            raise InputError(f"--predictors {item!r}: the {kind} baseline trains from scratch and takes no "
                             f"checkpoint; write plain '{name}'")
        if kind in ("ss-rl", "ss-ccl") and not ckpt:
            raise InputError(f"--predictors {item!r}: {kind} needs its pre-training checkpoint, e.g. "
                             f"{kind}=ckpt.pt (make one with `ssnenas pretrain {kind} ...`)")
        if any(s.name == name for s in specs):
            raise InputError(f"--predictors: {name!r} is given twice; give each predictor once "
                             "(label repeats of a kind as kind:label=CKPT)")
        if kind in GIN_KINDS:
            lr = DEFAULT_LR[kind][space]
        else:
            from ssnenas.predstudy.baselines import recipe

            lr = float(recipe(kind, space)["lr"])
        specs.append(PredictorSpec(name=name, kind=kind, checkpoint=Path(ckpt) if ckpt else None, lr=lr))
    if not specs:
        raise InputError("--predictors: name at least one predictor (gin, ss-rl=CKPT, ss-ccl=CKPT)")
    overrides = dict(lr_overrides or {})
    known = {s.name for s in specs} | {s.kind for s in specs}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"--lr {unknown[0]}=...: no predictor or kind of that name in --predictors "
                         f"({', '.join(s.name for s in specs)})")
    for k, v in overrides.items():
        if not 0 < v <= MAX_LR:  # also refuses nan
            raise InputError(f"--lr {k}={v}: a learning rate must be > 0 and <= {MAX_LR:g}")
    return [PredictorSpec(name=s.name, kind=s.kind, checkpoint=s.checkpoint,
                          lr=float(overrides.get(s.name, overrides.get(s.kind, s.lr)))) for s in specs]


def parse_lr_overrides(items: Iterable[str] | None) -> dict[str, float]:
    """``["gin=1e-3", "ss-rl=5e-4"]`` → ``{"gin": 0.001, "ss-rl": 0.0005}``."""
    out: dict[str, float] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--lr {item!r}: write NAME=VALUE, e.g. --lr gin=1e-3 ss-ccl=5e-3") from None
    return out


def load_predictor(spec: PredictorSpec, *, space: str, num_features: int) -> LoadedPredictor:
    """Read ``spec``'s checkpoint and check it: the right method (ss-rl / ss-ccl), space and node
    features, and an encoder state a width-32 GIN loads strictly. Errors name the file and the fix."""
    if spec.checkpoint is None:
        return LoadedPredictor(spec=spec, encoder_state=None, checkpoint_sha256="")
    from ssnenas.predictors.gin import GINEncoder
    from ssnenas.pretrain.checkpoint import describe, load_pretrained_encoder, read_checkpoint

    path = spec.checkpoint
    try:
        ckpt = read_checkpoint(path)  # StoreError for a missing / unreadable / foreign file
    except StoreError as exc:
        raise StoreError(f"--predictors {spec.name}={path}: {exc}") from None
    if ckpt["method"] != spec.kind:
        raise InputError(f"--predictors {spec.name}={path}: the checkpoint holds {describe(ckpt)}, not an "
                         f"{spec.kind} pre-training; pass it as {ckpt['method']}={path} or give the "
                         f"{spec.kind} checkpoint")
    dims = ckpt.get("dims", {})
    state = load_pretrained_encoder(path, space=space)  # StoreError for another space or width
    if dims.get("num_features") not in (None, num_features):
        raise StoreError(f"checkpoint {path} holds {describe(ckpt)}, but the --data graphs have "
                         f"{num_features} node features; pre-train on the same space's graphs")
    if int(dims.get("layers", 3)) != 3:
        raise StoreError(f"checkpoint {path} holds a {dims.get('layers')}-layer encoder; the study's "
                         "predictors have 3 GIN layers, as in SSNENAS; pre-train with --layers 3")
    try:
        GINEncoder(num_features, width=32).load_state_dict(state)
    except RuntimeError as exc:
        raise StoreError(f"checkpoint {path}: its encoder does not fit a {num_features}-feature width-32 GIN "
                         f"({str(exc).splitlines()[0]}); pass a checkpoint from `ssnenas pretrain`") from None
    return LoadedPredictor(spec=spec, encoder_state=state, checkpoint_sha256=file_sha256(path))

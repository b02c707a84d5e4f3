"""A benchmark run's folder identity: whether ``--out`` is new, the same run (resume), or the same run
grown (an extension), and how config.json records that.

A run may be extended: ``--algos`` with all of its algorithms plus new ones (and the new ones'
checkpoints) runs only the new ones, on the same paired trials; a larger ``--trials`` runs only the
new trials (a task's seed and initial architectures depend only on its trial and algorithm, neither
on the other algorithms nor on the run they are in), so a run grown from 4 to 8 trials equals one
made with 8. Fewer trials or algorithms are another run, refused.

What a run searched is compared by content: the store's fingerprint (``store``,
:func:`ssnenas.store.content.store_identity`: its architectures, which value columns it holds and a
hash of them), the predictor checkpoints' weights and the effective settings; a difference is one
line naming the field (for the store, the fingerprint field: ``store value_columns: ...``). The generic
rules (new / run / refused folder) are :mod:`ssnenas.runfolder`'s, shared with the DARTS search.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssnenas.analysis.runs import EXTENSIBLE_FIELDS, covers, identity_diffs
from ssnenas.atomic import atomic_json
from ssnenas.runfolder import existing_run, refuse_other_run
from ssnenas.store.content import identity_diff


def check_run_folder(out: Path, run_config: dict[str, Any]) -> None:
    """Check that ``out`` is new or holds a run of ``run_config`` (or of a part of it: an extension)."""
    out = Path(out)
    old = existing_run(out, "--out ")
    if old is None:
        return
    added = extension(old, run_config)
    diffs: list[str] = []
    for k in identity_diffs(old, run_config):
        if added and k in EXTENSIBLE_FIELDS:
            continue
        if k == "store":  # by content: name the fingerprint fields that differ, not two whole dicts
            diffs += identity_diff(old[k], run_config[k], label="store") or ["store: differs"]
        else:
            diffs.append(f"{k}: {run_config.get(k)!r} now vs {old.get(k)!r} there")
    refuse_other_run(out, diffs, resume="repeat its original command to resume it (--algos/--trials may grow "
                                        "it)")


def write_run_config(path: Path, run_config: dict[str, Any], started: str) -> None:
    """Write a new run's config.json, or record an extension (:func:`check_run_folder`) in the
    existing one: the grown algorithms and checkpoints and an ``extended`` entry; else leave it."""
    if not path.is_file():
        atomic_json(path, {**run_config, "created": started})
        return
    old = json.loads(path.read_text())
    added = extension(old, run_config)
    # a config written before stores were known by content gains the store's fingerprint (it was
    # compared by the source file's), so the run refuses another store's content from now on
    store = {} if "store" in old or "store" not in run_config else {"store": run_config["store"]}
    if added:
        entry: dict[str, Any] = {"at": started, "added": [a for a in added if not a.startswith("--trials ")]}
        if int(run_config["trials"]) > int(old.get("trials") or 0):
            entry["trials"] = {"from": int(old.get("trials") or 0), "to": int(run_config["trials"])}
        atomic_json(path, {**old, **{k: run_config[k] for k in EXTENSIBLE_FIELDS}, **store,
                            "cohort_sizes": {**old.get("cohort_sizes", {}), **run_config["cohort_sizes"]},
                            "extended": [*old.get("extended", []), entry]})
        return
    if store:
        old = {**old, **store}
        atomic_json(path, old)
    # a config written before checkpoints were known by their weights gains their hashes (the files
    # are the same: same_checkpoint compared their sha256), so the run can later move or resume with
    # a re-made checkpoint
    preds = old.get("predictors") or {}
    hashes = {k: v["weights_sha256"] for k, v in run_config["predictors"].items()
              if k in preds and "weights_sha256" not in preds[k]}
    if hashes:
        atomic_json(path, {**old, "predictors": {k: {**v, "weights_sha256": hashes[k]} if k in hashes else v
                                                 for k, v in preds.items()}})


def extension(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What ``new`` adds to ``old`` when it only adds (keeps every algorithm, checkpoint and trial of
    ``old`` and adds at least one algorithm or trial): the new algorithms, ``--predictor KIND`` per
    new checkpoint and ``--trials OLD -> NEW``; else []."""
    old_algos, new_algos = old.get("algorithms") or [], new.get("algorithms") or []
    old_preds, new_preds = old.get("predictors") or {}, new.get("predictors") or {}
    old_trials, new_trials = int(old.get("trials") or 0), int(new.get("trials") or 0)
    if not covers(new, old) or (set(old_algos) == set(new_algos) and new_trials <= old_trials):
        return []
    return ([a for a in new_algos if a not in old_algos]
            + [f"--predictor {k}" for k in new_preds if k not in old_preds]
            + ([f"--trials {old_trials} -> {new_trials}"] if new_trials > old_trials else []))

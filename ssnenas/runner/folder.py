"""A benchmark run's folder identity: whether ``--out`` is new, the same run (resume), or the same run
with more algorithms (an extension), and how config.json records that.

A run may be extended: ``--algos`` with all of its algorithms plus new ones (and the new ones'
checkpoints) runs only the new ones, on the same paired trials (a task's seed and initial
architectures depend neither on the other algorithms nor on the run they are in). The generic rules
(new / run / refused folder) are :mod:`ssnenas.runfolder`'s, shared with the DARTS search.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssnenas.analysis.runs import EXTENSIBLE_FIELDS, covers, identity_diffs
from ssnenas.atomic import atomic_json
from ssnenas.runfolder import existing_run, refuse_other_run


def check_run_folder(out: Path, run_config: dict[str, Any]) -> None:
    """Check that ``out`` is new or holds a run of ``run_config`` (or of a part of it: an extension)."""
    out = Path(out)
    old = existing_run(out, "--out ")
    if old is None:
        return
    added = extension(old, run_config)
    diffs = [f"{k}: {run_config.get(k)!r} now vs {old.get(k)!r} there"
             for k in identity_diffs(old, run_config) if not (added and k in EXTENSIBLE_FIELDS)]
    refuse_other_run(out, diffs, resume="repeat its original command to resume it (--algos may add algorithms "
                                        "to its own)")


def write_run_config(path: Path, run_config: dict[str, Any], started: str) -> None:
    """Write a new run's config.json, or record an extension (:func:`check_run_folder`) in the
    existing one: the grown algorithms and checkpoints and an ``extended`` entry; else leave it."""
    if not path.is_file():
        atomic_json(path, {**run_config, "created": started})
        return
    old = json.loads(path.read_text())
    added = extension(old, run_config)
    if added:
        atomic_json(path, {**old, **{k: run_config[k] for k in EXTENSIBLE_FIELDS},
                            "cohort_sizes": {**old.get("cohort_sizes", {}), **run_config["cohort_sizes"]},
                            "extended": [*old.get("extended", []), {"at": started, "added": added}]})
        return
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
    """The algorithms and checkpoint kinds ``new`` adds to ``old`` when it only adds (keeps every
    algorithm and checkpoint of ``old`` unchanged and adds at least one algorithm), else []."""
    old_algos, new_algos = old.get("algorithms") or [], new.get("algorithms") or []
    old_preds, new_preds = old.get("predictors") or {}, new.get("predictors") or {}
    if set(old_algos) == set(new_algos) or not covers(new, old):
        return []
    return ([a for a in new_algos if a not in old_algos]
            + [f"--predictor {k}" for k in new_preds if k not in old_preds])

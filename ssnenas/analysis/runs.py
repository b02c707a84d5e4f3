"""The on-disk layout of a run folder, shared by the writer (``ssnenas.runner``) and the report.

A benchmark run ``RUN/``::

    RUN/config.json                               what was run (``"kind": "benchmark"``), written first
    RUN/results/trial=00012/algo=npenas-np.parquet one file per finished (trial, algorithm), atomic
    RUN/summary.json                              wall time, overhead share, ... of the last invocation

Each result file holds one row per query, in evaluation order (:data:`RESULT_COLUMNS` first, then
``timing_<name>`` columns with the searcher's own ``timings``, repeated on every row of the trial: e.g.
``timing_predictor_fit_s``, the seconds the trial spent fitting predictors, and ``timing_fits``, how
many fits it made; in a cohort of C trials, whose fits are batched into one model, each trial records
the batched fit's wall time divided by C). A file exists only once its task has
finished, so "the set of files" is "the set of finished tasks".

Only Parquet and JSON are read here: the analysis layer never imports ``search_algos``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq

from ssnenas.atomic import atomic_path
from ssnenas.errors import InputError
from ssnenas.runfolder import CONFIG_FILE, holds_run  # noqa: F401  (holds_run: the one folder check, re-exported)

SUMMARY_FILE = "summary.json"
RESULTS_DIR = "results"
RUN_KINDS = ("benchmark",)
_RESULT_RE = re.compile(r"^algo=(?P<algo>[A-Za-z0-9_.+%~-]+)\.parquet$")
#: characters of an algorithm name kept as they are in its file name; others are %-escaped (Hive's
#: partition-path escaping: ``npenas-ssrl-fixed:20`` -> ``algo=npenas-ssrl-fixed%3A20.parquet``)
_NAME_SAFE = "-_.+"
_TRIAL_RE = re.compile(r"^trial=(?P<trial>\d+)$")
#: Config fields that say what a run is: they must match for a RUN folder to be resumed, extended or
#: unpacked into (the rest of config.json says how and when it ran).
#: ``store`` is the store's content fingerprint (:func:`ssnenas.store.content.store_identity`): where both
#: configs have it, it decides and ``data_fingerprint`` (the source file's hash) is not compared; a config
#: written before it existed is compared by ``data_fingerprint`` alone, so older runs stay resumable.
IDENTITY_FIELDS = ("kind", "format_version", "space", "benchmark", "dataset", "data_fingerprint",
                   "algorithms", "trials", "budget", "seed", "num_initial", "initial_sampling",
                   "predictors", "overrides", "store")
#: Identity fields a run may grow: ``--algos`` naming more algorithms (with their ``--predictor`` and
#: ``--set`` settings) and a larger ``--trials`` extend it (a task's seed and initial architectures depend
#: only on its trial and algorithm, so a grown run equals one made at its size); what the run's own
#: algorithms search with (checkpoints, effective settings) must stay as it was (:func:`covers`).
EXTENSIBLE_FIELDS = ("algorithms", "predictors", "trials", "overrides")

#: Per-query columns of a result file (``timing_<name>`` columns follow).
RESULT_COLUMNS = {
    "trial": "trial index (0-based); all algorithms of one trial start from the same initial archs",
    "algorithm": "algorithm name as given to --algos",
    "seed": "the task's seed, derived from (base seed, trial, algorithm name)",
    "query": "1-based position in evaluation order (= number of architectures queried so far)",
    "arch": "the space's string form of the architecture",
    "key": "canonical benchmark key of the architecture",
    "val_acc": "validation value of the store's metric: accuracy (%), or as config.json's metric says "
               "(SSIM, negative loss; higher is better)",
    "test_acc": "test value of that metric from the store; null when the store has no test column",
    "best_val_acc_so_far": "max val_acc over queries 1..query",
    "test_acc_of_best_val_so_far": "test_acc of the first arch reaching best_val_acc_so_far",
    "wall_time_s": "wall time of the whole task (store access, searcher construction and search)",
    "search_time_s": "time spent constructing and running the searcher (the 'useful' work)",
    "node_id": "Ray node id the task ran on",
    "platform": "processor and torch kernels that computed the task (ssnenas.compute_platform): a seed "
                "re-makes a trial bit for bit only on the same platform; absent in runs before 2026-12-02",
}


def result_path(run: str | os.PathLike, trial: int, algorithm: str) -> Path:
    """``RUN/results/trial=TTTTT/algo=NAME.parquet``, NAME %-escaped beyond letters, digits and ``-_.+``
    (``:`` -> ``%3A``; the names of earlier runs need no escape and map to the same paths)."""
    return Path(run) / RESULTS_DIR / f"trial={trial:05d}" / f"algo={quote(algorithm, safe=_NAME_SAFE)}.parquet"


def same_checkpoint(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two ``predictors`` entries of run configs name the same pre-trained weights: equal
    ``weights_sha256`` (the file may have been re-made or moved), or, for a config written before
    weights were hashed, equal file ``sha256``."""
    if a.get("weights_sha256") and b.get("weights_sha256"):
        return a["weights_sha256"] == b["weights_sha256"]
    return a.get("sha256") == b.get("sha256")


def identity_diffs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The :data:`IDENTITY_FIELDS` in which two run configs differ (checkpoints by their weights; the
    store by its content where both configs record it, else by its source file's fingerprint)."""
    by_content = isinstance(old.get("store"), dict) and isinstance(new.get("store"), dict)
    diffs = []
    for k in IDENTITY_FIELDS:
        if k == "predictors":
            po, pn = old.get(k) or {}, new.get(k) or {}
            if set(po) != set(pn) or any(not same_checkpoint(po[x], pn[x]) for x in po):
                diffs.append(k)
        elif k == "store":
            if by_content and old[k] != new[k]:
                diffs.append(k)
        elif k == "data_fingerprint" and by_content:
            continue
        elif old.get(k) != new.get(k):
            diffs.append(k)
    return diffs


def result_identity_sha256(config: dict[str, Any]) -> str:
    """The ``config_sha256`` a result file records: the run's identity without what a run may grow
    (:data:`EXTENSIBLE_FIELDS`), and by content where the store's content is known, so that a task's
    file is the same whether its run was made at once or grown to its size."""
    skip = set(EXTENSIBLE_FIELDS) | ({"data_fingerprint"} if isinstance(config.get("store"), dict) else set())
    ident = {k: config.get(k) for k in IDENTITY_FIELDS if k not in skip}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def effective_settings(config: dict[str, Any], algorithm: str) -> dict[str, Any]:
    """The ``--set`` settings ``algorithm`` searched with in the run of ``config``: those for every
    algorithm, then its own."""
    overrides = config.get("overrides") or {}
    return {**overrides.get("*", {}), **overrides.get(algorithm, {})}


def covers(big: dict[str, Any], small: dict[str, Any]) -> bool:
    """Run config ``big`` has every algorithm of ``small``, with the same checkpoints, and at least its
    trials: it is ``small`` or an extension of it (when the other identity fields agree)."""
    big_preds = big.get("predictors") or {}
    return (set(small.get("algorithms") or []) <= set(big.get("algorithms") or [])
            and int(big.get("trials") or 0) >= int(small.get("trials") or 0)
            and all(effective_settings(big, a) == effective_settings(small, a) for a in small.get("algorithms") or [])
            and all(k in big_preds and same_checkpoint(big_preds[k], v)
                    for k, v in (small.get("predictors") or {}).items()))


def write_result(run: str | os.PathLike, trial: int, algorithm: str, table: pa.Table,
                 meta: dict[str, Any]) -> Path:
    """Write one finished task's table atomically to :func:`result_path`, ``meta`` (JSON) in its schema
    metadata under ``ssnenas``; the one writer of result files, so equal tables give equal bytes."""
    path = result_path(run, trial, algorithm)
    table = table.replace_schema_metadata({b"ssnenas": json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def finished_tasks(run: str | os.PathLike) -> dict[tuple[int, str], Path]:
    """``{(trial, algorithm): file}`` of every finished task of ``run`` (temporaries ignored)."""
    out: dict[tuple[int, str], Path] = {}
    root = Path(run) / RESULTS_DIR
    if not root.is_dir():
        return out
    for trial_dir in sorted(root.iterdir()):
        m = _TRIAL_RE.match(trial_dir.name)
        if not m or not trial_dir.is_dir():
            continue
        for f in sorted(trial_dir.iterdir()):
            a = _RESULT_RE.match(f.name)
            if a and f.is_file():
                out[(int(m["trial"]), unquote(a["algo"]))] = f
    return out


def read_config(run: str | os.PathLike) -> dict[str, Any]:
    """``RUN/config.json``; :class:`InputError` naming the folder when it is not a run."""
    path = Path(run) / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{run}: not a run folder (no {CONFIG_FILE}); pass the --out folder of "
                         "`ssnenas benchmark`")
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable run config ({exc}); the run folder is damaged") from exc
    kind = config.get("kind")
    if kind not in RUN_KINDS:
        raise InputError(f"{path}: run kind {kind!r} has no report; known kinds: {', '.join(RUN_KINDS)}")
    return config


def read_summary(run: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(run) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def read_results(run: str | os.PathLike) -> pa.Table:
    """Every finished result file of ``run`` as one table, ordered by (trial, algorithm, query).

    Files are read one by one (not as a hive dataset: the folder names repeat in-file columns).
    Timing columns missing from some algorithms are filled with nulls.
    """
    files = finished_tasks(run)
    if not files:
        return pa.table({name: pa.array([], type=pa.null()) for name in RESULT_COLUMNS})
    tables = [pq.read_table(files[k]) for k in sorted(files)]
    return pa.concat_tables(tables, promote_options="default")

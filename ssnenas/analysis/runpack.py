"""A benchmark run's finished tasks in one file, to carry a run to another machine or session and
resume it there.

    ssnenas pack RUN FILE [--algos ALGO ...]     RUN/config.json + every finished result -> FILE
    ssnenas unpack FILE RUN                       FILE -> RUN (new, or a run of the same study)

Why: a long study outlives the node or session it started on (600 BANANAS trials on NB201 cost
about 3.7 hours of this project's 2-core machine), and a run folder holds one small Parquet file per
finished (trial, algorithm), 2,400 files of about 12 KB for 600 trials of four algorithms. The pack
is a single Parquet file: the result rows of the packed tasks, concatenated in (trial, algorithm)
order and compressed with zstd at level 19 (``key`` left out where it equals ``arch``: 6-8 bytes a
query on NB201, 1.44 MB for 600 trials of four algorithms at budget 100), and, in its schema
metadata, ``config.json``, the run's last ``summary.json``, each task's row count, column schema and
result metadata. ``unpack`` re-creates every packed result file with the writer that made it (:func:`~ssnenas.analysis.runs.write_result`), so
the files are equal to the originals byte for byte under the same pyarrow, and re-running the run's
``ssnenas benchmark`` command then runs only the tasks the pack did not hold (a task's seed and
initial architectures depend on its trial and algorithm only). Unpacking never overwrites: a result
file already in RUN is kept, so unpacking the packs of several sessions or nodes into one folder
merges them, also packs made before and after the run was extended by more ``--algos`` (the folder
keeps the config with more algorithms).
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssnenas.analysis.runs import (CONFIG_FILE, EXTENSIBLE_FIELDS, SUMMARY_FILE, covers, finished_tasks,
                                   holds_run, identity_diffs, read_config, read_summary, result_path, write_result)
from ssnenas.atomic import atomic_json, atomic_path
from ssnenas.errors import InputError

PACK_KEY = b"ssnenas_run_pack"
PACK_FORMAT = 1
ZSTD_LEVEL = 19
KEY_IS_ARCH = "_pack_key_is_arch"


def _schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.remove_metadata().serialize().to_pybytes()).decode()


def _schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _drop_repeated_keys(rows: pa.Table) -> pa.Table:
    """Null ``key`` where it equals ``arch`` (always on NB201, where the string is the key; a third of
    the pack's bytes otherwise), marking those rows in a boolean column that costs almost nothing."""
    if "key" not in rows.column_names or "arch" not in rows.column_names:
        return rows
    key = rows["key"]
    same = pc.fill_null(pc.equal(key, rows["arch"]), False)
    rows = rows.set_column(rows.column_names.index("key"), "key", pc.if_else(same, pa.scalar(None, key.type), key))
    return rows.append_column(KEY_IS_ARCH, same)


def _restore_keys(rows: pa.Table) -> pa.Table:
    """Undo :func:`_drop_repeated_keys`."""
    if KEY_IS_ARCH not in rows.column_names:
        return rows
    key = pc.if_else(rows[KEY_IS_ARCH], rows["arch"], rows["key"])
    return rows.set_column(rows.column_names.index("key"), "key", key).drop_columns([KEY_IS_ARCH])


def pack_run(run: str | os.PathLike, file: str | os.PathLike, algorithms: list[str] | None = None) -> dict[str, Any]:
    """Write every finished task of ``run`` (of ``algorithms`` only, when given) to the pack ``file``
    (atomically); returns ``{"file", "tasks", "rows", "bytes", "algorithms": {name: tasks}}``."""
    config = read_config(run)
    tasks = finished_tasks(run)
    if algorithms:
        unknown = sorted(set(algorithms) - set(config.get("algorithms", [])))
        if unknown:
            raise InputError(f"--algos {' '.join(unknown)}: not in {run} (its algorithms: "
                             f"{' '.join(config.get('algorithms', []))}); name some of those")
        tasks = {k: p for k, p in tasks.items() if k[1] in algorithms}
    if not tasks:
        raise InputError(f"{run}: no finished tasks{' of ' + ' '.join(algorithms) if algorithms else ''} to pack")
    schemas: list[str] = []
    metas: list[str] = []
    index: list[list[Any]] = []
    tables: list[pa.Table] = []
    for (trial, algorithm), path in sorted(tasks.items()):
        table = pq.read_table(path)
        if not len(table):
            raise InputError(f"{path}: a result file with no rows; remove it (its task is rerun) and pack again")
        schema, meta = _schema_text(table.schema), (table.schema.metadata or {}).get(b"ssnenas", b"{}").decode()
        if schema not in schemas:
            schemas.append(schema)
        if meta not in metas:
            metas.append(meta)
        index.append([trial, algorithm, len(table), schemas.index(schema), metas.index(meta)])
        tables.append(table.replace_schema_metadata(None))
    rows = _drop_repeated_keys(pa.concat_tables(tables, promote_options="default"))
    header = {"format": PACK_FORMAT, "config": config, "summary": read_summary(run), "schemas": schemas,
              "metas": metas, "tasks": index}
    rows = rows.replace_schema_metadata({PACK_KEY: json.dumps(header, sort_keys=True).encode()})
    file = Path(file)
    with atomic_path(file) as tmp:
        pq.write_table(rows, tmp, compression="zstd", compression_level=ZSTD_LEVEL)
    return {"file": str(file), "tasks": len(index), "rows": rows.num_rows, "bytes": file.stat().st_size,
            "algorithms": dict(Counter(algorithm for _, algorithm, *_ in index))}


def read_pack(file: str | os.PathLike) -> tuple[dict[str, Any], pa.Table]:
    """The header (config, summary, schemas, metas, tasks) and the rows of a pack; :class:`InputError`
    naming ``file`` when it is not one."""
    file = Path(file)
    if not file.is_file():
        raise InputError(f"{file}: no such pack file; pass a file written by `ssnenas pack`")
    try:
        rows = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{file}: not a Parquet file ({exc}); pass a file written by `ssnenas pack`") from exc
    raw = (rows.schema.metadata or {}).get(PACK_KEY)
    if raw is None:
        raise InputError(f"{file}: a Parquet file but not a run pack; pass a file written by `ssnenas pack`")
    header = json.loads(raw)
    if header.get("format") != PACK_FORMAT:
        raise InputError(f"{file}: pack format {header.get('format')!r}, this ssnenas reads {PACK_FORMAT}; "
                         "unpack it with the ssnenas version that packed it")
    if sum(t[2] for t in header["tasks"]) != rows.num_rows:
        raise InputError(f"{file}: damaged pack (its index and its rows disagree); pack the run again")
    return header, rows


def _target_config(run: Path, packed: dict[str, Any], file: Path) -> dict[str, Any] | None:
    """The config ``run`` must have after unpacking, or None to keep its own: the pack's for a new
    folder; for a run of the same study (equal identity up to algorithms grown by an extension, in
    either direction) the one with more algorithms; else an :class:`InputError` naming the differences."""
    if not holds_run(run):
        return packed
    old = read_config(run)
    differ = identity_diffs(old, packed)
    same_study = not set(differ) - set(EXTENSIBLE_FIELDS)
    if same_study and covers(old, packed):
        return None
    if same_study and covers(packed, old):
        return packed
    diffs = [f"{k}: {packed.get(k)!r} in the pack vs {old.get(k)!r} there" for k in differ]
    raise InputError(f"{run} holds another run than {file} ({'; '.join(diffs)}); unpack into a new folder")


def unpack_run(file: str | os.PathLike, run: str | os.PathLike) -> dict[str, Any]:
    """Re-create the pack's run config and result files in ``run``; result files already there are kept.
    Returns ``{"run", "written", "kept", "algorithms": {name: tasks written}}``."""
    header, rows = read_pack(file)
    run = Path(run)
    config = _target_config(run, header["config"], Path(file))
    if config is not None:
        new = not (run / CONFIG_FILE).is_file()
        atomic_json(run / CONFIG_FILE, config)
        if new and header.get("summary") is not None:
            atomic_json(run / SUMMARY_FILE, header["summary"])
    rows = _restore_keys(rows.replace_schema_metadata(None))
    schemas = [_schema_from_text(s) for s in header["schemas"]]
    written = kept = 0
    per_algo: Counter[str] = Counter()
    offset = 0
    for trial, algorithm, n, schema_i, meta_i in header["tasks"]:
        schema = schemas[schema_i]
        part = rows.slice(offset, n)
        offset += n
        if result_path(run, trial, algorithm).exists():
            kept += 1
            continue
        table = part.select(schema.names).cast(schema)
        write_result(run, trial, algorithm, table, json.loads(header["metas"][meta_i]))
        written += 1
        per_algo[algorithm] += 1
    return {"run": str(run), "written": written, "kept": kept, "algorithms": dict(per_algo)}

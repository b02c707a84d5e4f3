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

A pack is a file someone may send, so ``unpack`` trusts nothing in it (:func:`validate_pack`): the whole
pack is checked before anything is written (every task's rows name that task's trial and algorithm,
the row counts add up, trials are integers in ``0..trials-1`` of the packed run, algorithms are the
run's, schema and metadata indices are in range, every table casts to its schema); the files are
written into a temporary folder and then moved into place, so a refused pack leaves nothing behind;
nothing is written through a symbolic link inside RUN (a ``results`` link could point anywhere).
``pack`` replaces an existing FILE only when it is a pack of the same study.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssnenas.analysis.runs import (CONFIG_FILE, EXTENSIBLE_FIELDS, RESULTS_DIR, RUN_KINDS, SUMMARY_FILE, covers,
                                   finished_tasks, holds_run, identity_diffs, read_config, read_summary,
                                   result_path, write_result)
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
    _check_pack_target(Path(file), config)
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
    naming ``file`` when it is not one. The header's contents are checked by :func:`validate_pack`."""
    file = Path(file)
    if file.is_dir():
        raise InputError(f"{file}: a folder, not a pack file; pass a file written by `ssnenas pack`")
    if not file.is_file():
        raise InputError(f"{file}: no such pack file; pass a file written by `ssnenas pack`")
    try:
        rows = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{file}: not a Parquet file ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                         "pass a file written by `ssnenas pack`") from exc
    raw = (rows.schema.metadata or {}).get(PACK_KEY)
    if raw is None:
        raise InputError(f"{file}: a Parquet file but not a run pack; pass a file written by `ssnenas pack`")
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: damaged pack (its header is not JSON: {exc}); pack the run again") from exc
    if not isinstance(header, dict):
        raise InputError(f"{file}: damaged pack (its header is not a JSON object); pack the run again")
    if header.get("format") != PACK_FORMAT:
        raise InputError(f"{file}: pack format {header.get('format')!r}, this ssnenas reads {PACK_FORMAT}; "
                         "unpack it with the ssnenas version that packed it")
    return header, rows


@dataclass
class PackedTask:
    """One task of a validated pack: its result table (cast to its schema) and result metadata."""

    trial: int
    algorithm: str
    table: pa.Table
    meta: dict[str, Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_pack(header: dict[str, Any], rows: pa.Table, file: Path) -> list[PackedTask]:
    """Every task of the pack as :class:`PackedTask`, after checking the whole pack; the first
    problem is an :class:`InputError` naming ``file`` and the task. Nothing is written here.

    Why so strict: the task index and the rows are two independent parts of the file; a shifted row
    count or a foreign trial number would otherwise put one algorithm's rows under another's name (a
    report then prints wrong numbers without a word) or write files the run never reads."""
    def bad(what: str) -> InputError:
        return InputError(f"{file}: damaged or forged pack ({what}); unpack nothing from it, pack the run again")

    config = header.get("config")
    if not isinstance(config, dict) or config.get("kind") not in RUN_KINDS:
        raise bad("its config is not a benchmark run's")
    trials, algorithms = config.get("trials"), config.get("algorithms")
    if not _is_int(trials) or trials < 1:
        raise bad(f"the run's trial count {trials!r} is not a positive integer")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) and a for a in algorithms):
        raise bad("the run's algorithms are not a list of names")
    if header.get("summary") is not None and not isinstance(header["summary"], dict):
        raise bad("its summary is not a JSON object")
    schemas_text, metas_text, tasks = header.get("schemas"), header.get("metas"), header.get("tasks")
    if not isinstance(schemas_text, list) or not isinstance(metas_text, list) or not isinstance(tasks, list):
        raise bad("its header lacks the schemas, metas or tasks list")
    try:
        schemas = [_schema_from_text(text) for text in schemas_text]
        metas = [json.loads(text) for text in metas_text]
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise bad(f"a schema or result metadata does not decode: {type(exc).__name__}") from exc
    if not all(isinstance(m, dict) for m in metas):
        raise bad("a result metadata is not a JSON object")
    seen: set[tuple[int, str]] = set()
    for i, task in enumerate(tasks):
        if not isinstance(task, list) or len(task) != 5:
            raise bad(f"task {i} is not [trial, algorithm, rows, schema, meta]")
        trial, algorithm, n, schema_i, meta_i = task
        where = f"task {i} (trial {trial!r}, {algorithm!r})"
        if not _is_int(trial) or not 0 <= trial < trials:
            raise bad(f"{where}: the trial must be an integer in 0..{trials - 1}, the run's {trials} trials")
        if algorithm not in algorithms:
            raise bad(f"{where}: the algorithm is not one of the run's ({' '.join(algorithms)})")
        if not _is_int(n) or n < 1:
            raise bad(f"{where}: its row count {n!r} is not a positive integer")
        if not _is_int(schema_i) or not 0 <= schema_i < len(schemas):
            raise bad(f"{where}: schema index {schema_i!r} out of range (the pack has {len(schemas)})")
        if not _is_int(meta_i) or not 0 <= meta_i < len(metas):
            raise bad(f"{where}: metadata index {meta_i!r} out of range (the pack has {len(metas)})")
        if (trial, algorithm) in seen:
            raise bad(f"{where}: packed twice")
        seen.add((trial, algorithm))
    counts = np.array([t[2] for t in tasks], dtype=np.int64)
    if int(counts.sum()) != rows.num_rows:
        raise bad(f"its index counts {int(counts.sum()):,} rows, the file holds {rows.num_rows:,}")
    if not {"trial", "algorithm"} <= set(rows.column_names):
        raise bad("its rows lack the trial or algorithm column")
    # every row names its own task's trial and algorithm: a shifted count moves rows across tasks
    want_trial = pa.array(np.repeat(np.array([t[0] for t in tasks], dtype=np.int64), counts))
    want_algo = pa.array(np.repeat(np.array([t[1] for t in tasks], dtype=object), counts), pa.string())
    try:
        ok = pc.and_(pc.equal(rows["trial"].cast(pa.int64()), want_trial),
                     pc.equal(rows["algorithm"].cast(pa.string()), want_algo))
    except pa.ArrowException as exc:
        raise bad(f"its trial or algorithm column has the wrong type: {exc}") from exc
    ok = pc.fill_null(ok, False)
    if not pc.all(ok).as_py():
        first = int(pc.index(ok, False).as_py())
        i = int(np.searchsorted(np.cumsum(counts), first, side="right"))
        raise bad(f"row {first:,} lies in task {i} (trial {tasks[i][0]}, {tasks[i][1]!r}) by the index but "
                  f"names trial {rows['trial'][first].as_py()!r}, {rows['algorithm'][first].as_py()!r}")
    rows = _restore_keys(rows.replace_schema_metadata(None))
    out: list[PackedTask] = []
    offset = 0
    for i, (trial, algorithm, n, schema_i, meta_i) in enumerate(tasks):
        schema = schemas[schema_i]
        try:
            table = rows.slice(offset, n).select(schema.names).cast(schema)
        except (KeyError, pa.ArrowException) as exc:
            raise bad(f"task {i} (trial {trial}, {algorithm!r}) does not fit its schema: "
                      f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        offset += n
        out.append(PackedTask(trial, algorithm, table, metas[meta_i]))
    return out


def _check_pack_target(file: Path, config: dict[str, Any]) -> None:
    """``pack`` writes FILE anew or replaces a pack of the same study; anything else there (a folder,
    a user's text file, another study's pack) is refused: replacing it would destroy it."""
    if file.is_dir():
        raise InputError(f"{file}: a folder; pass the path of the pack file to write, e.g. {file / 'run.pack.parquet'}")
    if not os.path.lexists(file):
        return
    try:
        header, _ = read_pack(file)
    except InputError:
        raise InputError(f"{file}: exists and is not a run pack; pass a new file name (pack never "
                         "replaces another file)") from None
    old = header.get("config") if isinstance(header.get("config"), dict) else {}
    differ = [k for k in identity_diffs(old, config) if k not in EXTENSIBLE_FIELDS]
    if differ:
        raise InputError(f"{file}: a pack of another run ({', '.join(differ)} differ); pass a new file name "
                         "(pack replaces only a pack of the same run)")


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


def check_not_in_use(run: Path) -> None:
    """The seam for a run-folder lock: unpacking into a folder that a running driver writes must be
    refused. Drivers take no lock yet; when ``ssnenas.runfolder`` offers ``check_not_in_use(folder,
    command)`` (refusing with an :class:`InputError`), it is asked here before anything is written."""
    try:
        from ssnenas import runfolder
    except ImportError:  # pragma: no cover - the module is part of the package
        return
    check = getattr(runfolder, "check_not_in_use", None)
    if check is not None:
        check(run, "unpack")


def _refuse_links(run: Path, tasks: list[PackedTask]) -> None:
    """Refuse a symbolic link where unpack would write inside an existing RUN: writing through it could
    put files anywhere this account may write."""
    names = [Path(CONFIG_FILE), Path(SUMMARY_FILE), Path(RESULTS_DIR)]
    for trial in sorted({t.trial for t in tasks}):
        names.append(result_path(run, trial, "x").parent.relative_to(run))
    names += [result_path(run, t.trial, t.algorithm).relative_to(run) for t in tasks]
    for name in names:
        if (run / name).is_symlink():
            raise InputError(f"{run / name}: a symbolic link inside the run folder; unpack never writes through "
                             "a link (it may point out of the folder). Replace it by a real folder or file, or "
                             "unpack into a new folder")


def _open_dir(name: str, *, dir_fd: int, where: Path) -> int:
    """Open (making it if missing) the folder ``name`` under ``dir_fd`` without following a link."""
    try:
        os.mkdir(name, dir_fd=dir_fd)
    except FileExistsError:
        pass
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise InputError(f"{where}: not a real folder (a link or a file); unpack writes only inside the run "
                             "folder. Replace it by a folder, or unpack into a new folder") from None
        raise


def _place(name: str, *, src_fd: int, dst_fd: int) -> bool:
    """Move the staged file ``name`` into the folder ``dst_fd`` unless one is there; True if moved."""
    try:
        os.link(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    except OSError as exc:  # a file system without hard links
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
    try:
        os.stat(name, dir_fd=dst_fd, follow_symlinks=False)
        return False
    except FileNotFoundError:
        os.rename(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return True


def _merge_staged(stage: Path, run: Path, moves: list[tuple[str, str]], config_changed: bool
                  ) -> set[tuple[str, str]]:
    """Move the staged result files (``(trial folder, file name)``), then summary.json (if RUN has
    none) and config.json (when ``config_changed``) into RUN, through folder descriptors opened without
    following links; returns the result files that were already there (kept)."""
    kept: set[tuple[str, str]] = set()
    run_fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    fds: list[int] = [run_fd]
    try:
        results_fd = _open_dir(RESULTS_DIR, dir_fd=run_fd, where=run / RESULTS_DIR)
        fds.append(results_fd)
        trial_fds: dict[str, tuple[int, int]] = {}
        for trial_dir, name in moves:
            if trial_dir not in trial_fds:
                dst = _open_dir(trial_dir, dir_fd=results_fd, where=run / RESULTS_DIR / trial_dir)
                fds.append(dst)
                src = os.open(stage / RESULTS_DIR / trial_dir, os.O_RDONLY | os.O_DIRECTORY)
                fds.append(src)
                trial_fds[trial_dir] = (src, dst)
            src, dst = trial_fds[trial_dir]
            if not _place(name, src_fd=src, dst_fd=dst):
                kept.add((trial_dir, name))
        stage_fd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
        fds.append(stage_fd)
        if (stage / SUMMARY_FILE).is_file():
            _place(SUMMARY_FILE, src_fd=stage_fd, dst_fd=run_fd)
        if config_changed:
            os.replace(CONFIG_FILE, CONFIG_FILE, src_dir_fd=stage_fd, dst_dir_fd=run_fd)
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return kept


def unpack_run(file: str | os.PathLike, run: str | os.PathLike) -> dict[str, Any]:
    """Re-create the pack's run config and result files in ``run``; result files already there are kept.
    Returns ``{"run", "written", "kept", "algorithms": {name: tasks written}}``.

    The whole pack is validated first (:func:`validate_pack`), then written into a temporary folder
    next to ``run`` and moved into place: a new RUN in one rename, an existing one file by file (never
    replacing a result file, never through a link)."""
    file, run = Path(file), Path(run)
    header, rows = read_pack(file)
    tasks = validate_pack(header, rows, file)
    config = _target_config(run, header["config"], file)
    check_not_in_use(run)
    exists = os.path.lexists(run)
    if exists:
        _refuse_links(run, tasks)
    todo = [t for t in tasks if not (exists and os.path.lexists(result_path(run, t.trial, t.algorithm)))]
    run.parent.mkdir(parents=True, exist_ok=True)
    stage = run.parent / f".{run.name}.unpack-{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir()
        new = not (run / CONFIG_FILE).is_file()
        if config is not None:
            atomic_json(stage / CONFIG_FILE, config)
            if new and header.get("summary") is not None:
                atomic_json(stage / SUMMARY_FILE, header["summary"])
        for t in todo:
            write_result(stage, t.trial, t.algorithm, t.table, t.meta)
        if not exists:
            os.rename(stage, run)
            kept: set[tuple[str, str]] = set()
        else:
            moves = [(p.parent.name, p.name) for p in (result_path(stage, t.trial, t.algorithm) for t in todo)]
            kept = _merge_staged(stage, run, moves, config is not None)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    written = [t for t in todo
               if (result_path(run, t.trial, t.algorithm).parent.name,
                   result_path(run, t.trial, t.algorithm).name) not in kept]
    per_algo = Counter(t.algorithm for t in written)
    return {"run": str(run), "written": len(written), "kept": len(tasks) - len(written),
            "algorithms": dict(per_algo)}

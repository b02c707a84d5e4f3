"""The results pages of ``docs/``: every results table rendered from the committed result files.

A page is hand-written Markdown (what a table shows, in a few sentences) with generated blocks::

    <!-- results: KIND PATH [key=value ...] -->
    (generated: replaced on every run)
    <!-- /results -->

``PATH`` is a result file relative to the repository root (``experiments/results/...``) and ``KIND``
says how it is rendered:

- ``benchmark``: a ``ssnenas report RUN --json`` file: one row per algorithm at the budget (best
  validation accuracy at half the budget and at the budget, test accuracy where the table has one,
  the paired difference to the report's reference when it has one, cost per trial);
- ``fixed-budget``: such a report of fixed-budget variants: fits, fit seconds and saving against the
  unrestricted algorithm, with the paired differences;
- ``study``: a predictor-study JSON (``ssnenas predictor-study --json``); ``table=`` ``wide``
  (default: τ and Δτ in one table), ``tau``, ``gain`` (Δτ against the study's baseline), ``fit``
  (fit seconds per cell) or ``epochs`` (τ per fine-tuning epoch count; ``epochs=50,100`` picks some);
- ``encodings``: a ``ssnenas encodings --out`` file;
- ``measurement``: a recorded measurement table (``{"kind": "measurement", "columns", "rows"}``);
- ``ablation``: an ablation file (``python -m experiments.plus_ablation``, ``ssnenas.analysis.ablation``):
  per variant its settings, regret and paired Δ regret against the reference at each query count, cost;
- ``figure``: a PNG, linked with ``alt="..."``; it must exist.

Every block but a figure is one table followed by exactly one provenance line, taken from the
provenance record ``experiments/results/provenance.json`` (keyed by result path)::

    Provenance: command `...` · code ... · machine ... · date ... · wall time ...

so each published number says how it was made, in one uniform place, and no page tells that story
in prose. :func:`record_provenance` adds or updates an entry (``python -m experiments.results_pages
record``); :func:`stale_pages` is the check that the committed pages equal what this module
generates from the committed files now.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Iterable

from ssnenas.analysis.report import fixed_budget_parts, report_metric
from ssnenas.metric_spec import PERCENT
from ssnenas.atomic import atomic_path
from ssnenas.errors import InputError

RESULTS_DIR = "experiments/results"
PROVENANCE_FILE = f"{RESULTS_DIR}/provenance.json"
DOCS_DIR = "docs"
PROVENANCE_FIELDS = ("command", "code_version", "machine", "date", "wall_time_s")
PROVENANCE_PREFIX = "Provenance: "
NOT_RECORDED = "not recorded"

_START = re.compile(r"^<!-- results: (?P<spec>.+?) -->\s*$")
_END = "<!-- /results -->"
KINDS = ("benchmark", "fixed-budget", "study", "encodings", "measurement", "ablation", "figure")

#: the order algorithms are listed in (others after them, by name)
_ALGORITHM_ORDER = ("random", "rea", "local-search", "npenas-np", "npenas-bo", "bananas", "bananas-mape",
                    "npenas-ssrl", "npenas-ssccl", "ssnenas-plus")


# --- Markdown helpers -------------------------------------------------------------------------------

def md_table(head: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A GitHub Markdown table as lines."""
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def _p(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "<0.0001" if v < 1e-4 else f"{v:.2g}"


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _diff(d: dict | None) -> str:
    """``+0.023 ± 0.008 (78/44, 0.0018)``: paired mean difference ± SEM (wins/losses, Wilcoxon p)."""
    if not d:
        return ""
    return f"{d['mean_diff']:+.3f} ± {_num(d.get('sem'), 3)} ({d['wins']}/{d['losses']}, {_p(d.get('p_value'))})"


def _per_hour(seconds: float | None) -> str:
    """Trials an hour on one core, to three significant figures."""
    if not seconds:
        return "n/a"
    rate = float(f"{3600.0 / seconds:.3g}")
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:g}"


# --- benchmark reports ------------------------------------------------------------------------------

def _order(names: Iterable[str]) -> list[str]:
    """Known algorithms first in their usual order, each followed by its fixed-budget variants by N."""
    def key(name: str) -> tuple:
        parts = fixed_budget_parts(name)
        base, nums = (parts[0], parts[1] or 0) if parts else (name, -1)
        rank = _ALGORITHM_ORDER.index(base) if base in _ALGORITHM_ORDER else len(_ALGORITHM_ORDER)
        return rank, base, nums
    return sorted(names, key=key)


def _at(entry: dict, metric: str, stat: str, query: int) -> float | None:
    values = entry.get(f"{stat}_{metric}")
    if not values or query not in entry["queries"]:
        return None
    return values[entry["queries"].index(query)]


def _values(report: dict[str, Any]) -> str:
    """What a report's numbers are: "accuracies in %" for the plain accuracy, else the metric's label
    (TransNAS-Bench-101: "autoencoder validation SSIM", ...)."""
    metric = report_metric(report)
    return "accuracies in %" if metric == PERCENT else f"values: {metric.label}"


def benchmark_table(report: dict[str, Any]) -> list[str]:
    """One row per algorithm of a benchmark report at its budget (see the module docstring)."""
    budget = int(report["budget"])
    nd = 4 if report_metric(report).unit == "ssim" else 2  # SSIM lies in 0..1
    mid = budget // 2
    has_test = bool(report.get("has_test"))
    comps = report.get("comparisons") or {}
    refs = {c["reference"] for c in comps.values()}
    ref = refs.pop() if len(refs) == 1 else None
    vs = f" vs {ref}" if ref else ""
    head = ["algorithm", f"best val @{mid}", f"best val @{budget} (± SEM)"]
    if has_test:
        head += [f"Δ val{vs} (W/L, p)"] if ref else []
        head += [f"test of best val @{budget} (± SEM)", "P30/P70 test"]
        head += [f"Δ test{vs} (W/L, p)"] if ref else []
    else:
        head += ["P30/P70 best val"] + ([f"Δ val{vs} (W/L, p)"] if ref else [])
    head += ["s per trial", "trials/hour/core"]
    rows = []
    for name in _order(report["algorithms"]):
        e, c = report["algorithms"][name], comps.get(name) or {}
        if not e.get("num_trials"):
            continue
        val = f"{_num(_at(e, 'best_val_acc', 'mean', budget), nd)} ± {_num(_at(e, 'best_val_acc', 'sem', budget), nd + 1)}"
        row = [name, _num(_at(e, "best_val_acc", "mean", mid), nd), val]
        if has_test:
            t = "test_acc_of_best_val"
            row += [_diff(c.get("diff_best_val_acc"))] if ref else []
            row += [f"{_num(_at(e, t, 'mean', budget), nd)} ± {_num(_at(e, t, 'sem', budget), 3)}",
                    f"[{_num(_at(e, t, 'p30', budget), nd)}, {_num(_at(e, t, 'p70', budget), nd)}]"]
            row += [_diff(c.get(f"diff_{t}"))] if ref else []
        else:
            m = "best_val_acc"
            row += [f"[{_num(_at(e, m, 'p30', budget), nd)}, {_num(_at(e, m, 'p70', budget), nd)}]"]
            row += [_diff(c.get("diff_best_val_acc"))] if ref else []
        cost = e.get("search_time_s_mean", e.get("wall_time_s_mean"))
        row += [_num(cost, 2), _per_hour(cost)]
        rows.append(row)
    caption = (f"**{report['benchmark']} / {report['dataset']}**, budget {budget}, {report['trials']} paired "
               f"trials, seed {report['seed']}: {_values(report)} (mean over trials; P30/P70: 30th/70th "
               "percentiles)" + (f"; Δ: paired difference to {ref} ± SEM, W/L: trials better / worse, "
                                 "p: two-sided Wilcoxon signed-rank" if ref else "")
               + "; s per trial: mean search time of a trial, a cohort's shared equally by its trials")
    return [caption, ""] + md_table(head, rows)


def fixed_budget_table(report: dict[str, Any]) -> list[str]:
    """Each fixed-budget variant under its unrestricted algorithm: fits, fit s, saving, accuracies, Δ."""
    has_test = bool(report.get("has_test"))
    comps = report.get("comparisons") or {}
    budget = int(report["budget"])
    head = ["algorithm", "fits", "fit s", "saving", "best val [P30, P70]", "Δ val (W/L, p)"]
    if has_test:
        head += ["test of best val [P30, P70]", "Δ test (W/L, p)"]
    rows = []
    for name in _order(report["algorithms"]):
        e, c = report["algorithms"][name], comps.get(name) or {}
        if not e.get("num_trials"):
            continue
        saving = c.get("predictor_fit_s_saving_pct")

        def cell(m: str) -> str:
            return (f"{_num(_at(e, m, 'mean', budget), 3)} [{_num(_at(e, m, 'p30', budget), 3)}, "
                    f"{_num(_at(e, m, 'p70', budget), 3)}]")

        row = [name, _num(e.get("fits_mean"), 0), _num(e.get("predictor_fit_s_mean"), 2),
               "" if saving is None else f"{saving:.1f}%", cell("best_val_acc"), _diff(c.get("diff_best_val_acc"))]
        if has_test:
            row += [cell("test_acc_of_best_val"), _diff(c.get("diff_test_acc_of_best_val"))]
        rows.append(row)
    caption = (f"**{report['benchmark']} / {report['dataset']}**, budget {budget}, {report['trials']} paired "
               f"trials, seed {report['seed']}: {_values(report)} at {budget} queries, mean [P30, P70] over trials; "
               "Δ: paired difference to the unrestricted algorithm ± SEM (W/L: trials better / worse, p: "
               "Wilcoxon); fits, fit s: predictor fits and fitting seconds per trial; saving: 1 − fit s / the "
               "unrestricted algorithm's")
    return [caption, ""] + md_table(head, rows)


# --- ablations ---------------------------------------------------------------------------------------

def ablation_table(doc: dict[str, Any]) -> list[str]:
    """One row per variant of an ablation file: its ``--set`` settings, then per query count the mean
    regret and the paired Δ regret against the reference (wins/losses, Wilcoxon p), then the cost."""
    queries = [str(q) for q in doc["queries"]]
    ref = doc["reference"]
    head = ["variant", "settings"] + [f"regret @{q} (Δ vs {ref}, W/L, p)" for q in queries] + ["cost per trial"]
    nd = 4 if report_metric(doc).unit == "ssim" else 2  # SSIM lies in 0..1: its regrets are hundredths
    rows = []
    for row in doc["rows"]:
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(row["settings"].items())) or "(none)"
        cells = []
        for q in queries:
            a = row["at"][q]
            cells.append(f"{a['regret']:.{nd}f} ({a['delta']:+.{nd}f}, {a['wins']}/{a['losses']}, {_p(a['p_value'])})")
        cost = f"{row['cost']:.2f}×" if row.get("cost") is not None else f"{row['search_time_s_mean']:.2f} s"
        rows.append([row["label"], settings] + cells + [cost])
    cost_unit = doc.get("cost_unit_s")
    what = "validation value" if report_metric(doc) == PERCENT else report_metric(doc).label
    caption = (f"**{doc['benchmark']} / {doc['dataset']}**, budget {doc['budget']}, seed {doc['seed']}: regret = "
               f"the table's best {what}, {doc['table_best']:.{nd}f}, minus the best found, mean over "
               f"{min(r['num_pairs'] for r in doc['rows'])} or more paired trials; Δ: variant − {ref} on the same "
               "trials (negative: ahead), W/L: trials ahead / behind, p: two-sided Wilcoxon signed-rank"
               + (f"; cost: search seconds per trial over {ref}'s settings run alike ({cost_unit:.2f} s)"
                  if cost_unit else "") + (f"; {doc['cost_note']}" if doc.get("cost_note") else ""))
    return [caption, ""] + md_table(head, rows)


# --- predictor studies ------------------------------------------------------------------------------

def _gain(d: dict | None, p_value) -> str:
    return "-" if d is None else f"{d['mean_diff']:+.3f} ({d['wins']}/{d['n']}, {p_value(d['p_value'])})"


def study_parts(payload: dict[str, Any]) -> dict[str, list[str]]:
    """The pieces of a predictor study's Markdown, each predictor at its largest epoch count:
    ``caption``, ``wide`` (τ and Δτ, p to one digit), ``tau``, ``gain`` (Δτ, p < 1e-4 as <0.0001) and
    ``fit`` (mean fit seconds per cell). Payloads written before epoch grids existed (no ``epochs``
    in their paired rows) count as at the largest epoch count."""
    predictors = list(dict.fromkeys(r["predictor"] for r in payload["results"]))
    top = {p: max(r.get("epochs", 0) for r in payload["results"] if r["predictor"] == p) for p in predictors}
    by_cell = {(r["predictor"], r["train_size"]): r for r in payload["results"]
               if r.get("epochs", 0) == top[r["predictor"]]}
    paired = {(p["predictor"], p["train_size"]): p for p in payload.get("paired", [])
              if p["metric"] == "kendall_tau" and p.get("epochs", top.get(p["predictor"])) == top.get(p["predictor"])}
    baseline = payload.get("baseline", "gin")
    others = [p for p in predictors if p != baseline]
    sizes = payload["train_sizes"]
    taus = {n: [f"{by_cell[(p, n)]['kendall_tau']:.3f} ± {by_cell[(p, n)]['kendall_tau_sem']:.3f}"
                for p in predictors] for n in sizes}
    epochs = payload["epochs"]
    shown = "/".join(map(str, epochs)) if isinstance(epochs, list) else epochs
    caption = [f"**{payload['benchmark']} / {payload['dataset']}** ({payload['num_archs']} archs, "
               f"{payload['repeats']} repeats, {shown} epochs; Δτ vs {baseline})"]
    wide_p = lambda v: f"{v:.1g}"  # noqa: E731
    split_p = lambda v: "<0.0001" if v < 1e-4 else f"{v:.2g}"  # noqa: E731
    return {
        "caption": caption,
        "wide": md_table(["train size"] + [f"τ {p}" for p in predictors] + [f"Δτ {p} (wins, p)" for p in others],
                         [[str(n)] + taus[n] + [_gain(paired.get((p, n)), wide_p) for p in others] for n in sizes]),
        "tau": md_table(["train size"] + [f"τ {p}" for p in predictors], [[str(n)] + taus[n] for n in sizes]),
        "gain": md_table(["train size"] + [f"Δτ {p} − {baseline} (wins, p)" for p in others],
                         [[str(n)] + [_gain(paired.get((p, n)), split_p) for p in others] for n in sizes]),
        "fit": md_table(["train size"] + [f"{p} ({top[p]} ep)" for p in predictors],
                        [[str(n)] + [f"{by_cell[(p, n)]['fit_seconds']:.2f}" for p in predictors] for n in sizes]),
    }


def study_markdown(payload: dict[str, Any], *, fit_times: bool = False, split: bool = False) -> str:
    """Markdown tables of one study payload (the object ``--json`` prints): one wide table (τ and Δτ),
    or with ``split`` a τ table and a Δτ table; with ``fit_times`` also the mean fit seconds per cell."""
    parts = study_parts(payload)
    lines = parts["caption"] + [""]
    lines += parts["tau"] + [""] + parts["gain"] if split else parts["wide"]
    if fit_times:
        lines += ["", "Fit seconds per cell (mean; training plus, for the baselines, scoring all archs):", ""]
        lines += parts["fit"]
    return "\n".join(lines)


def study_epochs_table(payload: dict[str, Any], epochs: list[int] | None = None) -> list[str]:
    """Kendall τ (mean ± SEM) of every predictor at each fine-tuning epoch count of an epoch grid."""
    predictors = list(dict.fromkeys(r["predictor"] for r in payload["results"]))
    cells = {(r["predictor"], r["train_size"], r.get("epochs")): r for r in payload["results"]}
    grid = payload["epochs"] if isinstance(payload["epochs"], list) else [payload["epochs"]]
    chosen = [e for e in grid if epochs is None or e in epochs]
    cols = [(p, e) for p in predictors for e in chosen if any(k[0] == p and k[2] == e for k in cells)]
    rows = [[str(n)] + [f"{cells[(p, n, e)]['kendall_tau']:.3f} ± {cells[(p, n, e)]['kendall_tau_sem']:.3f}"
                        if (p, n, e) in cells else "-" for p, e in cols] for n in payload["train_sizes"]]
    caption = (f"**{payload['benchmark']} / {payload['dataset']}** ({payload['num_archs']} archs, "
               f"{payload['repeats']} repeats): Kendall τ (mean ± SEM) per predictor and fine-tuning epochs")
    return [caption, ""] + md_table(["train size"] + [f"{p} {e}" for p, e in cols], rows)


# --- encodings and recorded measurements --------------------------------------------------------------

def encodings_table(results: list[tuple[str, dict]]) -> list[str]:
    """The encoding analysis of ``ssnenas encodings`` results, labelled: per set and encoding the distinct
    codes, the merged and the split architectures."""
    lines = md_table(["set", "archs", "unique up to isomorphism", "encoding", "distinct", "merged", "split"], [])
    for label, r in results:
        for k, (name, s) in enumerate(r["encodings"].items()):
            head = (f"{label} | {r['num_archs']:,} | {r['unique_up_to_isomorphism']:,}" if k == 0
                    else " | | ")
            lines.append(f"| {head} | {name} | {s['distinct']:,} | {s['merged']:,} | {s['split']:,} |")
    return lines


def measurement_table(doc: dict[str, Any]) -> list[str]:
    """A recorded measurement: its ``columns`` and ``rows`` as printed by the measuring command."""
    if doc.get("kind") != "measurement" or not isinstance(doc.get("columns"), list):
        raise InputError("not a measurement record: expected {\"kind\": \"measurement\", \"columns\": [...], "
                         "\"rows\": [[...]]}")
    rows = [[str(c) for c in r] for r in doc.get("rows", [])]
    if any(len(r) != len(doc["columns"]) for r in rows):
        raise InputError(f"measurement {doc.get('title', '')!r}: every row needs {len(doc['columns'])} cells")
    caption = [f"**{doc['title']}**" + (f" ({doc['note']})" if doc.get("note") else ""), ""] if doc.get("title") else []
    return caption + md_table([str(c) for c in doc["columns"]], rows)


# --- provenance -------------------------------------------------------------------------------------

def load_provenance(root: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The provenance record ``{result path: {command, code_version, machine, date, wall_time_s}}``."""
    path = Path(root) / PROVENANCE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise InputError(f"{PROVENANCE_FILE}: not valid JSON ({exc}); fix the file or restore it from git") from None
    if not isinstance(data, dict):
        raise InputError(f"{PROVENANCE_FILE}: expected an object keyed by result path")
    return data


def _wall(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.0f} s" if value >= 100 else f"{value:g} s"
    return str(value)


def provenance_line(result: str, entry: dict[str, Any] | None) -> str:
    """The one provenance line of a table rendered from ``result``."""
    missing = [f for f in PROVENANCE_FIELDS if entry is None or f not in entry]
    if missing:
        raise InputError(f"{result}: no {', '.join(missing)} in {PROVENANCE_FILE}; add them with `python -m "
                         f"experiments.results_pages record {result} --command ... --wall-time-s ...` (write "
                         f"\"{NOT_RECORDED}\" where a value is unknown)")
    return (f"{PROVENANCE_PREFIX}command `{entry['command']}` · code {entry['code_version']} · machine "
            f"{entry['machine']} · date {entry['date']} · wall time {_wall(entry['wall_time_s'])}")


def this_machine(device: str = "cpu") -> str:
    """``<CPU model> (<n> cores)`` or the GPU's name, for a provenance entry made here."""
    from ssnenas.compute_platform import _cpu_model

    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(torch.device(device))} GPU, {_cpu_model()} ({os.cpu_count()} cores)"
    return f"{_cpu_model()} ({os.cpu_count()} cores)"


def code_version(root: str | os.PathLike) -> str:
    """``git describe --always --dirty`` of ``root`` (``not recorded`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", os.fspath(root), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return NOT_RECORDED
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else NOT_RECORDED


def record_provenance(root: str | os.PathLike, result: str | os.PathLike, *, command: str,
                      wall_time_s: float | str, code: str | None = None, machine: str | None = None,
                      date: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """Add or replace the provenance entry of ``result`` (a file under experiments/results) and return it.

    Unset fields describe this checkout and machine now: the git version, the CPU model and cores (or
    the GPU of ``device``) and today's UTC date. Scripts that write a result file call this right after."""
    root = Path(root).resolve()
    path = Path(result)
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    try:
        key = path.relative_to(root).as_posix()
    except ValueError:
        raise InputError(f"{result}: not inside the repository {root}; pass a file under {RESULTS_DIR}/") from None
    if not key.startswith(RESULTS_DIR + "/") or not path.is_file():
        raise InputError(f"{result}: not an existing file under {RESULTS_DIR}/; write the result there first")
    entry = {"command": command, "code_version": code or code_version(root),
             "machine": machine or this_machine(device),
             "date": date or _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
             "wall_time_s": wall_time_s}
    record = load_provenance(root)
    record[key] = entry
    with atomic_path(root / PROVENANCE_FILE) as tmp:
        tmp.write_text(json.dumps(dict(sorted(record.items())), indent=1, ensure_ascii=False) + "\n")
    return entry


# --- pages ------------------------------------------------------------------------------------------

def _read_json(root: Path, rel: str) -> Any:
    try:
        return json.loads((root / rel).read_text())
    except FileNotFoundError:
        raise InputError(f"{rel}: result file not found; restore it or remove its block from the page") from None
    except ValueError as exc:
        raise InputError(f"{rel}: not valid JSON ({exc})") from None


def _parse_spec(spec: str, where: str) -> tuple[str, str, dict[str, str]]:
    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise InputError(f"{where}: unreadable results block `{spec}` ({exc})") from None
    if len(words) < 2 or words[0] not in KINDS or any("=" not in w for w in words[2:]):
        raise InputError(f"{where}: results block `{spec}` must read `KIND PATH [key=value ...]` with KIND one "
                         f"of {', '.join(KINDS)}")
    return words[0], words[1], dict(w.split("=", 1) for w in words[2:])


def render_block(kind: str, rel: str, options: dict[str, str], root: str | os.PathLike,
                 page: str | os.PathLike, provenance: dict[str, dict[str, Any]]) -> list[str]:
    """The generated lines of one block of ``page`` (a path under ``root``)."""
    root = Path(root)
    if kind == "figure":
        if not (root / rel).is_file():
            raise InputError(f"{page}: figure {rel} not found; draw it (see the page) or remove the block")
        link = Path(os.path.relpath(root / rel, (root / page).parent)).as_posix()
        return [f"![{options.get('alt', Path(rel).stem)}]({link})"]
    doc = _read_json(root, rel)
    if kind == "benchmark":
        lines = benchmark_table(doc)
    elif kind == "fixed-budget":
        lines = fixed_budget_table(doc)
    elif kind == "encodings":
        lines = encodings_table([(options.get("label", Path(rel).stem), doc)])
    elif kind == "measurement":
        lines = measurement_table(doc)
    elif kind == "ablation":
        lines = ablation_table(doc)
    else:  # study
        table = options.get("table", "wide")
        if table == "epochs":
            chosen = [int(e) for e in options["epochs"].split(",")] if "epochs" in options else None
            lines = study_epochs_table(doc, chosen)
        else:
            parts = study_parts(doc)
            if table not in parts or table == "caption":
                raise InputError(f"{page}: study block table={table}; use wide, tau, gain, fit or epochs")
            lines = parts["caption"] + [""] + parts[table]
    return lines + ["", provenance_line(rel, provenance.get(rel))]


def render_page(text: str, root: str | os.PathLike, page: str | os.PathLike,
                provenance: dict[str, dict[str, Any]] | None = None) -> str:
    """``text`` with every generated block re-rendered (the rest is kept as written)."""
    provenance = load_provenance(root) if provenance is None else provenance
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _START.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        end = next((j for j in range(i, len(lines)) if lines[j].strip() == _END), None)
        if end is None:
            raise InputError(f"{page}: results block `{m['spec']}` has no `{_END}` line; add it after the block")
        kind, rel, options = _parse_spec(m["spec"], str(page))
        out += [""] + render_block(kind, rel, options, root, page, provenance) + ["", _END]
        i = end + 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def result_pages(root: str | os.PathLike) -> list[str]:
    """The pages under docs/ that hold at least one generated block (paths relative to ``root``)."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in (root / DOCS_DIR).rglob("*.md")
                  if any(_START.match(line) for line in p.read_text().splitlines()))


def generate(root: str | os.PathLike) -> dict[str, str]:
    """``{page: its text as generated now}`` for every results page."""
    root = Path(root)
    provenance = load_provenance(root)
    return {page: render_page((root / page).read_text(), root, page, provenance) for page in result_pages(root)}


def stale_pages(root: str | os.PathLike) -> list[str]:
    """The results pages whose committed text differs from what :func:`generate` makes now."""
    root = Path(root)
    return [page for page, text in generate(root).items() if (root / page).read_text() != text]


def write_pages(root: str | os.PathLike) -> list[str]:
    """Regenerate every results page in place (atomically); returns the pages that changed."""
    root = Path(root)
    changed = []
    for page, text in generate(root).items():
        if (root / page).read_text() != text:
            with atomic_path(root / page) as tmp:
                tmp.write_text(text)
            changed.append(page)
    return changed


def used_results(root: str | os.PathLike) -> list[str]:
    """Every result file some page renders or links (for the provenance and coverage checks)."""
    root = Path(root)
    used = []
    for page in result_pages(root):
        for line in (root / page).read_text().splitlines():
            m = _START.match(line)
            if m:
                used.append(_parse_spec(m["spec"], page)[1])
    return sorted(set(used))

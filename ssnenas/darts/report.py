"""The report of a DARTS search run folder (``ssnenas search --out RUN``, config kind ``darts-search``).

Reads the trial folders Tune wrote (``RUN/tune/candidate_<n>_<id>/result.json``, one JSON line per
epoch; a candidate re-trained after an interruption continues in a second folder of the same ``n``),
so it also works on a search that is still running or was interrupted; a row whose numbers are not
numbers is one error naming its file. Output:
``{"kind": "darts-search", "candidates": [{"genotype", "val_acc", "last_val_acc", "test_acc", "score",
"params", "flops", "train_time", "images_per_s", "epochs", "finished", "val_curve", "platform"}], "best":
{...}, "platforms": {platform: candidates}}`` (``platform``: where the candidate trained, see
ssnenas.compute_platform: it re-trains bit for bit only there; null in runs before 2026-12-02)
(accuracies in percent; ``val_acc`` = best validation accuracy over the epochs; ``best`` = the finished
candidate with the highest score ½·(best val + mean of the last 5 epochs' val), the original code's
ranking of searched architectures), plus a PNG of best-so-far vs candidates and a drawing of the best
normal and reduction cells.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ssnenas.analysis.plots import save_png
from ssnenas.compute_platform import count_platforms, mixed_platforms_note
from ssnenas.errors import DataFormatError, InputError
from ssnenas.spaces.darts import NUM_STEPS, Genotype, parse_genotype

KIND = "darts-search"
#: the Tune experiment folder in RUN
TUNE_NAME = "tune"
_FOLDER = re.compile(r"candidate_(\d+)_(.+)$")


def candidate_folders(exp: Path) -> dict[int, list[Path]]:
    """``{candidate number: its folders, oldest first}`` (a re-trained candidate has several)."""
    out: dict[int, list[Path]] = {}
    for folder in sorted(exp.glob("candidate_*")):
        m = _FOLDER.match(folder.name)
        if m and folder.is_dir():
            out.setdefault(int(m.group(1)), []).append(folder)
    for folders in out.values():
        folders.sort(key=_first_timestamp)
    return out


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """The epoch rows of ``folder/result.json`` (a line cut by a killed process is skipped);
    :class:`DataFormatError` naming the file for a row that is not a JSON object."""
    path = folder / "result.json"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a killed process
            continue
        if not isinstance(row, dict):
            raise DataFormatError(f"{path}: a line that is not a JSON object ({line[:60]!r}); remove the "
                                  "candidate folder to train it again")
        rows.append(row)
    return rows


def _first_timestamp(folder: Path) -> float:
    rows = read_rows(folder)
    value = rows[0].get("timestamp") if rows else None
    return float(value) if isinstance(value, (int, float)) else math.inf


#: fields of a result row that must be numbers (or absent)
_NUMERIC = ("best_val_acc", "val_acc", "test_acc", "score", "params", "flops", "train_time", "images_per_s", "epoch")


def _number(row: dict[str, Any], key: str, path: Path) -> Any:
    value = row.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise DataFormatError(f"{path}: {key!r} is {value!r}, not a number; the file is damaged or was edited "
                              "(remove the candidate's folder and re-run the search to train it again)")
    return value


def _candidate(folders: list[Path]) -> dict[str, Any] | None:
    """One candidate from its folders (oldest first: a re-trained candidate continues in a new one)."""
    rows, last_path = [], None
    for folder in folders:
        got = read_rows(folder)
        if got:
            rows.extend((r, folder / "result.json") for r in got)
            last_path = folder / "result.json"
    if not rows:
        return None
    for r, path in rows:
        for key in _NUMERIC:
            _number(r, key, path)
    last = rows[-1][0]
    arch = (last.get("config") or {}).get("arch") if isinstance(last.get("config"), dict) else None
    if not isinstance(arch, str):
        raise DataFormatError(f"{last_path}: its last row has no config.arch string; the file is damaged "
                              "(remove the candidate's folder and re-run the search to train it again)")
    curve, seen = [], set()
    for r, _ in rows:  # a retried or re-trained trial may repeat an epoch: keep each epoch once
        if r.get("epoch") not in seen and r.get("val_acc") is not None:
            seen.add(r.get("epoch"))
            curve.append(float(r["val_acc"]))
    return {"genotype": arch, "trial_id": last.get("trial_id"),
            "val_acc": last.get("best_val_acc"), "last_val_acc": last.get("val_acc"),
            "test_acc": last.get("test_acc"), "score": last.get("score"), "params": last.get("params"),
            "flops": last.get("flops"), "train_time": last.get("train_time"),
            "images_per_s": last.get("images_per_s"), "epochs": last.get("epoch"),
            "finished": bool(last.get("done")) and last.get("score") is not None, "val_curve": curve,
            "platform": last.get("platform")}


def build_search_report(run: str | Path) -> dict[str, Any]:
    """The report dict of the search in ``run`` (see the module docstring)."""
    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{run}: no config.json; pass the --out folder of `ssnenas search`")
    try:
        config = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{cfg_path}: unreadable ({exc}); pass the --out folder of `ssnenas search`") from None
    if not isinstance(config, dict) or config.get("kind") != KIND:
        config = config if isinstance(config, dict) else {}
        raise InputError(f"{cfg_path}: kind {config.get('kind')!r}, not {KIND!r}")
    groups = candidate_folders(run / TUNE_NAME)
    cands = [c for c in (_candidate(groups[n]) for n in sorted(groups)) if c is not None]
    for i, c in enumerate(cands, 1):
        c["index"] = i  # suggestion order, as in the table and the plot
    done = [c for c in cands if c["finished"] and math.isfinite(c["score"])]
    best = max(done, key=lambda c: (c["score"], c["val_acc"])) if done else None
    return {"kind": KIND, "settings": config.get("settings", {}), "candidates": cands, "best": best,
            "finished": len(done), "platforms": count_platforms(c["platform"] for c in cands)}


def score_curve(report: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per candidate (suggestion order): its score (NaN while unfinished) and the best score so far; the
    last best-so-far value is the selected best's score."""
    scores = [c["score"] if c.get("finished") and c.get("score") is not None else math.nan
              for c in report["candidates"]]
    best, run = [], -math.inf
    for v in scores:
        if not math.isnan(v):
            run = max(run, v)
        best.append(run if math.isfinite(run) else math.nan)
    return scores, best


def plot_search(report: dict[str, Any], path: str | Path) -> Path:
    """Each finished candidate's score (suggestion order), the best score so far, and the selected best
    (the highest score, as ``report["best"]``) marked; unfinished candidates' best val acc as hollow dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cands = report["candidates"]
    xs = list(range(1, len(cands) + 1))
    scores, best = score_curve(report)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter(xs, scores, s=16, label="candidate score")
    partial = [(x, c["val_acc"]) for x, c in zip(xs, cands) if not c.get("finished") and c.get("val_acc") is not None]
    if partial:
        ax.scatter(*zip(*partial), s=16, facecolors="none", edgecolors="grey", label="unfinished (best val acc)")
    ax.plot(xs, best, color="C1", label="best score so far")
    sel = report.get("best")
    if sel is not None:
        ax.scatter([sel["index"]], [sel["score"]], marker="*", s=160, color="C3", zorder=3,
                   label=f"selected best: #{sel['index']}, score {sel['score']:.2f}")
        ax.annotate(f"#{sel['index']}: val {sel['val_acc']:.2f}%, test {sel['test_acc']:.2f}%",
                    (sel["index"], sel["score"]), textcoords="offset points", fontsize=8,
                    **({"xytext": (-8, -14), "ha": "right"} if sel["index"] > len(cands) / 2 else {"xytext": (8, -14)}))
    ax.set_xlabel("candidate (suggestion order)")
    ax.set_ylabel("score % = (best val + mean of last 5 val) / 2")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path, dpi=100)


def plot_cells(genotype: Genotype | str, path: str | Path) -> Path:
    """Draw the normal and the reduction cell: inputs c_{k-2}, c_{k-1}, nodes 0-3, output c_{k};
    one arrow per edge labelled with its op (``none`` edges dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = parse_genotype(genotype) if isinstance(genotype, str) else genotype
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (title, edges) in zip(axes, (("normal cell", g.normal), ("reduction cell", g.reduce))):
        pos = {0: (0.0, 0.75), 1: (0.0, 0.25)}
        for k in range(NUM_STEPS):
            pos[k + 2] = (0.25 + 0.17 * k, 0.85 if k % 2 == 0 else 0.15)
        pos["out"] = (1.0, 0.5)
        names = {0: "c_{k-2}", 1: "c_{k-1}", **{k + 2: str(k) for k in range(NUM_STEPS)}, "out": "c_{k}"}
        for e, (op, src) in enumerate(edges):
            dst = e // 2 + 2
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="grey" if op == "none" else "black",
                                        linestyle="--" if op == "none" else "-", shrinkA=14, shrinkB=14,
                                        connectionstyle=f"arc3,rad={0.15 if e % 2 else -0.15}"))
            off = 0.03 if e % 2 else -0.03
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + off, op, fontsize=7, ha="center", va="center",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
        for k in range(NUM_STEPS):
            (x0, y0), (x1, y1) = pos[k + 2], pos["out"]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="C0", alpha=0.5, shrinkA=14, shrinkB=14))
        for node, (x, y) in pos.items():
            color = "lightgreen" if node in (0, 1) else ("lightyellow" if node == "out" else "lightblue")
            ax.text(x, y, f"${names[node]}$" if node in (0, 1, "out") else names[node], ha="center", va="center",
                    fontsize=10, bbox=dict(boxstyle="round", fc=color, ec="black"))
        ax.set_xlim(-0.1, 1.1)
        ax.set_ylim(0.0, 1.0)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path, dpi=100)


def write_search_report(run: str | Path, *, plot: str | Path | None = None,
                        cells: str | Path | None = None) -> dict[str, Any]:
    """Build the report and write its two PNGs (default RUN/report.png and RUN/best_cells.png);
    the paths are added to the returned dict as ``plots``."""
    run = Path(run)
    report = build_search_report(run)
    plots = {"best_so_far": str(plot_search(report, plot or run / "report.png"))}
    if report["best"] is not None:
        plots["best_cells"] = str(plot_cells(report["best"]["genotype"], cells or run / "best_cells.png"))
    report["plots"] = plots
    return report


def format_search_report(report: dict[str, Any]) -> str:
    """A plain-text table of the candidates; ``*`` marks the selected best (highest score)."""
    best = report["best"]
    lines = [f"    {'#':>3} {'val %':>7} {'score':>7} {'test %':>7} {'params':>9} {'MFLOPs':>8} {'train s':>8}"]
    for i, c in enumerate(report["candidates"], 1):
        def f(v, fmt):
            return format(v, fmt) if v is not None else "-"
        mark = "*" if best is not None and c.get("index", i) == best.get("index") else " "
        lines.append(f"  {mark} {i:>3} {f(c['val_acc'], '7.2f')} {f(c['score'], '7.2f')} {f(c['test_acc'], '7.2f')} "
                     f"{f(c['params'], '9d')} {f(None if c['flops'] is None else c['flops'] / 1e6, '8.2f')} "
                     f"{f(c['train_time'], '8.1f')}")
    lines.append("val % = best validation accuracy over the epochs; score = (best val + mean of the last 5 "
                 "epochs' val) / 2; test % = test accuracy of the best-val weights")
    if best:
        lines.append(f"* selected best (highest score): #{best['index']} {best['genotype']}")
    else:
        lines.append("best: none finished yet")
    note = mixed_platforms_note(report.get("platforms") or {}, unit="candidate")
    return "\n".join(lines + ([note] if note else []))

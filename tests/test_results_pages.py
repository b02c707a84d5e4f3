"""The generated results pages of docs/ (ssnenas/analysis/pages.py, experiments/results_pages.py).

The committed pages must equal what the generator makes from the committed result files; a changed
result file makes ``--check`` fail naming the page; every table carries exactly one provenance line.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from experiments.results_pages import main
from ssnenas.analysis import pages
from ssnenas.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of docs/ and experiments/results/ (without the packs) to change freely."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "experiments" / "results", tmp_path / "experiments" / "results",
                    ignore=shutil.ignore_patterns("packs"))
    return tmp_path


def _tables(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every Markdown table of a page, outside code fences."""
    out, fenced, current = [], False, None
    for i, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            if current is None:
                current = (i, [])
                out.append(current)
            current[1].append(line)
        else:
            current = None
    return out


def test_generating_twice_gives_the_same_pages_and_the_committed_ones():
    first, second = pages.generate(ROOT), pages.generate(ROOT)
    assert first == second
    assert {"docs/results/benchmarks.md", "docs/results/predictor-study.md", "docs/results/encodings.md",
            "docs/results/measurements.md"} <= set(first)
    assert pages.stale_pages(ROOT) == []


def test_check_passes_on_the_committed_pages(capsys):
    assert main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_fails_naming_the_page_after_a_result_file_changes(tree, capsys):
    result = tree / "experiments/results/benchmark/nb201-cifar10-valid-600.json"
    report = json.loads(result.read_text())
    report["algorithms"]["npenas-np"]["mean_best_val_acc"][-1] = 12.345678
    result.write_text(json.dumps(report))
    assert main(["--check"], root=tree) == 1
    err = capsys.readouterr().err
    assert "stale: docs/results/benchmarks.md" in err
    assert "predictor-study" not in err  # only the page that renders the file
    before = (tree / "docs/results/benchmarks.md").read_text()
    assert main([], root=tree) == 0  # regenerate: the new number is on the page, and --check passes
    after = (tree / "docs/results/benchmarks.md").read_text()
    assert after != before and "| npenas-np | 91.13 | 12.35 ± 0.008 |" in after
    assert main(["--check"], root=tree) == 0


def test_check_fails_when_a_provenance_entry_changes(tree, capsys):
    record = json.loads((tree / pages.PROVENANCE_FILE).read_text())
    record["experiments/results/encodings/nb201-all.json"]["wall_time_s"] = 99.0
    (tree / pages.PROVENANCE_FILE).write_text(json.dumps(record))
    assert main(["--check"], root=tree) == 1
    assert "stale: docs/results/encodings.md" in capsys.readouterr().err


@pytest.mark.parametrize("page", ["benchmarks.md", "predictor-study.md", "encodings.md", "measurements.md"])
def test_every_table_has_exactly_one_provenance_line(page):
    text = (ROOT / "docs/results" / page).read_text()
    lines = text.splitlines()
    tables = _tables(text)
    assert tables
    starts = [i for i, _ in tables] + [len(lines)]
    for (start, rows), end in zip(tables, starts[1:]):
        after = lines[start + len(rows):end]
        prov = [line for line in after if line.startswith(pages.PROVENANCE_PREFIX)]
        assert len(prov) == 1, f"{page}: the table at line {start + 1} has {len(prov)} provenance lines"
        for field in ("command `", " · code ", " · machine ", " · date ", " · wall time "):
            assert field in prov[0]
        assert not prov[0].rstrip().endswith("None")
    assert sum(line.startswith(pages.PROVENANCE_PREFIX) for line in lines) == len(tables)


def test_every_rendered_result_is_recorded_and_every_record_exists():
    record = pages.load_provenance(ROOT)
    used = pages.used_results(ROOT)
    for rel in used:
        assert (ROOT / rel).is_file(), rel
        if not rel.endswith(".png"):
            assert set(pages.PROVENANCE_FIELDS) <= set(record[rel]), rel
    for rel in record:
        assert (ROOT / rel).is_file(), f"provenance of a missing file: {rel}"
    committed = {p.relative_to(ROOT).as_posix() for p in (ROOT / "experiments/results").rglob("*.json")
                 if p.name != "provenance.json"}
    assert committed <= set(used), f"results on no page: {sorted(committed - set(used))}"


def test_a_block_without_provenance_or_end_is_an_input_error(tree):
    page = tree / "docs/new.md"
    page.write_text("# x\n\n<!-- results: encodings experiments/results/encodings/nb101-500.json -->\n"
                    "<!-- /results -->\n")
    record = json.loads((tree / pages.PROVENANCE_FILE).read_text())
    del record["experiments/results/encodings/nb101-500.json"]
    (tree / pages.PROVENANCE_FILE).write_text(json.dumps(record))
    with pytest.raises(InputError, match="experiments.results_pages record"):
        pages.generate(tree)
    page.write_text("<!-- results: encodings experiments/results/encodings/nb101-1k.json -->\n")
    with pytest.raises(InputError, match="no `<!-- /results -->` line"):
        pages.generate(tree)
    page.write_text("<!-- results: table experiments/results/encodings/nb101-1k.json -->\n<!-- /results -->\n")
    with pytest.raises(InputError, match="KIND one of"):
        pages.generate(tree)


def test_record_fills_this_checkout_and_machine_and_runs_a_timed_command(tree, capsys):
    result = tree / "experiments/results/encodings/nb101-500.json"
    entry = pages.record_provenance(tree, result, command="ssnenas encodings ...", wall_time_s=1.5)
    assert entry["command"] == "ssnenas encodings ..." and entry["wall_time_s"] == 1.5
    assert "cores)" in entry["machine"] and len(entry["date"]) == 10 and entry["code_version"]
    assert pages.load_provenance(tree)["experiments/results/encodings/nb101-500.json"] == entry
    rc = main(["record", str(result), "--machine", "test box (2 cores)", "--", sys.executable, "-c", "pass"], root=tree)
    assert rc == 0
    got = pages.load_provenance(tree)["experiments/results/encodings/nb101-500.json"]
    assert got["command"].endswith(" -c pass") and got["machine"] == "test box (2 cores)"
    assert isinstance(got["wall_time_s"], float) and got["wall_time_s"] < 60
    with pytest.raises(InputError, match="not an existing file under experiments/results"):
        pages.record_provenance(tree, tree / "docs/README.md", command="x", wall_time_s=1)
    assert main(["record", str(tree / "nowhere.json"), "--command", "x", "--wall-time-s", "1"], root=tree) == 2
    assert "error:" in capsys.readouterr().err


def test_study_tables_of_payloads_from_before_epoch_grids_keep_their_gains():
    payload = json.loads((ROOT / "experiments/results/predictor_study/nb201-cifar10-valid.json").read_text())
    assert not any("epochs" in p for p in payload["paired"])  # the old layout
    gain = pages.study_parts(payload)["gain"]
    assert gain[2].startswith("| 20 | +0.184 (18/20, ")
    assert not any(" - |" in line for line in gain[2:])

"""The run-folder rules both drivers share (ssnenas.runfolder): new, resumable, or refused in one line."""

from __future__ import annotations

import json

import pytest

from ssnenas.errors import InputError
from ssnenas.runfolder import differences, existing_run, refuse_other_run


def test_a_missing_or_hidden_only_folder_is_new_and_a_run_is_read(tmp_path):
    assert existing_run(tmp_path / "missing") is None
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".DS_Store").write_text("")
    assert existing_run(tmp_path / "hidden") is None
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "darts-search", "settings": {"seed": 1}}))
    assert existing_run(run, kind="darts-search", what="DARTS search")["settings"] == {"seed": 1}


def test_another_kind_or_a_damaged_config_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "benchmark"}))
    with pytest.raises(InputError, match=rf"^--out {run}: holds a run of kind 'benchmark', not a DARTS search; "
                                         "pass another --out folder$"):
        existing_run(run, kind="darts-search", what="DARTS search")
    (run / "config.json").write_text("{not json")
    with pytest.raises(InputError, match=r"config.json: unreadable \(.*\); pass a new --out folder$"):
        existing_run(run)


def test_differences_name_each_field_with_both_values_and_old_defaults(tmp_path):
    old = {"budget": 20, "seed": 1}
    new = {"budget": 30, "seed": 1, "epochs": 6}
    assert differences(old, new, ["budget", "seed", "epochs"], defaults={"epochs": 6}) == ["budget: 30 now vs 20 there"]
    assert differences(old, new, ["epochs"]) == ["epochs: 6 now vs None there"]
    refuse_other_run(tmp_path, [])  # nothing differs: nothing to refuse
    with pytest.raises(InputError, match=rf"^--out {tmp_path} holds a run with a different config \(budget: 30 now "
                                         r"vs 20 there\); repeat its original command to resume it, or pass a new "
                                         r"--out folder$"):
        refuse_other_run(tmp_path, ["budget: 30 now vs 20 there"])

"""Copy drills: valid chat rows whose answer is exactly a span of the request, seeded, varied."""

from __future__ import annotations

import re

import pytest

from train_app import copy_drills
from train_app.copy_drills import copy_drills as make_drills
from train_app.dataset_loading import load_rows
from train_app.dataset_validation import validate_rows

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_answer_is_a_span_of_the_request():
    for row in make_drills(300, seed=1):
        request, answer = row["messages"]
        assert request["role"] == "user" and answer["role"] == "assistant"
        assert answer["content"] and answer["content"] in request["content"]
        assert answer["content"] != request["content"]


def test_rows_pass_the_dataset_validator():
    assert validate_rows(make_drills(100, seed=2), []) == []


def test_seeded_and_varied():
    assert make_drills(50, seed=3) == make_drills(50, seed=3)
    assert make_drills(50, seed=3) != make_drills(50, seed=4)
    answers = [row["messages"][1]["content"] for row in make_drills(500, seed=5)]
    assert len(set(answers)) > 0.98 * len(answers)  # random spans: nothing to memorise
    assert any(CJK.search(a) for a in answers) and any(re.search(r"\d", a) for a in answers)
    requests = [row["messages"][0]["content"] for row in make_drills(500, seed=5)]
    assert any(CJK.search(r.replace(a, "")) for r, a in zip(requests, answers, strict=True))
    assert any(r.startswith("Repeat") for r in requests)


def test_cli_writes_loadable_jsonl(tmp_path, capsys):
    target = tmp_path / "drills.jsonl"
    copy_drills.main(["--output", str(target), "--count", "20", "--seed", "7"])
    assert load_rows(target) == make_drills(20, seed=7)
    assert "20 copy drills" in capsys.readouterr().out


def test_cli_refuses_too_few_rows(tmp_path):
    with pytest.raises(SystemExit):
        copy_drills.main(["--output", str(tmp_path / "d.jsonl"), "--count", "1"])
    assert not (tmp_path / "d.jsonl").exists()

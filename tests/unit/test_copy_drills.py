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


def test_vocabulary_pieces_are_the_tokenizers_whole_text_tokens():
    """Each piece is one token of the shipped tokenizer on its own; byte pieces and special tokens
    are left out, and words that tool rows rarely make a model write ("Friday") are in."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained("models/tiny-qwen2-tools")
    pieces = copy_drills.vocabulary_pieces(tokenizer)
    assert "Friday" in pieces and "<|im_end|>" not in pieces
    assert len(pieces) > len(tokenizer) // 2
    for piece in pieces[::50]:
        assert len(tokenizer(piece, add_special_tokens=False)["input_ids"]) == 1, piece
    assert not any("\ufffd" in piece for piece in pieces)


def test_half_the_drills_copy_runs_of_vocabulary_pieces():
    vocabulary = ["Friday", "quarter", "天", "report"]
    rows = make_drills(400, seed=6, vocabulary=vocabulary)
    answers = [row["messages"][1]["content"] for row in rows]
    runs = [a for a in answers if set(re.split(r" |(?<=天)|(?=天)", a)) - {""} <= set(vocabulary)]
    assert 0.35 < len(runs) / len(answers) < 0.65
    assert "Friday quarter" in " ".join(runs) or "quarter Friday" in " ".join(runs)
    assert validate_rows(rows, []) == []

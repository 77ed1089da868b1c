"""Filler words go where a reader sees a word boundary, never inside or against a value."""

from __future__ import annotations

import random

from train_app.filler_words import boundaries, insert


def test_chinese_words_go_only_where_the_script_or_punctuation_shows_a_boundary():
    # 大阪 and 天气 are whole words with no visible edge: only the two ends remain.
    assert boundaries("想知道大阪此刻的天气", ["大阪"], word_is_cjk=True) == [0, 10]
    # A Chinese word may follow a zone ('Europe/Madrid苹果'): the script change shows where it ends.
    assert 13 in boundaries("Europe/Madrid那边现在几点", ["Europe/Madrid"], word_is_cjk=True)
    # ...but not a Chinese note: '苹果这周末…' would hide where the note starts.
    text = "把这句话存到 docs/minutes.md：这周末去超市买水果和蔬菜"
    offsets = boundaries(text, ["docs/minutes.md", "这周末去超市买水果和蔬菜"], word_is_cjk=True)
    assert text.index("这周末") not in offsets
    assert offsets == [0, 7, 22]


def test_english_words_stay_out_of_quotes_and_away_from_unquoted_values():
    quoted = 'Search the web for "cheap flights to Rome" please'
    offsets = boundaries(quoted, ["cheap flights to Rome"], word_is_cjk=False)
    inside = range(quoted.index('"'), quoted.rindex('"') + 2)
    assert offsets and not set(offsets) & set(inside)

    unquoted = "Search the web for cheap flights to Rome"
    offsets = boundaries(unquoted, ["cheap flights to Rome"], word_is_cjk=False)
    assert offsets == [0, 7, 11, 15]  # never after 'for' or at the end, where it joins the query


def test_insert_keeps_every_value_whole_and_spaces_english_words():
    rng = random.Random(0)
    for _ in range(200):
        text = insert(rng, "What is 15 * 23?", ["15 * 23"], ["apple"], "en")
        assert "15 * 23?" in text and "  " not in text and text.count("apple") == 1
        assert text.replace("apple", "").split() == ["What", "is", "15", "*", "23?"]
        text = insert(rng, "Europe/Madrid现在几点", ["Europe/Madrid"], ["苹果"], "zh")
        assert text.replace("苹果", "", 1) == "Europe/Madrid现在几点"


def test_a_request_without_a_boundary_is_left_as_it_is():
    assert boundaries("大阪", ["大阪"], word_is_cjk=True) == []
    assert insert(random.Random(0), "大阪", ["大阪"], ["苹果"], "zh") == "大阪"

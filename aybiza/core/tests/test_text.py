"""`storable`: text from outside our control repaired so every database can store and return it."""

from __future__ import annotations

from aybiza.core.text import storable


def test_nul_characters_are_dropped_and_lone_surrogates_replaced_in_keys_and_values():
    assert storable({"a\x00": ["x\ud800y", {"k": "\udfff"}], "n": 3}) == {
        "a": ["x\ufffdy", {"k": "\ufffd"}], "n": 3}


def test_well_formed_text_comes_back_unchanged():
    text = "Ana Lima — 😀 ünïcödé"  # a surrogate *pair* (the emoji) is well formed
    assert storable(text) is text
    assert storable(None) is None and storable(1.5) == 1.5

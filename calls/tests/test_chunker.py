from calls.realtime.chunker import ClauseChunker


def test_sentences_come_out_as_soon_as_they_end():
    chunker = ClauseChunker()

    first = chunker.push("We are open Monday to Friday")
    second = chunker.push(", nine to five. We close on")
    rest = chunker.push(" weekends.") + chunker.flush()

    assert first == []
    assert second == ["We are open Monday to Friday,", "nine to five."]
    assert rest == ["We close on weekends."]


def test_first_clause_is_cut_early_at_a_comma_but_later_ones_are_not():
    chunker = ClauseChunker()

    clauses = chunker.push("Sure thing, let me check that, and get back to you soon. Ok")

    assert clauses[0] == "Sure thing,"
    assert clauses[1] == "let me check that, and get back to you soon."
    assert chunker.flush() == ["Ok"]


def test_runaway_text_without_punctuation_is_cut_at_a_space():
    chunker = ClauseChunker()

    clauses = chunker.push("word " * 80)

    assert clauses and all(len(c) <= 220 for c in clauses)
    assert all(not c.endswith(" ") for c in clauses)


def test_decimal_points_and_times_do_not_split():
    chunker = ClauseChunker()

    clauses = chunker.push("It costs 12.50 dollars at 10:30 today. ")

    assert clauses == ["It costs 12.50 dollars at 10:30 today."]

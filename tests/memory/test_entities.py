"""Entity names from memories and queries (memory.entities): deterministic, no LLM."""

from __future__ import annotations

from almanac.memory.entities import extract, query_names, resolve


def test_speaker_and_mid_sentence_names_are_entities():
    found = extract("Melanie: Hey Caroline, we drove to Grand Canyon with Amy Ellis Nutt's book.")
    assert found == {
        "melanie": "speaker",
        "caroline": "mention",
        "grand canyon": "mention",
        "amy ellis nutt": "mention",
    }


def test_a_capital_that_only_opens_a_sentence_needs_confirming():
    first = extract("Pottery is relaxing. Thanks for asking! Sweden was cold.")
    assert first == {"pottery": "initial", "sweden": "initial"}
    later = extract("My grandma still lives in Sweden.")
    resolved = resolve([first, later], known=set())
    assert resolved == [{"sweden": "initial"}, {"sweden": "mention"}]
    assert resolve([first], known={"pottery"}) == [{"pottery": "initial"}]


def test_grammar_words_days_months_and_captions_are_not_entities():
    found = extract("Last Friday I met them; In May The team left. [image: a photo of Paris]")
    # "Last" opens a sentence: only a clear mention elsewhere would make it a name.
    assert found == {"last": "initial"}
    assert resolve([found], known=set()) == [{}]


def test_names_are_case_and_possessive_insensitive():
    assert extract("We asked ACME's lawyer") == {"acme": "mention"}
    assert "acme" in query_names("what did acme say?")
    assert "amy ellis nutt" in query_names("Which book did Amy Ellis Nutt's write?")


def test_query_names_are_bounded():
    names = query_names(" ".join(f"w{i}x" for i in range(500)))
    assert len(names) == 200


def test_hostile_input_is_bounded():
    many = " ".join(f"met Person{i} today." for i in range(500))
    assert len(extract(many)) == 50
    assert extract("He met " + "A" * 500 + " there") == {}
    assert extract("") == {} and extract("\x00 :: [[[") == {}


def test_alias_words_are_capitalised_words_inside_the_query():
    from almanac.memory.entities import MAX_ALIAS_WORDS, alias_words

    assert alias_words("What did Mel and her kids paint?") == ["mel"]
    # A sentence's first word, a function word, a short or a mixed token are not names.
    assert alias_words("Mel went home. Did Jo? Where is Her R2D2 from") == []
    assert alias_words("Ask about Mel's plans, then Caro. Then Mel again") == ["mel", "caro"]
    many = "note " + " ".join(f"Name{chr(97 + i)}x" for i in range(26))
    assert len(alias_words(many)) == MAX_ALIAS_WORDS  # bounded, whatever the query

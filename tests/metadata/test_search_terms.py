"""The search syntax: every term form, the edge cases it settles, and its refusals."""
from __future__ import annotations

import pytest

from webapp.metadata.search_terms import (
    ANY,
    MAX_PATH_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    SearchSyntaxError,
    parse,
)


def only_term(q: str):
    query = parse(q)
    assert query.free_text == ""
    assert len(query.terms) == 1
    return query.terms[0].path, query.terms[0].value


@pytest.mark.parametrize(("q", "path", "value"), [
    ("plan:pro", ("plan",), "pro"),
    ("features.beta:true", ("features", "beta"), True),
    ("features.beta:false", ("features", "beta"), False),
    ("seats:5", ("seats",), 5),
    ("seats:5.0", ("seats",), 5.0),
    ("score:-1.5e2", ("score",), -150.0),
    ("seats:01", ("seats",), "01"),  # not JSON: a string, as written
    ("gone:null", ("gone",), None),
    ('seats:"5"', ("seats",), "5"),
    ('beta:"true"', ("beta",), "true"),
    ('name:"Ada L"', ("name",), "Ada L"),
    ('name:"say \\"hi\\""', ("name",), 'say "hi"'),
    ('name:"caf\\u00e9"', ("name",), "café"),
    ('name:"back\\\\slash"', ("name",), "back\\slash"),
    ('empty:""', ("empty",), ""),
    ("tier:*", ("tier",), ANY),
    ('tier:"*"', ("tier",), "*"),  # quoted: the string "*", not any value
    ("a.b.c.d:x", ("a", "b", "c", "d"), "x"),
    ("url:https://example.test:8443/x", ("url",), "https://example.test:8443/x"),
    ("when:2024-01-01", ("when",), "2024-01-01"),
    ("NaN:NaN", ("NaN",), "NaN"),  # not JSON either
    ('"build.v2":true', ("build.v2",), True),
    ('"a:b":*', ("a:b",), ANY),
    ('"with space".inner:1', ("with space", "inner"), 1),
    ('"back\\\\slash":1', ("back\\slash",), 1),
    ("Plan:Pro", ("Plan",), "Pro"),  # keys and values keep their case
    ("ключ:значение", ("ключ",), "значение"),
])
def test_term_forms(q, path, value):
    found_path, found_value = only_term(q)
    assert found_path == path
    assert found_value == value and type(found_value) is type(value)


def test_free_text_beside_terms_keeps_its_words_in_order():
    query = parse('  ali  plan:pro "Ada L" features.beta:true smith ')
    assert query.free_text == "ali Ada L smith"
    assert query.free_words == ("ali", '"Ada L"', "smith")
    assert [term.text for term in query.terms] == ["plan:pro", "features.beta:true"]


def test_a_query_without_a_colon_is_free_text_as_typed():
    assert parse(' say "hi ').free_text == 'say "hi'
    assert parse('"Ada  L"').free_text == '"Ada  L"'
    assert parse("ab\"cd").terms == ()


def test_a_quoted_colon_is_free_text():
    assert parse('"a:b"').free_text == "a:b"
    assert parse('"a:b"').terms == ()


def test_empty_query():
    assert not parse("")
    assert not parse("   ")


@pytest.mark.parametrize(("q", "message"), [
    ("plan:", "'plan:': the value is missing; write plan:* for any value or plan:\"\" for "
              "the empty string"),
    (":pro", "':pro': a key is missing before the colon, e.g. plan:pro"),
    ("a..b:1", "'a..b:1': a key of the path is empty (quote keys that hold a dot: \"a.b\":1)"),
    (".a:1", "'.a:1': a key of the path is empty (quote keys that hold a dot: \"a.b\":1)"),
    ("a.:1", "'a.:1': a key of the path is empty (quote keys that hold a dot: \"a.b\":1)"),
    ('name:"Ada L', "'name:\"Ada L': the quote is not closed"),
    ('name:"Ada" x', None),  # fine: a term and a free word
    ('x:"a"b', "'x:\"a\"b': quotes must surround the whole value, and a quote inside them "
               "is written \\\""),
    ('"a"b:1', "'\"a\"b:1': quotes must surround the whole key, and a quote inside them "
               "is written \\\""),
    ('a"b".c:1', "'a\"b\".c:1': quotes must surround the whole key, and a quote inside them "
                 "is written \\\""),
    ('ab"cd" x:1', "'ab\"cd\"': quotes must surround the whole word, and a quote inside "
                    "them is written \\\""),
    ('"k\\q":1', "'\"k\\q\":1': a backslash in quotes escapes only \\\\ \\\" / b f n r t "
                 "or uXXXX"),
    ('"say \\"x\\"":1', "'\"say \\\"x\\\"\":1': keys holding a double quote cannot be "
                        "searched"),
    ("tags:[1]", "'tags:[1]': arrays and objects cannot be searched as values; search a key "
                 "inside an object with a dotted path, e.g. features.beta:true"),
    ('doc:{"a":1}', "'doc:{\"a\":1}': arrays and objects cannot be searched as values; search "
                    "a key inside an object with a dotted path, e.g. features.beta:true"),
    ("n:1e999", "'n:1e999': the number is too large"),
    ('x:"a\\u0000"', "'x:\"a\\u0000\"': \\u0000 and unpaired surrogates cannot be searched"),
    ('"\\ud800":1', "'\"\\ud800\":1': \\u0000 and unpaired surrogates cannot be searched"),
    ("x:a\x00", "Search may not contain the NUL character."),
])
def test_malformed_terms_are_named_in_the_message(q, message):
    if message is None:
        parse(q)
        return
    with pytest.raises(SearchSyntaxError) as raised:
        parse(q)
    assert raised.value.message == message


def test_limits():
    parse(" ".join(f"k{i}:*" for i in range(MAX_TERMS)))
    with pytest.raises(SearchSyntaxError, match=f"At most {MAX_TERMS} terms"):
        parse(" ".join(f"k{i}:*" for i in range(MAX_TERMS + 1)))
    parse(".".join(["k"] * MAX_PATH_DEPTH) + ":1")
    with pytest.raises(SearchSyntaxError, match=f"a path has at most {MAX_PATH_DEPTH} keys"):
        parse(".".join(["k"] * (MAX_PATH_DEPTH + 1)) + ":1")
    with pytest.raises(SearchSyntaxError, match=f"longer than {MAX_QUERY_LENGTH} characters"):
        parse("x" * (MAX_QUERY_LENGTH + 1))

"""The search syntax for platform documents: `path:value` terms beside free text.

One small, strict grammar, so a search means the same in the dashboard and the API and a
mistake is answered with a message rather than silently matching nothing:

    query  = word { whitespace word }
    word   = term | free text
    term   = path ":" value                  the first ":" outside quotes splits the two
    path   = key { "." key }                 `features.beta`: a key inside an object
    key    = bare | quoted                   bare: no whitespace, ".", ":" or '"'
    value  = "*" | quoted | bare value       bare value: no whitespace or '"' (":" is fine)
    quoted = a JSON string: "Ada L", "say \\"hi\\"", "caf\\u00e9"

- A bare value is read as JSON where it parses as a scalar (`true`, `false`, `null`,
  numbers: `5` and `5.0` are the same number), else as a string (`pro`, `2024-01-01`).
  A quoted value is always a string (`"5"`, `"true"`, `"*"`). `*` alone matches any value,
  `null` included: the document has the key.
- Keys holding ".", ":" or spaces are quoted: `"build.v2":true`, `"a:b":*`.
- Free text (a word without ":" outside quotes, or one quoted phrase) is what the search
  did before terms existed; callers decide where it is allowed. A query without any ":"
  is all free text, taken as typed, quotes and all (`say "hi` finds `say "hi"`), as the
  username search always took it.
- Refused, with a message naming the word: an unclosed quote, text beside a quoted part,
  an empty key or value (`plan:` — write `plan:""` for the empty string), arrays and
  objects as values, numbers beyond what JSON tools agree on, keys holding a double quote
  (SQLite's JSON paths cannot name them), too many terms or too deep a path.

Nothing here touches SQL: webapp.metadata.search turns the parsed terms into a query with
bound parameters.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 10
MAX_PATH_DEPTH = 32  # documents are at most 32 levels deep
EXAMPLE = 'plan:pro features.beta:true seats:5 name:"Ada L" tier:*'


class SearchSyntaxError(ValueError):
    """A query this grammar refuses; `message` is written for the person who typed it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Any:
    """The value of `path:*`."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
_DECODER = json.JSONDecoder(strict=False)  # a tab typed inside quotes is kept


@dataclass(frozen=True)
class Term:
    path: tuple[str, ...]
    value: Any  # str, int, float, bool, None, or ANY
    text: str  # as written, for messages and the matched-values display

    @property
    def matches_any(self) -> bool:
        return self.value is ANY


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()
    free_text: str = ""
    free_words: tuple[str, ...] = field(default=(), repr=False)  # as written

    def __bool__(self) -> bool:
        return bool(self.terms or self.free_text)


def parse(text: str) -> Query:
    """The terms and the free text of a query (free words joined by one space)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchSyntaxError(f"Search is longer than {MAX_QUERY_LENGTH} characters.")
    if "\x00" in text:  # documents never hold one (the platform rules refuse it)
        raise SearchSyntaxError("Search may not contain the NUL character.")
    if ":" not in text:
        text = text.strip()
        return Query(free_text=text, free_words=(text,) if text else ())
    terms: list[Term] = []
    free: list[str] = []
    free_words: list[str] = []
    for word in _split_words(text):
        colon = _first_unquoted(word, ":")
        if colon is None:
            free.append(_free_word(word))
            free_words.append(word)
        else:
            terms.append(_term(word, word[:colon], word[colon + 1:]))
    if len(terms) > MAX_TERMS:
        raise SearchSyntaxError(f"At most {MAX_TERMS} terms can be searched at once.")
    return Query(terms=tuple(terms), free_text=" ".join(free), free_words=tuple(free_words))


def _split_words(text: str) -> list[str]:
    """Words separated by whitespace outside quotes; a backslash escapes inside quotes."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
            quoted = char == '"'
    if quoted:
        raise SearchSyntaxError(f"'{''.join(current)}': the quote is not closed")
    if current:
        words.append("".join(current))
    return words


def _first_unquoted(word: str, wanted: str, start: int = 0) -> int | None:
    quoted = escaped = False
    for index in range(start, len(word)):
        char = word[index]
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == wanted:
            return index
    return None


def _quoted_string(text: str, word: str, what: str) -> str:
    """`text`, one whole JSON string, decoded."""
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        raise SearchSyntaxError(
            f"'{word}': a backslash in quotes escapes only \\\\ \\\" / b f n r t or uXXXX"
        ) from None
    if end != len(text) or not isinstance(value, str):
        raise SearchSyntaxError(f"'{word}': quotes must surround the whole {what}, and a quote "
                                'inside them is written \\"')
    if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
        # Documents hold neither (the platform rules refuse them), nor can PostgreSQL.
        raise SearchSyntaxError(f"'{word}': \\u0000 and unpaired surrogates cannot be searched")
    return value


def _free_word(word: str) -> str:
    if '"' not in word:
        return word
    if not word.startswith('"'):
        raise SearchSyntaxError(f"'{word}': quotes must surround the whole word, and a quote "
                                'inside them is written \\"')
    return _quoted_string(word, word, "word")


def _term(word: str, path_text: str, value_text: str) -> Term:
    if not path_text:
        raise SearchSyntaxError(f"'{word}': a key is missing before the colon, e.g. plan:pro")
    path = _path(word, path_text)
    if not value_text:
        raise SearchSyntaxError(f"'{word}': the value is missing; write {path_text}:* for any "
                                f'value or {path_text}:"" for the empty string')
    return Term(path=path, value=_value(word, value_text), text=word)


def _path(word: str, text: str) -> tuple[str, ...]:
    keys: list[str] = []
    start = 0
    while True:
        dot = _first_unquoted(text, ".", start)
        part = text[start:] if dot is None else text[start:dot]
        if not part:
            raise SearchSyntaxError(f"'{word}': a key of the path is empty (quote keys "
                                    'that hold a dot: "a.b":1)')
        if part.startswith('"'):
            key = _quoted_string(part, word, "key")
            if '"' in key:
                raise SearchSyntaxError(
                    f"'{word}': keys holding a double quote cannot be searched")
        elif '"' in part:
            raise SearchSyntaxError(f"'{word}': quotes must surround the whole key, and a "
                                    'quote inside them is written \\"')
        else:
            key = part
        keys.append(key)
        if dot is None:
            break
        start = dot + 1
    if len(keys) > MAX_PATH_DEPTH:
        raise SearchSyntaxError(f"'{word}': a path has at most {MAX_PATH_DEPTH} keys")
    return tuple(keys)


def _value(word: str, text: str) -> Any:
    if text == "*":
        return ANY
    if text.startswith('"'):
        return _quoted_string(text, word, "value")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        if '"' in text:
            raise SearchSyntaxError(f"'{word}': quotes must surround the whole value, and a "
                                    'quote inside them is written \\"') from None
        return text  # not JSON: a string, as written
    if isinstance(value, (dict, list)):
        raise SearchSyntaxError(f"'{word}': arrays and objects cannot be searched as values; "
                                "search a key inside an object with a dotted path, e.g. "
                                "features.beta:true")
    if isinstance(value, float) and not math.isfinite(value):
        raise SearchSyntaxError(f"'{word}': the number is too large")
    return value


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON, though Python's parser accepts them."""
    raise ValueError(name)

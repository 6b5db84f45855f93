"""Custom Vision's image metadata filter (`$filter` on GetImages and GetImageCount), parsed and turned into SQL.

Azure's words: "An expression to filter the images against image metadata. Only images where the
expression evaluates to true are included in the response. The expression supports eq (Equal), ne (Not
equal), and (Logical and), or (Logical or) operators. Here is an example, metadata=key1 eq 'value1' and
key2 ne 'value2'." So the grammar is OData's, cut down to that:

    filter     := ["metadata="] or_expr
    or_expr    := and_expr ("or" and_expr)*         -- `and` binds tighter than `or`
    and_expr   := comparison ("and" comparison)*
    comparison := KEY ("eq" | "ne") VALUE

KEY is a bare word (no spaces, quotes or parentheses); VALUE is quoted in single quotes, a quote inside
doubled (OData: 'it''s'). Operators and connectives are read in any case. Keys and values compare
exactly (case and all). The spec names no parentheses, so there are none: a "(" is refused. The
"metadata=" of the spec's example is accepted in front and ignored, so the example works as written.
`key ne 'v'` is the exact negation of `key eq 'v'`: an image without the key matches it (OData's null
ne 'v' is true).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_
from sqlalchemy.sql.elements import ColumnElement

from sightline.errors import InvalidRequestError
from sightline.store import Image, ImageMetadata

#: Comparisons per filter: each is an EXISTS subquery, and SQLite refuses expressions deeper than 1,000.
MAX_COMPARISONS = 64

_PREFIX = "metadata="
_SPECIAL = "'()"


@dataclass(frozen=True)
class Comparison:
    key: str
    value: str
    negated: bool = False  # ne


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Filter, ...]


Filter = Comparison | AllOf | AnyOf


@dataclass(frozen=True)
class _Token:
    text: str  # a bare word, or a quoted value unescaped
    position: int  # 1-based
    quoted: bool = False

    def shown(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:40] + "..."
        return f"the quoted value '{text}'" if self.quoted else repr(text)


def _tokens(text: str, start: int) -> Iterator[_Token]:
    """The words and quoted values of `text` from `start`, read as the parser asks: errors come in reading order."""
    i = start
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "'":
            value, i = _quoted(text, i)
            yield value
        elif char in "()":
            raise InvalidRequestError(
                f"$filter: parentheses are not supported (character {i + 1}): "
                "join comparisons with and/or, where and binds tighter than or"
            )
        else:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
                end += 1
            yield _Token(text[i:end], i + 1)
            i = end


def _quoted(text: str, start: int) -> tuple[_Token, int]:
    """The value quoted from `start` (a quote), with '' read as one quote; and the index after it."""
    parts, i = [], start + 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                parts.append("'")
                i += 2
                continue
            return _Token("".join(parts), start + 1, quoted=True), i + 1
        parts.append(text[i])
        i += 1
    raise InvalidRequestError(f"$filter: the quoted value starting at character {start + 1} has no closing quote")


class _Parser:
    """Recursive descent over the tokens, one token of lookahead (`current`)."""

    def __init__(self, text: str, start: int):
        self.tokens, self.end, self.comparisons = _tokens(text, start), len(text) + 1, 0
        self.current = next(self.tokens, None)

    def _advance(self) -> _Token:
        token, self.current = self.current, next(self.tokens, None)
        assert token is not None
        return token

    def _fail(self, expected: str) -> InvalidRequestError:
        token = self.current
        found = f"{token.shown()} at character {token.position}" if token else f"the end (character {self.end})"
        return InvalidRequestError(f"$filter: expected {expected}, found {found}")

    def _keyword(self, *words: str) -> str | None:
        token = self.current
        if token is not None and not token.quoted and token.text.lower() in words:
            self._advance()
            return token.text.lower()
        return None

    def parse(self) -> Filter | None:
        if self.current is None:
            return None
        result = self._any_of()
        if self.current is not None:
            raise self._fail("'and', 'or' or the end of the filter")
        return result

    def _any_of(self) -> Filter:
        terms = [self._all_of()]
        while self._keyword("or"):
            terms.append(self._all_of())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def _all_of(self) -> Filter:
        terms: list[Filter] = [self._comparison()]
        while self._keyword("and"):
            terms.append(self._comparison())
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def _comparison(self) -> Comparison:
        if self.current is None or self.current.quoted:
            raise self._fail("a metadata key (a bare word, such as key1)")
        key = self._advance()
        operator = self.current
        if self._keyword("eq", "ne") is None:
            if operator is not None and not operator.quoted:
                raise InvalidRequestError(
                    f"$filter: unknown operator {operator.text!r} at character {operator.position}: "
                    "use eq or ne (and, or between comparisons)"
                )
            raise self._fail(f"eq or ne after the key {key.text!r}")
        assert operator is not None
        if self.current is None or not self.current.quoted:
            raise self._fail(f"a value in single quotes after {operator.text!r}, such as 'value1'")
        value = self._advance()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise InvalidRequestError(
                f"$filter: at most {MAX_COMPARISONS} comparisons (the one at character {key.position} is over)"
            )
        return Comparison(key.text, value.text, negated=operator.text.lower() == "ne")


def parse(text: str) -> Filter | None:
    """The filter `text` as a tree (None for an empty one).

    A malformed one raises InvalidRequestError (400 BadRequest) saying what was expected and at which character.
    """
    if "\x00" in text:  # no metadata can hold a NUL (PostgreSQL refuses them): the same 400 on every database
        raise InvalidRequestError(f"$filter: character {text.index(chr(0)) + 1} is a NUL, which no metadata holds")
    start = len(text) - len(text.lstrip())
    if text[start:].lower().startswith(_PREFIX):
        start += len(_PREFIX)
    return _Parser(text, start).parse()


def condition(text: str | None) -> ColumnElement[bool] | None:
    """A WHERE condition on `Image` for the filter `text` (None when there is no filter to apply)."""
    tree = parse(text) if text else None
    return _sql(tree) if tree is not None else None


def _sql(node: Filter) -> ColumnElement[bool]:
    if isinstance(node, Comparison):
        has = exists().where(
            ImageMetadata.image_id == Image.id, ImageMetadata.key == node.key, ImageMetadata.value == node.value
        )
        return ~has if node.negated else has
    parts = [_sql(term) for term in node.terms]
    return and_(*parts) if isinstance(node, AllOf) else or_(*parts)

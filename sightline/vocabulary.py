"""The words the pre-built tagger can say and how they relate (phrasing lives in `sightline.prompts`).

Zero-shot tagging scores an image against text embeddings, so a vocabulary is more than a list of
names: each tag has a category (to filter by), an optional parent (so "golden retriever" can roll up
to "dog"), synonyms, and optional prompt templates, for words that read badly in the default
phrasing ("night" reads "a photo taken at night", not "a photo of a night").

Vocabulary files are UTF-8 and tab-separated, with the header row `name category parent synonyms
prompt`; blank lines and lines starting with `#` are skipped. `synonyms` and `prompt` hold several
values separated by `;`. A prompt template may use `{name}` (the tag name or one synonym) and `{a}`
(its indefinite article: "a", "an", or nothing for a plural); a template without placeholders is
used as written. A plain text file with one tag name per line is accepted too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from sightline.errors import VocabularyError
from sightline.prompts import parse_prompt_templates, prompts_for

__all__ = [
    "CATEGORIES",
    "CUSTOM_CATEGORY",
    "TSV_COLUMNS",
    "Vocabulary",
    "VocabularyTag",
    "imagenet_vocabulary",
    "load_default_vocabulary",
    "prompts_for",
]

CATEGORIES: tuple[str, ...] = (
    "animal",
    "plant",
    "food",
    "vehicle",
    "object",
    "scene",
    "people",
    "activity",
    "sport",
    "event",
    "clothing",
    "material",
    "color",
    "attribute",
    "weather",
    "art",
)
"""The categories a vocabulary file may use."""

CUSTOM_CATEGORY = "custom"
"""Category of a caller-supplied tag that the default vocabulary does not know."""

TSV_COLUMNS: tuple[str, ...] = ("name", "category", "parent", "synonyms", "prompt")

_MAX_PHRASE_LENGTH = 200


@dataclass(frozen=True)
class VocabularyTag:
    """One tag: its name, category, broader tag, alternative names, and optional prompt templates."""

    name: str
    category: str
    parent: str | None = None
    synonyms: tuple[str, ...] = ()
    prompt: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "synonyms", tuple(self.synonyms))
        _check_phrase(self.name, "tag name")
        if self.category not in (*CATEGORIES, CUSTOM_CATEGORY):
            raise VocabularyError(
                f"tag {self.name!r}: unknown category {self.category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if self.parent is not None:
            _check_phrase(self.parent, "parent")
            if self.parent == self.name:
                raise VocabularyError(f"tag {self.name!r} cannot be its own parent")
        for synonym in self.synonyms:
            _check_phrase(synonym, "synonym")
            if ";" in synonym:
                raise VocabularyError(f"tag {self.name!r}: synonym {synonym!r} contains ';', the separator")
            if synonym == self.name:
                raise VocabularyError(f"tag {self.name!r}: synonym {synonym!r} repeats the name")
        if len(set(self.synonyms)) != len(self.synonyms):
            raise VocabularyError(f"tag {self.name!r}: a synonym is listed twice")
        if self.prompt is not None:
            parse_prompt_templates(self.prompt)  # raises on a malformed template


class Vocabulary:
    """An ordered, validated set of tags: unique names, parents that exist, no cycles."""

    def __init__(self, tags: Iterable[VocabularyTag]):
        self._tags = tuple(tags)
        _check_graph(self._tags, where=lambda index, _tag: f"tag #{index + 1}")
        self._by_name = {tag.name: tag for tag in self._tags}
        self._by_synonym = {synonym: tag for tag in reversed(self._tags) for synonym in tag.synonyms}

    # -- building
    @classmethod
    def from_names(cls, names: Iterable[str]) -> Vocabulary:
        """A flat vocabulary for one call or one classifier (no parents).

        Names are normalised (lowercase, single spaces, "_" read as a space) and repeats dropped. A name
        the default vocabulary knows, as a tag or a synonym, keeps its category, synonyms and prompts, so
        "night" still reads "a photo taken at night"; any other name gets category "custom".
        """
        if isinstance(names, str):
            names = [names]
        tags: dict[str, VocabularyTag] = {}
        for raw in names:
            tag = _custom_tag(raw)
            tags.setdefault(tag.name, tag)
        if not tags:
            raise VocabularyError("a vocabulary needs at least one tag name")
        return cls(tags.values())

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary TSV (see the module docstring) or a plain text file of one name per line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise VocabularyError(f"vocabulary file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise VocabularyError(f"cannot read vocabulary file {path}: {exc}") from None
        return _parse(text, source=str(path))

    # -- reading
    @property
    def tags(self) -> tuple[VocabularyTag, ...]:
        return self._tags

    @property
    def categories(self) -> tuple[str, ...]:
        """Categories in use, in the order of `CATEGORIES` ("custom" last)."""
        used = {tag.category for tag in self._tags}
        return tuple(c for c in (*CATEGORIES, CUSTOM_CATEGORY) if c in used)

    def names(self) -> list[str]:
        return [tag.name for tag in self._tags]

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[VocabularyTag]:
        return iter(self._tags)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize(name) in self._by_name

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tags, categories={list(self.categories)})"

    def get(self, name: str) -> VocabularyTag | None:
        """The tag called `name` (matched case-insensitively), or None."""
        return self._by_name.get(_normalize(name))

    def ancestors(self, name: str) -> list[str]:
        """Names of the broader tags above `name`, nearest first: "golden retriever" -> dog, mammal, animal."""
        chain: list[str] = []
        parent = self._require(name).parent
        while parent is not None:
            chain.append(parent)
            parent = self._by_name[parent].parent
        return chain

    def filter(
        self,
        categories: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> Vocabulary:
        """The tags in `categories` that are under `include` and not under `exclude`.

        A name in `include` or `exclude` stands for that tag and every tag below it ("dog" brings its
        breeds). A kept tag whose parent was dropped hangs from its nearest kept ancestor instead.
        """
        wanted_categories = None if categories is None else set(_as_names(categories))
        if wanted_categories is not None and (unknown := wanted_categories - {*CATEGORIES, CUSTOM_CATEGORY}):
            raise VocabularyError(f"unknown categories: {', '.join(sorted(unknown))}")
        included = None if include is None else self._subtrees(include)
        excluded = set() if exclude is None else self._subtrees(exclude)
        kept = [
            tag
            for tag in self._tags
            if (wanted_categories is None or tag.category in wanted_categories)
            and (included is None or tag.name in included)
            and tag.name not in excluded
        ]
        kept_names = {tag.name for tag in kept}
        return Vocabulary(
            replace(tag, parent=next((a for a in self.ancestors(tag.name) if a in kept_names), None)) for tag in kept
        )

    def _require(self, name: str) -> VocabularyTag:
        tag = self.get(name)
        if tag is None:
            raise VocabularyError(f"unknown tag {name!r}")
        return tag

    def _subtrees(self, names: Iterable[str]) -> set[str]:
        roots = {self._require(name).name for name in _as_names(names)}
        return {
            tag.name for tag in self._tags if tag.name in roots or any(a in roots for a in self.ancestors(tag.name))
        }

    def _find(self, phrase: str) -> VocabularyTag | None:
        """The tag whose name or synonym is `phrase`, renamed to it when it was a synonym."""
        phrase = _normalize(phrase)
        if (tag := self._by_name.get(phrase)) is not None:
            return tag
        if (tag := self._by_synonym.get(phrase)) is not None:
            others = tuple(s for s in tag.synonyms if s != phrase)
            return replace(tag, name=phrase, synonyms=(tag.name, *others))
        return None


@functools.cache
def load_default_vocabulary() -> Vocabulary:
    """The vocabulary shipped with Sightline (sightline/data/vocabulary.tsv), read once."""
    resource = resources.files("sightline") / "data" / "vocabulary.tsv"
    return _parse(resource.read_text(encoding="utf-8"), source="sightline/data/vocabulary.tsv")


@functools.cache
def imagenet_vocabulary() -> tuple[Vocabulary, tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """The built-in vocabulary as ImageNet classifiers can say it (sightline/data/imagenet_vocabulary.tsv).

    Returns (tags, the 1,000 ImageNet labels in output order, per tag the label indices it stands for).
    A tag stands for its own labels and every label of the tags below it, so "bird" sums every bird
    class and "macaw" rolls up to parrot -> bird -> animal. Tags with no label at or below them are left
    out; the file leaves some labels deliberately unmapped (an empty tag).
    """
    vocabulary = load_default_vocabulary()
    text = (resources.files("sightline") / "data" / "imagenet_vocabulary.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]
    labels = tuple(row[1] for row in rows)
    below: dict[str, set[int]] = {}
    for index, (_, _, tag) in enumerate(rows):
        if tag:
            for name in (tag, *vocabulary.ancestors(tag)):
                below.setdefault(name, set()).add(index)
    tags = Vocabulary(tag for tag in vocabulary if tag.name in below)
    return tags, labels, tuple(tuple(sorted(below[tag.name])) for tag in tags)


# -- names ---------------------------------------------------------------------------------------


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _as_names(values: Iterable[str]) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def _check_phrase(text: object, what: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise VocabularyError(f"{what} is empty")
    if len(text) > _MAX_PHRASE_LENGTH:
        raise VocabularyError(f"{what} {text[:40]!r}... is longer than {_MAX_PHRASE_LENGTH} characters")
    if text != _normalize(text):
        raise VocabularyError(f"{what} {text!r} must be lowercase with single spaces (like {_normalize(text)!r})")


def _custom_tag(raw: object) -> VocabularyTag:
    if not isinstance(raw, str):
        raise VocabularyError(f"tag names must be text, not {type(raw).__name__}")
    name = _normalize(raw)
    known = load_default_vocabulary()._find(name) if name else None
    if known is not None:
        return replace(known, parent=None)
    return VocabularyTag(name, CUSTOM_CATEGORY)


def _check_graph(tags: Sequence[VocabularyTag], where: Callable[[int, VocabularyTag], str]) -> None:
    """Unique names, parents that exist, no cycles; `where` says where a tag came from in errors."""
    first_index: dict[str, int] = {}
    for index, tag in enumerate(tags):
        if tag.name in first_index:
            first = first_index[tag.name]
            raise VocabularyError(
                f"{where(index, tag)}: tag {tag.name!r} is defined twice (first at {where(first, tags[first])})"
            )
        first_index[tag.name] = index
    for index, tag in enumerate(tags):
        if tag.parent is not None and tag.parent not in first_index:
            raise VocabularyError(f"{where(index, tag)}: parent {tag.parent!r} of {tag.name!r} is not a tag")
    acyclic: set[str] = set()
    for index, tag in enumerate(tags):
        chain = [tag.name]
        parent = tag.parent
        while parent is not None and parent not in acyclic:
            if parent in chain:
                loop = " -> ".join([*chain[chain.index(parent) :], parent])
                raise VocabularyError(f"{where(index, tag)}: parents form a cycle: {loop}")
            chain.append(parent)
            parent = tags[first_index[parent]].parent
        acyclic.update(chain)


# -- files ---------------------------------------------------------------------------------------


def _parse(text: str, source: str) -> Vocabulary:
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise VocabularyError(f"{source}: no tags")
    number, first = lines[0]
    if "\t" in first:
        header = tuple(column.strip().lower() for column in first.split("\t"))
        if header != TSV_COLUMNS:
            raise VocabularyError(
                f"{source}, line {number}: expected the header {' / '.join(TSV_COLUMNS)} (tab-separated)"
            )
        return _parse_tsv(lines[1:], source)
    return _parse_plain(lines, source)


def _parse_tsv(lines: list[tuple[int, str]], source: str) -> Vocabulary:
    tags: list[VocabularyTag] = []
    line_numbers: list[int] = []
    for number, line in lines:
        where = f"{source}, line {number}"
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) > len(TSV_COLUMNS):
            raise VocabularyError(f"{where}: {len(fields)} columns, expected {len(TSV_COLUMNS)}")
        name, category, parent, synonyms, prompt = fields + [""] * (len(TSV_COLUMNS) - len(fields))
        if not category:
            raise VocabularyError(f"{where}: tag {name!r} has no category")
        try:
            tag = VocabularyTag(
                name=name,
                category=category,
                parent=parent or None,
                synonyms=tuple(s.strip() for s in synonyms.split(";") if s.strip()),
                prompt=prompt or None,
            )
        except VocabularyError as exc:
            raise VocabularyError(f"{where}: {exc}") from None
        tags.append(tag)
        line_numbers.append(number)
    if not tags:
        raise VocabularyError(f"{source}: no tags after the header")
    _check_graph(tags, where=lambda index, _tag: f"{source}, line {line_numbers[index]}")
    return Vocabulary(tags)


def _parse_plain(lines: list[tuple[int, str]], source: str) -> Vocabulary:
    tags: list[VocabularyTag] = []
    seen: dict[str, int] = {}
    for number, line in lines:
        if "\t" in line:
            raise VocabularyError(
                f"{source}, line {number}: a tab in a list of names; a TSV file starts with the header row"
            )
        try:
            tag = _custom_tag(line)
        except VocabularyError as exc:
            raise VocabularyError(f"{source}, line {number}: {exc}") from None
        if tag.name in seen:
            raise VocabularyError(
                f"{source}, line {number}: tag {tag.name!r} is listed twice (first on line {seen[tag.name]})"
            )
        seen[tag.name] = number
        tags.append(tag)
    return Vocabulary(tags)

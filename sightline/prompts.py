"""Turning a tag into the sentences a text encoder embeds (CLIP-style prompt ensembling).

An image-text model matches "a photo of a dog." better than "dog", and the average of several
phrasings better than any one. The phrasing depends on the kind of word: a mass noun takes no
article ("a photo of rice."), an activity needs a subject ("a photo of a person swimming."), an
adjective describes the photo ("a blurry photo."). Per-category templates cover the common cases;
a vocabulary row's own prompt covers the rest.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

from sightline.errors import VocabularyError

if TYPE_CHECKING:
    from sightline.vocabulary import VocabularyTag

_PLACEHOLDERS = frozenset({"name", "a"})

_DEFAULT_TEMPLATES = (
    "a photo of {a} {name}.",
    "a close-up photo of {a} {name}.",
    "a photo of the {name}.",
    "a picture of {a} {name}.",
    "an image showing {a} {name}.",
)
_CATEGORY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "scene": (
        "a photo of {a} {name}.",
        "a photo of the {name}.",
        "a picture of {a} {name}.",
        "a view of {a} {name}.",
        "an image showing {a} {name}.",
    ),
    "clothing": (
        "a photo of {a} {name}.",
        "a photo of a person wearing {a} {name}.",
        "a close-up photo of {a} {name}.",
        "a photo of the {name}.",
        "a product photo of {a} {name}.",
    ),
    "food": (
        "a photo of {name}.",
        "a close-up photo of {name}.",
        "a photo of {name} on a table.",
        "a picture of {name}.",
        "a food photo of {name}.",
    ),
    "material": (
        "a photo of {name}.",
        "a close-up photo of {name}.",
        "something made of {name}.",
        "the texture of {name}.",
    ),
    "color": (
        "a photo of something {name}.",
        "a photo of {a} {name} object.",
        "the color {name}.",
        "a photo in which {name} is the main color.",
    ),
    "attribute": ("{a} {name} photo.", "{a} {name} picture.", "a photo that looks {name}."),
    "activity": (
        "a photo of a person {name}.",
        "a photo of people {name}.",
        "a photo of someone {name}.",
        "a picture of a person {name}.",
    ),
    "sport": ("a photo of {name}.", "a sports photo of {name}.", "a picture of {name}.", "an action photo of {name}."),
    "event": (
        "a photo of {a} {name}.",
        "a photo taken at {a} {name}.",
        "a picture from {a} {name}.",
        "people at {a} {name}.",
    ),
    "weather": (
        "a photo of {a} {name}.",
        "a photo of the {name}.",
        "a picture of {a} {name}.",
        "an outdoor photo with {a} {name}.",
    ),
    "art": (
        "a photo of {a} {name}.",
        "{a} {name}.",
        "an image of {a} {name}.",
        "a close-up of {a} {name}.",
        "a picture of {a} {name}.",
    ),
}

# English picks "a" or "an" by sound, not spelling; these cover the words a photo vocabulary meets.
_AN_WORDS = frozenset({"suv", "rv", "mri", "x-ray", "lcd", "led", "hdmi", "sms", "mp3", "f1"})
_AN_PREFIXES = ("hour", "honest", "honor", "honour", "heir", "unid", "unim", "unin")
_A_PREFIXES = ("uni", "use", "usu", "uti", "ute", "uk", "eu", "ewe", "one", "once", "ufo")
_PLURALS_WITHOUT_S = frozenset(
    {"people", "children", "men", "women", "feet", "teeth", "mice", "geese", "cattle", "clothes", "police"}
)
_SINGULARS_WITH_S = frozenset(
    {"lens", "canvas", "gas", "atlas", "christmas", "news", "series", "species", "chaos", "bias", "rhinoceros"}
)


def prompts_for(tag: VocabularyTag) -> list[str]:
    """The prompt ensemble of one tag: each template over the name and each synonym, without repeats.

    The templates are the tag's own `prompt` when it has one, else those of its category.
    """
    templates = parse_prompt_templates(tag.prompt) if tag.prompt else templates_for(tag.category)
    prompts = (_render(template, phrase) for phrase in (tag.name, *tag.synonyms) for template in templates)
    return list(dict.fromkeys(prompts))


def templates_for(category: str) -> tuple[str, ...]:
    """The default templates of a category (any unknown category gets the generic object templates)."""
    return _CATEGORY_TEMPLATES.get(category, _DEFAULT_TEMPLATES)


def parse_prompt_templates(prompt: str) -> tuple[str, ...]:
    """Split a `;`-separated prompt field into templates; only {name} and {a} may appear in braces."""
    templates = tuple(part.strip() for part in prompt.split(";") if part.strip())
    if not templates:
        raise VocabularyError("prompt is empty")
    for template in templates:
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise VocabularyError(f"prompt {template!r} has unbalanced braces ({exc})") from None
        for _literal, field, spec, conversion in fields:
            if field is not None and (field not in _PLACEHOLDERS or spec or conversion):
                raise VocabularyError(f"prompt {template!r}: only {{name}} and {{a}} may appear in braces")
    return templates


def indefinite_article(phrase: str) -> str:
    """ "a" or "an" by the sound of the first word; "" when the phrase reads as a plural ("shoes")."""
    if not phrase.strip() or _is_plural(phrase):
        return ""
    word = phrase.split()[0]
    if word in _AN_WORDS or word.startswith(_AN_PREFIXES):
        return "an"
    if word[0].isdigit():  # "an 8-ball", "an 11-year-old", "a 3d render"
        return "an" if re.match(r"8|1[18](?!\d)", word) else "a"
    if word.startswith(_A_PREFIXES):
        return "a"
    return "an" if word[0] in "aeiou" else "a"


def _is_plural(phrase: str) -> bool:
    head = phrase.split(" of ")[0].split()[-1]  # the noun that counts: "pair of shoes" -> pair
    if head in _PLURALS_WITHOUT_S:
        return True
    return (
        len(head) > 2
        and head.endswith("s")
        and not head.endswith(("ss", "us", "is", "'s"))
        and head not in _SINGULARS_WITH_S
    )


def _render(template: str, phrase: str) -> str:
    return " ".join(template.format(name=phrase, a=indefinite_article(phrase)).split())

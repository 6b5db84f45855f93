"""A tagger's vocabulary: the open one of image-text models, or a classification model's labels mapped to tags."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

from sightline.backbones import (
    Backbone,
)
from sightline.errors import VocabularyError
from sightline.tagging.common import VocabularyInput
from sightline.vocabulary import Vocabulary, imagenet_vocabulary, load_default_vocabulary

# --- vocabularies -------------------------------------------------------------------------------


def _label_key(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).lower()


class _LabelIndex:
    """Finds a classification backbone's labels by tag name, full label, or one of its aliases.

    ImageNet-style labels list aliases ("jersey, T-shirt, tee shirt"); a tag is named by the first
    alias that no other label starts with, so names stay short and unique ("crane" twice: "crane (2)").
    """

    def __init__(self, labels: Sequence[str]):
        aliases = [[_label_key(a) for a in label.split(",") if a.strip()] or [_label_key(label)] for label in labels]
        first_counts = Counter(names[0] for names in aliases)
        self.names: list[str] = [""] * len(labels)
        taken: set[str] = set()
        for i, names in enumerate(aliases):  # unique first aliases, then another alias of the label
            if first_counts[names[0]] == 1:
                self.names[i] = names[0]
            else:
                self.names[i] = next((a for a in names[1:] if a not in first_counts and a not in taken), "")
            taken.add(self.names[i])
        for i, names in enumerate(aliases):  # the rest keep their first alias, numbered when taken
            if not self.names[i]:
                self.names[i] = names[0] if names[0] not in taken else f"{names[0]} ({i})"
                taken.add(self.names[i])
        self._by_name = {name: i for i, name in enumerate(self.names)}
        self._by_label = {_label_key(label): i for i, label in enumerate(labels)}
        self._by_alias: dict[str, list[int]] = {}
        for i, names in enumerate(aliases):
            for alias in names:
                self._by_alias.setdefault(alias, []).append(i)

    def find(self, text: str, *, for_tag: str) -> int:
        key = _label_key(text)
        if key in self._by_name:
            return self._by_name[key]
        if key in self._by_label:
            return self._by_label[key]
        matches = self._by_alias.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(repr(self.names[i]) for i in matches)
            raise VocabularyError(f"tag {for_tag!r}: {text!r} names several labels of the model ({names}); pick one")
        raise VocabularyError(f"tag {for_tag!r}: {text!r} is not a label of the model")


def _open_vocabulary(vocabulary: VocabularyInput) -> Vocabulary:
    if vocabulary is None:
        return load_default_vocabulary()
    if isinstance(vocabulary, Vocabulary):
        return vocabulary
    if isinstance(vocabulary, str | os.PathLike):
        return Vocabulary.from_file(vocabulary)
    if isinstance(vocabulary, Mapping):
        raise VocabularyError(
            "a mapping of tag -> label names is for classification backbones; give an image-text model a list of tags"
        )
    return Vocabulary.from_names(vocabulary)


def _label_vocabulary(backbone: Backbone, vocabulary: VocabularyInput) -> tuple[Vocabulary, list[list[int]]]:
    """The tags of a classification backbone, and which of its labels each tag stands for."""
    if vocabulary is None:
        tags, imagenet, label_sets = imagenet_vocabulary()
        if tuple(label.strip() for label in backbone.labels) == imagenet:  # ImageNet-1k: the built-in tags
            return tags, [list(labels) for labels in label_sets]
    index = _LabelIndex(backbone.labels)
    if vocabulary is None:
        return Vocabulary.from_names(index.names), [[i] for i in range(len(index.names))]
    if isinstance(vocabulary, Mapping):
        names = list(vocabulary)
        tags = Vocabulary.from_names(names)
        if len(tags) != len(names):
            raise VocabularyError("two tags of the mapping have the same name (names ignore case and spacing)")
        mapped: list[list[int]] = []
        for tag, labels in zip(tags, vocabulary.values(), strict=True):
            if isinstance(labels, str) or not labels:
                raise VocabularyError(f"tag {tag.name!r}: map it to a non-empty list of label names")
            mapped.append(sorted({index.find(label, for_tag=tag.name) for label in labels}))
        return tags, mapped
    tags = _open_vocabulary(vocabulary)
    return tags, [[index.find(tag.name, for_tag=tag.name)] for tag in tags]

"""Writes sightline/data/imagenet_vocabulary.tsv: each of the 1,000 ImageNet labels -> one built-in tag.

Generated, then reviewed; the TSV is the data the product reads, committed. Rules, in order:
1. `OVERRIDES` (reviewed by hand: wrong automatic matches, and labels worth a tag the rules miss);
2. an alias of the label that is a vocabulary tag or synonym (singular or plural) of an allowed
   category (within ImageNet's animal block, 0-397, only animal tags: "kite" the bird is not the toy);
3. its last word ("steel arch bridge" -> bridge), same category rule;
4. the animal block's group by index (ImageNet orders its classes by WordNet: 151-268 are dogs);
5. otherwise the label is dropped: the tag is left empty, deliberately (its probability is unused).

    python scripts/build_imagenet_map.py
"""

from __future__ import annotations

from pathlib import Path

from sightline.backbones.lite import imagenet_labels
from sightline.vocabulary import load_default_vocabulary

OUT = Path(__file__).resolve().parents[1] / "sightline" / "data" / "imagenet_vocabulary.tsv"

#: ImageNet's animal block by index range (inclusive) -> the tag a label of the range falls back to.
GROUPS: tuple[tuple[int, int, str], ...] = (
    (0, 1, "fish"), (2, 4, "shark"), (5, 6, "fish"), (7, 24, "bird"), (25, 29, "amphibian"),
    (30, 32, "frog"), (33, 37, "turtle"), (38, 48, "lizard"), (49, 50, "crocodile"), (51, 51, "dinosaur"),
    (52, 68, "snake"), (69, 69, "animal"), (70, 77, "spider"), (78, 79, "animal"), (80, 86, "bird"),
    (87, 90, "parrot"), (91, 96, "bird"), (97, 98, "duck"), (99, 100, "bird"), (101, 101, "elephant"),
    (102, 106, "mammal"), (107, 112, "sea creature"), (113, 114, "animal"), (115, 117, "sea creature"),
    (118, 121, "crab"), (122, 123, "lobster"), (124, 124, "lobster"), (125, 125, "crab"),
    (126, 126, "sea creature"), (127, 144, "bird"), (145, 145, "penguin"), (146, 146, "bird"),
    (147, 148, "whale"), (149, 149, "mammal"), (150, 150, "seal"), (151, 268, "dog"), (269, 271, "wolf"),
    (272, 276, "mammal"), (277, 280, "fox"), (281, 285, "cat"), (286, 293, "mammal"), (294, 297, "bear"),
    (298, 299, "mammal"), (300, 307, "beetle"), (308, 320, "insect"), (321, 326, "butterfly"),
    (327, 329, "sea creature"), (330, 332, "rabbit"), (333, 334, "mammal"), (335, 335, "squirrel"),
    (336, 338, "mammal"), (339, 339, "horse"), (340, 340, "mammal"), (341, 343, "pig"), (344, 344, "mammal"),
    (345, 347, "cow"), (348, 349, "sheep"), (350, 350, "goat"), (351, 353, "antelope"), (354, 354, "camel"),
    (355, 364, "mammal"), (365, 382, "monkey"), (383, 384, "lemur"), (385, 386, "elephant"),
    (387, 387, "mammal"), (388, 388, "panda"), (389, 397, "fish"),
)  # fmt: skip

#: label index -> tag ("" drops it). Reviewed by hand.
OVERRIDES: dict[int, str] = {
    # wrong automatic matches (a word with another meaning)
    264: "dog", 312: "insect", 134: "bird", 21: "hawk", 673: "computer mouse", 677: "", 684: "musical instrument",
    626: "", 767: "stationery", 702: "", 705: "train", 738: "plant", 998: "corn", 736: "billiards",
    29: "salamander", 137: "bird", 442: "", 458: "", 528: "", 570: "", 584: "", 602: "", 622: "", 712: "",
    726: "tool", 743: "building",
    785: "", 807: "", 810: "keyboard", 891: "appliance", 918: "", 921: "book", 565: "train",
    # worth a tag the rules miss
    0: "fish", 8: "chicken", 7: "chicken", 24: "owl", 22: "eagle", 101: "elephant", 148: "whale",
    386: "elephant", 385: "elephant", 388: "panda", 924: "food", 925: "soup", 926: "soup", 927: "dessert",
    930: "bread", 933: "hamburger", 935: "food", 936: "cabbage", 940: "vegetable", 941: "vegetable",
    942: "vegetable", 946: "vegetable", 948: "apple", 955: "fruit", 956: "fruit", 958: "plant",
    959: "pasta", 960: "dessert", 961: "food", 962: "meal", 964: "meal", 969: "drink", 970: "mountain",
    974: "nature", 975: "lake", 976: "coast", 977: "beach", 981: "baseball", 982: "wedding", 983: "diving",
    984: "flower", 986: "flower", 988: "plant", 989: "fruit", 990: "plant", 991: "mushroom", 992: "mushroom",
    993: "mushroom", 994: "mushroom", 995: "mushroom", 996: "mushroom", 997: "mushroom",
    652: "uniform", 655: "skirt", 689: "skirt", 601: "skirt", 775: "skirt", 842: "swimwear", 638: "swimwear",
    639: "swimwear", 869: "coat", 735: "coat", 630: "shoe", 788: "shop", 865: "shop", 860: "shop",
    906: "tie", 457: "tie", 808: "hat", 793: "hat", 515: "hat", 452: "hat", 836: "sunglasses",
}  # fmt: skip


def _forms(word: str) -> list[str]:
    word = " ".join(word.replace("_", " ").split()).lower()
    forms = [word, f"{word}s", f"{word}es"]
    if word.endswith("s"):
        forms.append(word[:-1])
    return forms


def build() -> list[tuple[int, str, str]]:
    vocabulary = load_default_vocabulary()
    known = {}
    for tag in vocabulary:
        for name in (tag.name, *tag.synonyms):
            known.setdefault(name.lower(), tag)
    rows = []
    for index, label in enumerate(imagenet_labels()):
        animal = index <= 397
        allowed = lambda t, animal=animal: (t.category == "animal") == animal  # noqa: E731

        def find(words: list[str], allowed=allowed) -> str | None:
            for word in words:
                for form in _forms(word):
                    if form in known and allowed(known[form]):
                        return known[form].name
            return None

        aliases = [a for a in label.split(",") if a.strip()]
        if index in OVERRIDES:
            tag = OVERRIDES[index]
        else:
            tag = find(aliases) or find([a.split()[-1] for a in aliases if len(a.split()) > 1]) or ""
            if not tag and animal:
                tag = next(group for start, stop, group in GROUPS if start <= index <= stop)
        if tag and vocabulary.get(tag) is None:
            tag = ""  # an override naming a tag the vocabulary lacks: dropped, and the test says so
        rows.append((index, label, tag))
    return rows


def main() -> None:
    rows = build()
    header = (
        "# ImageNet-1k label -> built-in vocabulary tag, for tagging with ImageNet classifiers (efficientnet-lite*).\n"
        "# Generated by scripts/build_imagenet_map.py, then reviewed; an empty tag drops the label deliberately.\n"
        "index\tlabel\ttag\n"
    )
    OUT.write_text(header + "".join(f"{i}\t{label}\t{tag}\n" for i, label, tag in rows), encoding="utf-8")
    print(f"{sum(1 for r in rows if r[2])} of {len(rows)} labels mapped; written to {OUT}")


if __name__ == "__main__":
    main()

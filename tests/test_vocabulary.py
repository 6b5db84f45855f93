"""The default tag vocabulary (data quality), its loader, and the prompt ensembles built from it."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from sightline.errors import SightlineError, VocabularyError
from sightline.prompts import indefinite_article
from sightline.vocabulary import (
    CATEGORIES,
    CUSTOM_CATEGORY,
    Vocabulary,
    VocabularyTag,
    load_default_vocabulary,
    prompts_for,
)

HEADER = "name\tcategory\tparent\tsynonyms\tprompt\n"


@pytest.fixture(scope="module")
def default() -> Vocabulary:
    return load_default_vocabulary()


def write(tmp_path: Path, text: str, name: str = "vocabulary.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the shipped vocabulary ----------------------------------------------------------------------


def test_default_vocabulary_is_packaged_and_cached(default):
    assert (resources.files("sightline") / "data" / "vocabulary.tsv").is_file()
    assert load_default_vocabulary() is default


def test_default_vocabulary_is_large_with_unique_lowercase_names(default):
    names = default.names()
    assert len(default) == len(names) >= 1000
    assert len(set(names)) == len(names)
    for name in names:
        assert name == " ".join(name.split()).lower(), name


def test_default_vocabulary_uses_every_fixed_category_and_nothing_else(default):
    assert {tag.category for tag in default} == set(CATEGORIES)
    assert default.categories == CATEGORIES
    assert 12 <= len(CATEGORIES) <= 16


def test_every_parent_exists_and_no_tag_is_its_own_ancestor(default):
    for tag in default:
        if tag.parent is not None:
            assert tag.parent in default, tag
        chain = default.ancestors(tag.name)
        assert tag.name not in chain
        assert len(chain) == len(set(chain)) < 10


def test_synonyms_are_unique_and_never_another_tags_name(default):
    """A synonym shared by two tags, or equal to another tag, would blur both tags' text embeddings."""
    seen: dict[str, str] = {}
    for tag in default:
        for synonym in tag.synonyms:
            assert synonym not in default, (tag.name, synonym)
            assert synonym not in seen, (tag.name, seen.get(synonym), synonym)
            seen[synonym] = tag.name


@pytest.mark.parametrize("root", ["animal", "food", "outdoor", "indoor", "vehicle", "plant", "person", "clothing"])
def test_top_level_nodes_are_tags(default, root):
    assert default.get(root) is not None
    assert default.get(root).parent is None


@pytest.mark.parametrize(
    ("name", "broader"),
    [
        ("golden retriever", "dog"),
        ("dog", "animal"),
        ("beach", "outdoor"),
        ("kitchen", "indoor"),
        ("sunset", "sky"),
        ("pizza", "food"),
        ("jeans", "clothing"),
        ("rose", "plant"),
        ("school bus", "vehicle"),
    ],
)
def test_hierarchy_rolls_up(default, name, broader):
    assert broader in default.ancestors(name)


def test_ancestors_are_nearest_first(default):
    assert default.ancestors("golden retriever") == ["dog", "mammal", "animal"]
    assert default.ancestors("animal") == []
    assert default.ancestors("Golden Retriever") == default.ancestors("golden retriever")
    with pytest.raises(VocabularyError, match="unknown tag 'unicorn'"):
        default.ancestors("unicorn")


def test_every_default_tag_has_several_clean_prompts(default):
    for tag in default:
        prompts = prompts_for(tag)
        assert len(prompts) >= 2, tag.name
        assert len(set(prompts)) == len(prompts)
        for prompt in prompts:
            assert "{" not in prompt and "  " not in prompt and prompt == prompt.strip(), prompt


def test_default_prompts_choose_a_or_an_by_sound(default):
    """Every "a" before a vowel letter and "an" before a consonant letter is a known exception."""
    for tag in default:
        for prompt in prompts_for(tag):
            for word in re.findall(r"\ba ([aeiou][\w-]*)", prompt):
                assert word.startswith(("uni", "uku", "use", "eu", "one")), prompt
            for word in re.findall(r"\ban ([^aeiou\W][\w-]*)", prompt):
                assert word in {"suv", "rv", "x-ray"} or word.startswith(("hour", "honest", "heir")), prompt


def test_custom_prompts_replace_the_default_phrasing(default):
    assert prompts_for(default.get("night"))[0] == "a photo taken at night."
    assert "a photo of a night." not in prompts_for(default.get("night"))
    assert "a photo taken outdoors." in prompts_for(default.get("outdoor"))


# -- the Vocabulary container --------------------------------------------------------------------


def test_container_protocol(default):
    assert "dog" in default and "Dog" in default and "no such tag" not in default and 3 not in default
    assert [tag.name for tag in default][:3] == default.names()[:3]
    assert default.get("DOG") is default.get("dog")
    assert default.get("no such tag") is None
    assert isinstance(default.tags, tuple)
    assert "tags" in repr(default)


def test_filter_by_category(default):
    animals = default.filter(categories=["animal"])
    assert animals.categories == ("animal",)
    assert len(animals) == sum(tag.category == "animal" for tag in default)
    two = default.filter(categories=("color", "weather"))
    assert set(two.categories) == {"color", "weather"}
    # "sky" (weather) hangs from "outdoor" (scene), which is filtered out: it becomes a root.
    assert two.get("sky").parent is None
    assert two.ancestors("sunset") == ["sky"]


def test_filter_include_takes_whole_subtrees_and_rehangs_orphans(default):
    dogs = default.filter(include=["dog"])
    assert {"dog", "puppy", "golden retriever", "siberian husky"} <= set(dogs.names())
    assert "cat" not in dogs and "mammal" not in dogs
    assert dogs.get("dog").parent is None
    assert dogs.ancestors("golden retriever") == ["dog"]
    assert default.filter(include="cat").get("kitten") is not None


def test_filter_exclude_removes_whole_subtrees(default):
    no_animals = default.filter(exclude=["animal"])
    assert "dog" not in no_animals and "golden retriever" not in no_animals and "animal" not in no_animals
    assert "pizza" in no_animals
    assert len(no_animals) == len(default) - len(default.filter(include=["animal"]))


def test_filters_combine(default):
    vocabulary = default.filter(categories=["animal"], include=["mammal"], exclude=["cat"])
    names = set(vocabulary.names())
    assert "dog" in names and "elephant" in names
    assert "cat" not in names and "kitten" not in names and "eagle" not in names
    assert vocabulary.categories == ("animal",)


def test_filter_rejects_unknown_names_and_categories(default):
    with pytest.raises(VocabularyError, match="unknown categories: spaceship"):
        default.filter(categories=["animal", "spaceship"])
    with pytest.raises(VocabularyError, match="unknown tag 'dgo'"):
        default.filter(include=["dgo"])
    with pytest.raises(VocabularyError, match="unknown tag 'kat'"):
        default.filter(exclude=["kat"])


def test_constructor_checks_the_graph():
    with pytest.raises(VocabularyError, match=r"tag #2: tag 'a' is defined twice \(first at tag #1\)"):
        Vocabulary([VocabularyTag("a", "object"), VocabularyTag("a", "object")])
    with pytest.raises(VocabularyError, match="parent 'ghost' of 'a' is not a tag"):
        Vocabulary([VocabularyTag("a", "object", parent="ghost")])
    with pytest.raises(VocabularyError, match="cycle: a -> b -> a"):
        Vocabulary([VocabularyTag("a", "object", parent="b"), VocabularyTag("b", "object", parent="a")])
    assert len(Vocabulary([])) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Dog", "category": "animal"}, "must be lowercase"),
        ({"name": "", "category": "animal"}, "tag name is empty"),
        ({"name": "dog", "category": "animal", "synonyms": ("a;b",)}, "contains ';'"),
        ({"name": "dog", "category": "beast"}, "unknown category 'beast'"),
        ({"name": "dog", "category": "animal", "parent": "dog"}, "its own parent"),
        ({"name": "dog", "category": "animal", "synonyms": ("dog",)}, "repeats the name"),
        ({"name": "dog", "category": "animal", "synonyms": ("hound", "hound")}, "listed twice"),
        ({"name": "dog", "category": "animal", "prompt": "a {colour} dog"}, "only {name} and {a}"),
        ({"name": "dog", "category": "animal", "prompt": "a {name dog"}, "unbalanced braces"),
        ({"name": "dog", "category": "animal", "prompt": " ; "}, "prompt is empty"),
    ],
)
def test_tag_fields_are_validated(kwargs, message):
    with pytest.raises(VocabularyError, match=re.escape(message)):
        VocabularyTag(**kwargs)


# -- prompts -------------------------------------------------------------------------------------


def test_prompt_ensemble_has_several_phrasings_over_name_and_synonyms():
    prompts = prompts_for(VocabularyTag("dog", "animal", synonyms=("hound",)))
    assert 4 <= len([p for p in prompts if "dog" in p]) <= 7
    assert "a photo of a dog." in prompts and "a photo of a hound." in prompts
    assert prompts.index("a photo of a dog.") < prompts.index("a photo of a hound.")  # the name first


@pytest.mark.parametrize(
    ("phrase", "article"),
    [
        ("dog", "a"),
        ("apple", "an"),
        ("umbrella", "an"),
        ("hourglass", "an"),
        ("honest mistake", "an"),
        ("unicorn", "a"),
        ("uniform", "a"),
        ("european robin", "a"),
        ("one-way sign", "a"),
        ("suv", "an"),
        ("x-ray", "an"),
        ("8-ball", "an"),
        ("3d render", "a"),
        ("shoes", ""),
        ("pair of shoes", "a"),
        ("people", ""),
        ("bus", "a"),
        ("glass", "a"),
        ("cactus", "a"),
        ("", ""),
    ],
)
def test_indefinite_article(phrase, article):
    assert indefinite_article(phrase) == article


def test_prompts_use_the_right_article_and_drop_it_for_plurals():
    assert "a photo of an umbrella." in prompts_for(VocabularyTag("umbrella", "object"))
    assert "a photo of a unicorn." in prompts_for(VocabularyTag("unicorn", CUSTOM_CATEGORY))
    assert "a photo of shoes." in prompts_for(VocabularyTag("shoes", CUSTOM_CATEGORY))


def test_category_templates_fit_the_kind_of_word():
    assert "a photo of a person cooking." in prompts_for(VocabularyTag("cooking", "activity"))
    assert "a photo of rice." in prompts_for(VocabularyTag("rice", "food"))
    assert "a blurry photo." in prompts_for(VocabularyTag("blurry", "attribute"))
    assert "a photo of a person wearing a scarf." in prompts_for(VocabularyTag("scarf", "clothing"))
    assert "a photo taken at a wedding." in prompts_for(VocabularyTag("wedding", "event"))


def test_custom_prompt_templates_with_and_without_placeholders():
    fog = VocabularyTag("fog", "weather", synonyms=("mist",), prompt="a photo of {name}.;{a} {name} over a valley.")
    assert prompts_for(fog) == [
        "a photo of fog.",
        "a fog over a valley.",
        "a photo of mist.",
        "a mist over a valley.",
    ]
    night = VocabularyTag("night", "weather", synonyms=("nighttime",), prompt="a photo taken at night.")
    assert prompts_for(night) == ["a photo taken at night."]


# -- from_names ----------------------------------------------------------------------------------


def test_from_names_normalises_and_has_no_parents():
    vocabulary = Vocabulary.from_names(["Golden_Retriever", "  night  ", "blue widget", "golden retriever"])
    assert vocabulary.names() == ["golden retriever", "night", "blue widget"]
    assert all(tag.parent is None for tag in vocabulary)
    assert vocabulary.ancestors("golden retriever") == []
    assert vocabulary.get("Blue Widget").category == CUSTOM_CATEGORY


def test_from_names_reuses_known_phrasing(default):
    vocabulary = Vocabulary.from_names(["night", "shoes", "t-shirt"])
    assert prompts_for(vocabulary.get("night")) == prompts_for(default.get("night"))
    shoes = vocabulary.get("shoes")  # a synonym of "shoe" in the default vocabulary
    assert shoes.category == "clothing" and "shoe" in shoes.synonyms
    assert prompts_for(shoes)[0] == "a photo of shoes."
    assert "a photo of a person wearing a t-shirt." in prompts_for(vocabulary.get("t-shirt"))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "at least one tag"),
        (["dog", "  "], "tag name is empty"),
        (["dog", 7], "must be text"),
        (["x" * 201], "longer"),
    ],
)
def test_from_names_rejects_bad_names(names, message):
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.from_names(names)


def test_from_names_accepts_a_single_string_and_any_punctuation():
    assert Vocabulary.from_names("dog").names() == ["dog"]
    assert Vocabulary.from_names(["red; blue", "{odd}"]).names() == ["red; blue", "{odd}"]
    assert prompts_for(Vocabulary.from_names(["{odd}"]).get("{odd}"))[0] == "a photo of a {odd}."


# -- from_file -----------------------------------------------------------------------------------


def test_from_file_reads_tsv_with_comments_blank_lines_and_short_rows(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "# pets\n"
        + "animal\tanimal\t\t\t\n"
        + "\n"
        + "dog\tanimal\tanimal\thound;doggo\t\n"
        + "puppy\tanimal\tdog\n"
        + "night\tweather\t\t\ta photo taken at night.;a night scene.\n",
    )
    vocabulary = Vocabulary.from_file(path)
    assert vocabulary.names() == ["animal", "dog", "puppy", "night"]
    assert vocabulary.get("dog").synonyms == ("hound", "doggo")
    assert vocabulary.ancestors("puppy") == ["dog", "animal"]
    assert prompts_for(vocabulary.get("night")) == ["a photo taken at night.", "a night scene."]
    assert Vocabulary.from_file(str(path)).names() == vocabulary.names()


def test_from_file_reads_plain_text(tmp_path):
    path = write(tmp_path, "\ufeffRed Car\n# a comment\n\nbicycle\r\nnight\n", name="tags.txt")
    vocabulary = Vocabulary.from_file(path)
    assert vocabulary.names() == ["red car", "bicycle", "night"]
    assert vocabulary.get("red car").category == CUSTOM_CATEGORY
    assert vocabulary.get("bicycle").category == "vehicle"
    assert all(tag.parent is None for tag in vocabulary)


def test_from_file_reads_the_default_file_format(tmp_path, default):
    text = (resources.files("sightline") / "data" / "vocabulary.tsv").read_text(encoding="utf-8")
    assert Vocabulary.from_file(write(tmp_path, text)).names() == default.names()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no tags"),
        ("# only a comment\n", "no tags"),
        (HEADER, "no tags after the header"),
        ("name\tcategory\n", "line 1: expected the header"),
        ("dog\tanimal\t\t\t\n", "line 1: expected the header"),
        (HEADER + "dog\tanimal\t\t\t\textra\n", "line 2: 6 columns"),
        (HEADER + "dog\n", "line 2: tag 'dog' has no category"),
        (HEADER + "dog\tbeast\t\t\t\n", "line 2: tag 'dog': unknown category 'beast'"),
        (HEADER + "Dog\tanimal\t\t\t\n", "line 2: tag name 'Dog' must be lowercase"),
        (HEADER + "dog\tanimal\tanimal\t\t\n", "line 2: parent 'animal' of 'dog' is not a tag"),
        (HEADER + "dog\tanimal\t\t\t\n\ndog\tanimal\t\t\t\n", "line 4: tag 'dog' is defined twice"),
        (HEADER + "a\tobject\tb\t\t\nb\tobject\ta\t\t\n", "line 2: parents form a cycle: a -> b -> a"),
        (HEADER + "dog\tanimal\t\tDoggo\t\n", "line 2: synonym 'Doggo' must be lowercase"),
        (HEADER + "dog\tanimal\t\t\ta {breed} dog\n", "line 2: prompt 'a {breed} dog'"),
        ("dog\ncat\ndog\n", "line 3: tag 'dog' is listed twice (first on line 1)"),
        ("dog\ncat\tanimal\n", "line 2: a tab in a list of names"),
        ("dog\n" + "x" * 201 + "\n", "line 2: tag name"),
    ],
)
def test_bad_files_name_the_line_and_the_fault(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(VocabularyError, match=re.escape(message)) as caught:
        Vocabulary.from_file(path)
    assert str(path) in str(caught.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(VocabularyError, match="vocabulary file not found"):
        Vocabulary.from_file(tmp_path / "missing.tsv")
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\xff\xfe\x00dog")
    with pytest.raises(VocabularyError, match="cannot read vocabulary file"):
        Vocabulary.from_file(binary)
    with pytest.raises(VocabularyError, match="cannot read vocabulary file"):
        Vocabulary.from_file(tmp_path)


def test_vocabulary_error_is_a_bad_request():
    assert issubclass(VocabularyError, SightlineError)
    assert VocabularyError.code == "BadRequest"

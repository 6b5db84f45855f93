"""Custom Vision's image metadata filter (`$filter`): its grammar, its errors, and the images it keeps
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from sightline.errors import InvalidRequestError
from sightline.service import Workspace, images, projects, tags
from sightline.service.images import NewImage
from sightline.service.metadata_filter import MAX_COMPARISONS, AllOf, AnyOf, Comparison, parse
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg

# --- grammar ------------------------------------------------------------------------------------


def test_the_specs_example_parses_with_and_without_its_metadata_prefix():
    expected = AllOf((Comparison("key1", "value1"), Comparison("key2", "value2", negated=True)))
    assert parse("key1 eq 'value1' and key2 ne 'value2'") == expected
    assert parse("metadata=key1 eq 'value1' and key2 ne 'value2'") == expected


def test_and_binds_tighter_than_or():
    a, b, c = Comparison("a", "1"), Comparison("b", "2"), Comparison("c", "3", negated=True)
    assert parse("a eq '1' or b eq '2' and c ne '3'") == AnyOf((a, AllOf((b, c))))
    assert parse("a eq '1' and b eq '2' or c ne '3'") == AnyOf((AllOf((a, b)), c))
    assert parse("a eq '1' or b eq '2' or c ne '3'") == AnyOf((a, b, c))


def test_quoted_values_keep_spaces_and_double_their_quotes():
    assert parse("note eq 'it''s   two words'") == Comparison("note", "it's   two words")
    assert parse("note eq ''''") == Comparison("note", "'")
    assert parse("note eq ''") == Comparison("note", "")
    assert parse("  line-3.cam_2 EQ 'x'  AND b Ne 'y'") == AllOf(
        (Comparison("line-3.cam_2", "x"), Comparison("b", "y", True))
    )


def test_an_empty_filter_is_no_filter():
    assert parse("") is None and parse("   ") is None and parse("metadata=") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("camera gt 'a'", "unknown operator 'gt' at character 8: use eq or ne"),
        ("camera eq a", "expected a value in single quotes after 'eq', such as 'value1', found 'a' at character 11"),
        ("camera eq", "expected a value in single quotes after 'eq', such as 'value1', found the end (character 10)"),
        ("camera eq 'a", "the quoted value starting at character 11 has no closing quote"),
        ("camera eq 'it''s", "the quoted value starting at character 11 has no closing quote"),
        ("camera", "expected eq or ne after the key 'camera', found the end (character 7)"),
        ("camera 'a'", "expected eq or ne after the key 'camera', found the quoted value 'a' at character 8"),
        ("'camera' eq 'a'", "expected a metadata key (a bare word, such as key1), found the quoted value 'camera'"),
        ("camera eq 'a' and", "expected a metadata key (a bare word, such as key1), found the end (character 18)"),
        ("camera eq 'a' xor b eq 'c'", "expected 'and', 'or' or the end of the filter, found 'xor' at character 15"),
        ("camera eq 'a' 'b'", "found the quoted value 'b' at character 15"),
        ("(camera eq 'a')", "parentheses are not supported (character 1)"),
        ("camera eq 'a' or (b eq 'c')", "parentheses are not supported (character 18)"),
        ("camera eq 'a\x00'", "character 13 is a NUL"),
    ],
)
def test_malformed_filters_say_what_is_wrong_and_where(text: str, message: str):
    with pytest.raises(InvalidRequestError) as info:
        parse(text)
    assert info.value.code == "BadRequest"
    assert str(info.value).startswith("$filter: ") and message in str(info.value)


def test_a_filter_has_a_bounded_number_of_comparisons():
    assert isinstance(parse(" or ".join([f"k eq '{i}'" for i in range(MAX_COMPARISONS)])), AnyOf)
    with pytest.raises(InvalidRequestError, match=f"at most {MAX_COMPARISONS} comparisons"):
        parse(" or ".join([f"k eq '{i}'" for i in range(MAX_COMPARISONS + 1)]))


# --- the images it keeps ------------------------------------------------------------------------


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


@pytest.fixture
def cameras(ws: Workspace) -> tuple[str, dict[str, str]]:
    """A project of five images: {name: id}, with metadata as named (none on "bare")."""
    project = projects.create_project(ws, "Cameras", domain="tiny")
    tags.create_tag(ws, project.id, "circle")
    metadata = {
        "a": {"camera": "line-3", "shift": "night"},
        "b": {"camera": "line-3", "shift": "day"},
        "c": {"camera": "Line-3", "note": "it's fine"},
        "d": {"camera": "line-4", "shift": "night"},
        "bare": {},
    }
    batch = [
        NewImage(to_jpeg(make_image(["circle"], seed=i)), name=name, metadata=values, tags=["circle"] if i < 2 else [])
        for i, (name, values) in enumerate(metadata.items())
    ]
    added = images.add_images(ws, project.id, batch)
    return project.id, {r.source: r.image.id for r in added}


def _names(ws: Workspace, project_id: str, ids: dict[str, str], text: str, **options) -> set[str]:
    by_id = {image_id: name for name, image_id in ids.items()}
    listed = {by_id[view.id] for view in images.list_images(ws, project_id, metadata_filter=text, **options)}
    assert images.count_images(ws, project_id, metadata_filter=text, **options) == len(listed)
    return listed


def test_eq_ne_and_or_select_images_by_their_metadata(ws, cameras):
    project_id, ids = cameras
    assert _names(ws, project_id, ids, "camera eq 'line-3'") == {"a", "b"}  # values compare exactly: not "Line-3"
    assert _names(ws, project_id, ids, "Camera eq 'line-3'") == set()  # keys too
    assert _names(ws, project_id, ids, "camera ne 'line-3'") == {"c", "d", "bare"}  # no key: ne holds
    assert _names(ws, project_id, ids, "camera eq 'line-3' and shift ne 'day'") == {"a"}
    assert _names(ws, project_id, ids, "camera eq 'line-4' or shift eq 'day'") == {"b", "d"}
    assert _names(ws, project_id, ids, "shift eq 'day' or camera eq 'line-3' and shift eq 'night'") == {"a", "b"}
    assert _names(ws, project_id, ids, "note eq 'it''s fine'") == {"c"}
    assert _names(ws, project_id, ids, "metadata=camera eq 'line-4'") == {"d"}
    assert _names(ws, project_id, ids, "") == set(ids)


def test_the_filter_combines_with_tagging_status_tags_and_paging(ws, cameras):
    project_id, ids = cameras
    assert _names(ws, project_id, ids, "camera eq 'line-3'", tagged=False) == set()
    assert _names(ws, project_id, ids, "camera ne 'line-4'", tagged=False) == {"c", "bare"}
    assert _names(ws, project_id, ids, "shift eq 'night'", tag_ids=["circle"]) == {"a"}
    oldest = images.list_images(ws, project_id, metadata_filter="camera ne 'x'", newest_first=False, take=2, skip=1)
    assert [view.id for view in oldest] == [ids["b"], ids["c"]]
    with pytest.raises(InvalidRequestError, match="character 8"):
        images.count_images(ws, project_id, metadata_filter="camera in ('a')")


@pytest.mark.parametrize("metadata", [{"camera": "line\x003"}, {"cam\x00era": "line-3"}])
def test_metadata_holding_a_nul_is_refused_alike_on_every_database(ws, cameras, metadata):
    project_id, ids = cameras
    with pytest.raises(InvalidRequestError, match="NUL") as info:
        images.set_metadata(ws, project_id, ids["bare"], metadata)
    assert info.value.code == "BadRequestImageMetadataValue"
    assert images.get_images(ws, project_id, [ids["bare"]])[0].metadata == {}

"""Managing a project from the command line: tags renamed, merged, described and deleted; settings changed."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_workflow import cli_home, one_line_error, run, run_main, write_shapes  # noqa: F401 (fixture)


def _tags(project: str) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads(run("tags", "list", project, "--json").stdout)}


def test_a_mistyped_tag_is_renamed_merged_or_deleted(tmp_path: Path, capsys, monkeypatch) -> None:
    run("projects", "create", "Shop", "--domain", "tiny")
    paths = write_shapes(tmp_path / "photos", ["circle", "square"], 3)
    for name in ("circle", "sqaure", "shoees"):
        run("tags", "create", "Shop", name)
    run("images", "add", "Shop", *map(str, paths["circle"]), "--tag", "circle")
    run("images", "add", "Shop", *map(str, paths["square"][:2]), "--tag", "sqaure")
    run("images", "add", "Shop", str(paths["square"][2]), "--tag", "shoees")

    out = run("tags", "rename", "Shop", "sqaure", "square").stdout
    assert "renamed tag 'sqaure' to 'square' (2 images)" in out
    run("tags", "update", "Shop", "square", "--description", "four equal sides")
    assert _tags("Shop")["square"]["description"] == "four equal sides"

    out = run("tags", "merge", "Shop", "shoees", "square").stdout
    assert "merged 'shoees' (1 images) into 'square', now on 3" in out
    assert set(_tags("Shop")) == {"circle", "square"}
    listed = json.loads(run("images", "list", "Shop", "--json").stdout)
    assert {t["name"]: t["image_count"] for i in listed for t in i["tags"]} == {"circle": 3, "square": 3}

    refused = run("tags", "delete", "Shop", "circle", code=1)  # images carry it: ask first, never guess
    assert "3 images" in refused.stderr and "no image is deleted" in " ".join(refused.stderr.split())
    out = run("tags", "delete", "Shop", "circle", "--yes").stdout
    assert "it was on 3 images" in out
    assert len(json.loads(run("images", "list", "Shop", "--json").stdout)) == 6  # the images stay
    run("tags", "create", "Shop", "empty")
    run("tags", "delete", "Shop", "empty")  # on no image: nothing to ask

    code, _, err = run_main(capsys, monkeypatch, "tags", "rename", "Shop", "square", "SQUARE ")
    assert code == 0
    code, _, err = run_main(capsys, monkeypatch, "tags", "merge", "Shop", "SQUARE", "square")
    assert code == 1 and "into itself" in one_line_error(err)
    code, _, err = run_main(capsys, monkeypatch, "tags", "rename", "Shop", "nope", "x")
    assert code == 1 and "no tag 'nope'" in one_line_error(err)
    code, _, err = run_main(capsys, monkeypatch, "tags", "update", "Shop", "SQUARE")
    assert code == 2 and "nothing to change" in one_line_error(err)


def test_merging_a_negative_tag_into_a_regular_one_is_refused(capsys, monkeypatch) -> None:
    run("projects", "create", "Shop", "--domain", "tiny")
    run("tags", "create", "Shop", "none", "--negative")
    run("tags", "create", "Shop", "shoes")
    code, _, err = run_main(capsys, monkeypatch, "tags", "merge", "Shop", "none", "shoes")
    assert code == 1 and "cannot merge the Negative tag 'none'" in one_line_error(err)


def test_projects_update_changes_the_settings(capsys, monkeypatch) -> None:
    run("projects", "create", "Shop", "--domain", "tiny")
    out = run("projects", "update", "Shop", "--name", "Shoe shop", "--description", "shelves", "--threshold", "0.7")
    assert "updated project 'Shoe shop'" in out.stdout
    shown = json.loads(run("projects", "show", "Shoe shop", "--json").stdout)
    assert (shown["description"], shown["threshold"]) == ("shelves", 0.7)

    out = run("projects", "update", "Shoe shop", "--domain", "tiny:1").stdout
    assert "every image is embedded again at the next training" in " ".join(out.split())
    assert json.loads(run("projects", "show", "Shoe shop", "--json").stdout)["domain"] == "tiny:1"
    run("projects", "update", "Shoe shop", "--group-key", "item")
    assert json.loads(run("projects", "show", "Shoe shop", "--json").stdout)["group_key"] == "item"
    run("projects", "update", "Shoe shop", "--group-key", "")
    assert json.loads(run("projects", "show", "Shoe shop", "--json").stdout)["group_key"] is None

    code, _, err = run_main(capsys, monkeypatch, "projects", "update", "Shoe shop", "--domain", "onnx:missing.onnx")
    assert code == 1 and "cannot be used: ONNX model not found" in one_line_error(err)
    assert json.loads(run("projects", "show", "Shoe shop", "--json").stdout)["domain"] == "tiny:1"  # unchanged
    code, _, err = run_main(capsys, monkeypatch, "projects", "update", "Shoe shop")
    assert code == 2 and "nothing to change" in one_line_error(err)
    code, _, err = run_main(capsys, monkeypatch, "projects", "update", "Shoe shop", "--threshold", "2")
    assert code == 2
    run("projects", "create", "Other", "--domain", "tiny")
    code, _, err = run_main(capsys, monkeypatch, "projects", "update", "Other", "--name", "Shoe shop")
    assert code == 1 and "already exists" in one_line_error(err)


def _commands(group, path=()):
    """Every command of the CLI as its argument path: ("tags", "merge"), ("train",) ..."""
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "commands", None):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def test_help_shows_no_types_for_flags_and_one_name_for_tags(monkeypatch) -> None:
    import typer.main

    from sightline.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    commands = list(_commands(typer.main.get_command(app)))
    assert ("tags", "merge") in commands and ("projects", "update") in commands
    for path in commands:
        text = run(*path, "--help").stdout
        assert "<bool>" not in text, path
        assert "--tags" not in text.replace("--tag,--tags", "").replace("--tags-file", ""), path  # `--tag` everywhere

"""Settings: a bad SIGHTLINE_* value is one line naming the variable and what it accepts, exit 2, at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sightline.api.bodies import max_request_bytes
from sightline.api.ratelimit import RateLimiter
from sightline.config import SETTINGS, check_environment, env_flag, env_int, settings_markdown
from sightline.errors import ConfigError
from sightline.http.fetch import FetchPolicy
from sightline.store import BlobStore

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "value", "accepts"),
    [
        ("SIGHTLINE_MAX_REQUEST_BYTES", "1e6", "a whole number of at least 1"),
        ("SIGHTLINE_MAX_REQUEST_BYTES", "0", "a whole number of at least 1"),
        ("SIGHTLINE_RATE_LIMIT", "abc", "a number of at least 0"),
        ("SIGHTLINE_RATE_LIMIT", "-1", "a number of at least 0"),
        ("SIGHTLINE_URL_TIMEOUT_SECONDS", "nan", "a number of at least 0.001"),
        ("SIGHTLINE_MAX_IMAGE_PIXELS", "50M", "a whole number of at least 1"),
        ("SIGHTLINE_THREADS", "2.5", "a whole number of at least 1"),
        ("SIGHTLINE_ALLOW_PRIVATE_URLS", "maybe", "1/true/yes or 0/false/no"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_accepts(name: str, value: str, accepts: str):
    with pytest.raises(ConfigError) as caught:
        check_environment({name: value})
    assert str(caught.value) == f"{name}={value!r} is not valid: use {accepts}"


def test_good_values_and_unset_ones_pass(monkeypatch):
    check_environment(
        {"SIGHTLINE_MAX_REQUEST_BYTES": "1000000", "SIGHTLINE_RATE_LIMIT": "2.5", "SIGHTLINE_THREADS": ""}
    )
    monkeypatch.setenv("SIGHTLINE_ALLOW_PRIVATE_URLS", "Yes")
    monkeypatch.setenv("SIGHTLINE_MAX_TAGS_PER_IMAGE", " 7 ")
    assert env_flag("SIGHTLINE_ALLOW_PRIVATE_URLS") is True
    assert env_int("SIGHTLINE_MAX_TAGS_PER_IMAGE", 100) == 7


def test_every_reader_uses_the_same_parser(monkeypatch):
    """No reader parses on its own: a bad value read late is the same ConfigError, never a 500."""
    monkeypatch.setenv("SIGHTLINE_MAX_REQUEST_BYTES", "1e6")
    with pytest.raises(ConfigError, match="SIGHTLINE_MAX_REQUEST_BYTES"):
        max_request_bytes()
    monkeypatch.setenv("SIGHTLINE_RATE_LIMIT", "abc")
    with pytest.raises(ConfigError, match="SIGHTLINE_RATE_LIMIT"):
        RateLimiter.from_env()
    monkeypatch.setenv("SIGHTLINE_URL_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ConfigError, match="SIGHTLINE_URL_TIMEOUT_SECONDS"):
        FetchPolicy.from_env()


def test_every_declared_setting_says_what_it_does():
    assert all(setting.help for setting in SETTINGS.values())


def test_an_unknown_blob_store_protocol_is_a_config_error():
    with pytest.raises(ConfigError, match=r"SIGHTLINE_BLOB_URL.*Protocol not known: nope"):
        BlobStore("nope://bucket")


@pytest.mark.parametrize(("name", "value"), [("SIGHTLINE_MAX_REQUEST_BYTES", "1e6"), ("SIGHTLINE_RATE_LIMIT", "abc")])
def test_the_server_does_not_start_on_a_bad_value(tmp_path: Path, name: str, value: str):
    env = {**os.environ, "SIGHTLINE_HOME": str(tmp_path), name: value}
    done = subprocess.run(
        [sys.executable, "-m", "sightline.cli", "serve", "--port", "1"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}={value!r} is not valid: use "), done.stderr


def test_text_settings_keep_their_rule():
    with pytest.raises(ConfigError) as caught:
        check_environment({"SIGHTLINE_AZURE_DOMAINS": "General"})
    assert (
        str(caught.value)
        == "SIGHTLINE_AZURE_DOMAINS='General' is not valid: use `name=backbone` pairs separated by `;`"
    )
    check_environment({"SIGHTLINE_AZURE_DOMAINS": "General=tiny; Food=tiny;", "SIGHTLINE_HOME": "~/x"})


def test_declared_defaults_are_what_the_readers_use(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert max_request_bytes() == SETTINGS["SIGHTLINE_MAX_REQUEST_BYTES"].default == 256 * 1024 * 1024
    assert RateLimiter.from_env().rate == SETTINGS["SIGHTLINE_RATE_LIMIT"].default == 0.0
    assert env_int("SIGHTLINE_MAX_TAGS_PER_IMAGE") == 100 and env_int("SIGHTLINE_THREADS", 3) == 3
    assert FetchPolicy.from_env().timeout_seconds == SETTINGS["SIGHTLINE_URL_TIMEOUT_SECONDS"].default == 15.0


def test_the_readme_settings_table_is_generated_from_the_settings():
    """Run `python scripts/settings_table.py` after declaring or changing a setting."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme
    for name in SETTINGS:
        assert readme.count(f"| `{name}` |") == 1, name


def test_no_module_reads_the_environment_but_config():
    """Every setting is declared in SETTINGS and read through it (so it is checked at start-up and documented)."""
    package = REPOSITORY / "sightline"
    readers = [
        str(path.relative_to(REPOSITORY))
        for path in package.rglob("*.py")
        if path.name != "config.py" and ("os.environ" in (text := path.read_text()) or "getenv(" in text)
    ]
    assert readers == []


def test_the_app_factory_refuses_a_bad_value(monkeypatch):
    from sightline.app import create_app

    monkeypatch.setenv("SIGHTLINE_MAX_REQUEST_BYTES", "1e6")
    with pytest.raises(ConfigError, match="SIGHTLINE_MAX_REQUEST_BYTES"):
        create_app(start_worker=False, backbones=["tiny"])

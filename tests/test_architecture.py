"""Guards on the shape of the package: its public surface and the direction of its imports.

The layers are DESIGN.md's (ARCHITECTURE.md lists them): each may import its own layer and the ones
below it, never one above. Imports are read with `ast`, lazy ones inside functions and `TYPE_CHECKING`
blocks included, so a shortcut cannot hide in a function body.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import sightline

PACKAGE = Path(sightline.__file__).resolve().parent

#: Lowest first. A top-level module or subpackage of `sightline` missing here fails the test: place it.
LAYERS: list[set[str]] = [
    # settings, the exception tree, Azure's words, metrics, log format, the image formats and their decoders
    {"config", "errors", "codes", "telemetry", "logs", "_image_formats", "_turbo_jpeg"},
    {"imaging", "synthetic"},  # bytes -> validated pixels; generated photos for tests and the demo
    {"backbones", "learn", "finetune"},  # image encoders; estimators on embeddings; fine-tuning the encoders
    {"classifier", "tagging", "vocabulary", "prompts", "export", "__init__"},  # the engine's front doors
    {"store"},  # persistence: SQL rows, migrations, blobs, job rows
    {"service", "reporting", "batch", "migration"},  # use cases, free of HTTP
    {"http"},  # what the API and the web share
    {"api", "web"},  # the HTTP front ends
    {"app", "commands", "cli", "demo"},  # the app factory and the command line
]
#: Front ends reach the engine and the store through `service` only (the service's typed views).
FRONT_ENDS = {"http", "api", "web", "app", "commands", "cli", "demo"}
ENGINE = {"backbones", "learn", "finetune", "classifier", "tagging", "export", "store"}
#: Pairs in one layer that must not import each other.
APART = {("api", "web"), ("web", "api")}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> list[tuple[str, str, str]]:
    """(importing component, imported component, where) for every `sightline.*` import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _component(".".join(relative.parts)) if len(relative.parts) > 1 else "__init__"
        if source == "__init__" and path.parent != PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                base = node.module
                targets = [f"{base}.{a.name}" for a in node.names] if base == "sightline" else [base]
            else:
                continue
            for target in targets:
                if target.startswith("sightline.") and (imported := _component(target)) != source:
                    found.append((source, imported, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"))
    return found


def _layer(component: str) -> int:
    for index, layer in enumerate(LAYERS):
        if component in layer:
            return index
    raise AssertionError(f"sightline.{component} is in no layer of tests/test_architecture.py: place it")


def test_every_module_has_a_layer():
    names = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    for name in names:
        _layer(name)


def test_no_import_goes_up_a_layer():
    wrong = [
        f"{where}: {source} imports {imported}"
        for source, imported, where in _imports()
        if _layer(imported) > _layer(source)
    ]
    assert wrong == []


def test_api_and_web_do_not_import_each_other():
    wrong = [
        f"{where}: {source} imports {imported}" for source, imported, where in _imports() if (source, imported) in APART
    ]
    assert wrong == []


def test_front_ends_reach_the_engine_through_the_service():
    wrong = [
        f"{where}: {source} imports {imported}"
        for source, imported, where in _imports()
        if source in FRONT_ENDS and imported in ENGINE
    ]
    assert wrong == []


def test_the_public_api_is_what_all_says():
    """As httpx: every name in `sightline.__all__` resolves, and every public name is in `__all__`."""
    public = {name for name in dir(sightline) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(sightline, name, None), types.ModuleType)}
    assert set(sightline.__all__) - {"__version__"} == public - modules
    for name in sightline.__all__:
        assert getattr(sightline, name) is not None


@pytest.mark.parametrize(
    "module", sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "sightline.") if m.ispkg)
)
def test_every_package_all_names_what_it_has(module: str):
    """No stale names in a subpackage's `__all__` (a rename that left the list behind)."""
    package = importlib.import_module(module)
    for name in getattr(package, "__all__", []):
        assert hasattr(package, name), f"{module}.__all__ names {name}, which it does not have"

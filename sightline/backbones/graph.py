"""Small tools for extending an ONNX graph: what `Backbone.image_graph` and the classifier export share.

The nodes used here (MatMul, Add, Mul, Div, Sqrt, Max, Flatten, Gather, Softmax on 2-D input, Sigmoid)
mean the same from opset 8 to today, so the same code extends a graph whatever opset its exporter chose.
Sums over a row are a MatMul with a column of ones for the same reason: ReduceSum moved its axes from an
attribute to an input in opset 13.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.errors import ExportError

if TYPE_CHECKING:
    import onnx

#: The oldest default-domain opset whose Max broadcasts (opset 8); older graphs are refused.
MIN_OPSET = 8


def require_onnx() -> Any:
    """The `onnx` package, or an error saying how to install it (it ships with the `hf` extra)."""
    try:
        import onnx
    except ImportError:
        raise ExportError("exporting to ONNX needs the `onnx` package: pip install 'sightline[hf]' or onnx") from None
    return onnx


def default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


@dataclass
class GraphTail:
    """Nodes to append after a graph's output, with their constant tensors; names are prefixed to stay unique."""

    prefix: str
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)

    def name(self, what: str) -> str:
        return f"{self.prefix}/{what}"

    def const(self, what: str, value: np.ndarray | Sequence[float]) -> str:
        """A float32 (or int64 for integer arrays) constant, returned by name."""
        onnx = require_onnx()
        array = np.asarray(value)
        array = array.astype(np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)
        self.initializers.append(onnx.numpy_helper.from_array(array, self.name(what)))
        return self.name(what)

    def op(
        self, op_type: str, inputs: Sequence[str], what: str, *, output: str | None = None, **attributes: Any
    ) -> str:
        """Append one node; returns its output's name (`output` when given, else prefixed `what`)."""
        onnx = require_onnx()
        output = output or self.name(what)
        self.nodes.append(onnx.helper.make_node(op_type, list(inputs), [output], self.name(what), **attributes))
        return output

    def row_sum(self, x: str, dim: int, what: str) -> str:
        """(N, dim) -> (N, 1) sums, as a MatMul with ones (opset-independent, unlike ReduceSum)."""
        return self.op("MatMul", [x, self.const(f"{what}_ones", np.ones((dim, 1)))], what)

    def divide_by_row_sum(self, x: str, dim: int, values: str, what: str) -> str:
        """x / max(sum of `values` per row, 1e-12): the guard keeps an all-zero row at zero."""
        total = self.row_sum(values, dim, f"{what}_sum")
        guarded = self.op("Max", [total, self.const(f"{what}_eps", [1e-12])], f"{what}_guarded")
        return self.op("Div", [x, guarded], what)


def extend_graph(model: onnx.ModelProto, tail: GraphTail, output: str, width: int) -> onnx.ModelProto:
    """A copy of `model` with `tail` appended; its one output is `output`, float32 (N, width).

    The batch dimension keeps the symbolic name of the model's input, so the batch stays dynamic.
    """
    onnx = require_onnx()
    if default_opset(model) < MIN_OPSET:
        raise ExportError(f"the backbone's ONNX graph uses opset {default_opset(model)}; exporting needs {MIN_OPSET}+")
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    graph.node.extend(tail.nodes)
    graph.initializer.extend(tail.initializers)
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, [batch_dim(model), width]))
    return result


def free_name(model: onnx.ModelProto, name: str) -> None:
    """Rename the model's tensor called `name` (if any), so that a node appended later can take the name."""
    onnx = require_onnx()
    graph = model.graph
    used = {t.name for t in (*graph.input, *graph.output, *graph.initializer, *graph.value_info)}
    used.update(edge for node in graph.node for edge in node.output)
    if name in used:
        flags = dict.fromkeys(("rename_nodes", "rename_edges", "rename_inputs", "rename_outputs",
                               "rename_initializers", "rename_value_infos"), False)  # fmt: skip
        onnx.compose.add_prefix_graph(graph, "", inplace=True, name_map={name: f"{name}_backbone"}, **flags)


def batch_dim(model: onnx.ModelProto) -> str | int:
    """The symbolic (or fixed) first dimension of the model's first input."""
    shape = model.graph.input[0].type.tensor_type.shape
    if not shape.dim:
        return "batch"
    first = shape.dim[0]
    return first.dim_param or (first.dim_value if first.HasField("dim_value") else "batch")

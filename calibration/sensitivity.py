"""Per-layer sensitivity: the depth-output error that quantizing each layer alone causes.

For every quantizable layer, a model with only that layer quantized (its INT8
weights and its symmetric INT8 input, TensorRT's numerics) runs on a few
calibration images in ONNX Runtime; the error is the mean absolute difference
from the FP32 output divided by the mean absolute FP32 output. The ranking
drives ``--keep-fp N`` (the N worst layers stay in float) and goes into the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import onnx

from .collect import make_session
from .graph import GraphIndex, Layer
from .placement import plan_tensorrt
from .qdq import write_qdq_model


@dataclass(frozen=True)
class LayerSensitivity:
    """One layer's effect on the output when it alone is quantized."""

    node: str
    module: str
    kind: str
    error: float

    def to_dict(self) -> dict:
        return {"node": self.node, "module": self.module, "kind": self.kind, "relative_error": self.error}


def relative_error(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> float:
    """``mean|y - y_ref| / mean|y_ref|`` over all outputs (0 when the reference is all zeros)."""
    num = float(np.mean([np.mean(np.abs(o.astype(np.float64) - r)) for o, r in zip(outputs, references)]))
    den = float(np.mean([np.mean(np.abs(r.astype(np.float64))) for r in references]))
    return num / den if den > 0 else num


def run_model(model: onnx.ModelProto, inputs: Sequence[np.ndarray], input_name: Optional[str] = None) -> list[np.ndarray]:
    """First output of ``model`` for each input (ONNX Runtime CPU)."""
    session = make_session(model)
    input_name = input_name or session.get_inputs()[0].name
    return [session.run(None, {input_name: x})[0] for x in inputs]


def layer_sensitivity(model: onnx.ModelProto, layers: Sequence[Layer], amax: dict[str, float],
                      inputs: Sequence[np.ndarray], *, progress: bool = False) -> list[LayerSensitivity]:
    """Quantize each layer alone and measure the output error.

    Args:
        model: the FP32 model.
        layers: candidate layers.
        amax: calibrated ranges.
        inputs: a few calibration inputs.
        progress: show a progress bar.

    Returns:
        One :class:`LayerSensitivity` per layer, most harmful first (ties by graph order).
    """
    from tqdm import tqdm

    index = GraphIndex(model)
    references = run_model(model, inputs)
    results = []
    for layer in tqdm(layers, desc="sensitivity", unit="layer", disable=not progress, leave=False):
        plan = plan_tensorrt(index, [layer], amax)
        quantized = write_qdq_model(model, plan.activations, plan.layers)
        error = relative_error(run_model(quantized, inputs), references)
        results.append(LayerSensitivity(layer.node, layer.module, layer.kind, error))
    order = {layer.node: i for i, layer in enumerate(layers)}
    return sorted(results, key=lambda r: (-r.error, order[r.node]))

"""Export a generator's tail (one layer's output -> the image) to ONNX, for Paint in the site.

Usage::

    from dissect_report.paint.export import export_tail
    tail = export_tail(generator, "layer2", z[:1], h[:1])   # z (1, z_dim), h (1, U, H, W)
    tail.model            # ONNX bytes; inputs tail.inputs (e.g. ("z", "h")), output "image"
    tail.weight_bytes     # bytes of weights it carries

The tail is the generator itself with the layer's output replaced by an input ``h`` (the
interventions' :func:`~dissect_report.modeltools.edit.edit` hook), traced by the PyTorch exporter (``torch.onnx.export(dynamo=True)``, which needs
``onnx`` and ``onnxscript``). Everything upstream of the layer then feeds nothing and the
exporter's optimizer drops it, so any module path works without knowing the architecture.
The latent ``z`` stays an input: generators that feed it (or a style vector made from it) to
later layers need it; for a DCGAN it is simply unused.

Large float weights are stored as float16 and cast back to float32 in the graph (ONNX
Runtime folds the casts once at load): half the bytes in the site, about 0.1/255 of image
error (measured by the browser test against PyTorch).

Errors: :class:`PaintUnavailable` (one line: why the tail could not be exported).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dissect_report.errors import UserError
from dissect_report.modeltools.edit import edit

log = logging.getLogger(__name__)
OPSET = 18
_HALF_MIN_ELEMENTS = 1024  # smaller tensors (biases) stay float32: no bytes to save there


class PaintUnavailable(UserError):
    """The generator's tail cannot be exported or run in the browser (message: one line why)."""


@dataclass(frozen=True)
class TailModel:
    """An exported tail: ONNX bytes, its input names (in order) and what it carries."""

    model: bytes
    inputs: tuple[str, ...]
    weight_bytes: int
    half_weights: bool


class _Tail(nn.Module):
    """``(z, h) -> generator(z)`` with ``layer``'s output replaced by ``h``."""

    def __init__(self, generator: nn.Module, layer: str) -> None:
        super().__init__()
        self.generator = generator
        self.layer = layer

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # The interventions' edit primitive, with a setter that replaces the whole output.
        with edit(self.generator, self.layer, lambda _output: h):
            return self.generator(z)


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter prints progress lines and warnings of its own; our log says what matters."""
    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from contextlib import redirect_stdout

            with redirect_stdout(io.StringIO()):
                yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _reason(exc: BaseException) -> str:
    """The first line of the innermost cause (the exporter wraps the real error), plain text."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    line = text.splitlines()[0].strip() if text else ""
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _half_weights(model: object) -> int:
    """Store big float32 initializers as float16 + a Cast node; returns the bytes saved."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    saved = 0
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        array = numpy_helper.to_array(init)
        if array.size < _HALF_MIN_ELEMENTS or not np.isfinite(array).all():
            continue
        if np.abs(array).max() > 60000:  # out of float16's range: keep it exact
            continue
        name = init.name
        half = numpy_helper.from_array(array.astype(np.float16), f"{name}__f16")
        init.CopyFrom(half)
        casts.append(helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT))
        saved += array.size * 2
    for node in reversed(casts):
        graph.node.insert(0, node)
    return saved


def _strip_provenance(model: object) -> int:
    """Drop the exporter's per-node metadata (``pkg.torch.onnx.stack_trace`` and the like:
    absolute source paths of the machine that exported it), so the site ships no local path;
    returns the entries removed. Subgraphs and functions are walked too."""
    removed = 0

    def graph(g: object) -> None:
        nonlocal removed
        for node in g.node:  # type: ignore[attr-defined]
            removed += len(node.metadata_props)
            del node.metadata_props[:]
            node.doc_string = ""
            for attr in node.attribute:
                if attr.HasField("g"):
                    graph(attr.g)
                for sub in attr.graphs:
                    graph(sub)

    graph(model.graph)  # type: ignore[attr-defined]
    for function in model.functions:  # type: ignore[attr-defined]
        graph(function)
    return removed


def export_tail(
    generator: nn.Module,
    layer: str,
    z: torch.Tensor,
    h: torch.Tensor,
    half_weights: bool = True,
) -> TailModel:
    """Export ``generator`` from ``layer`` to the image as one self-contained ONNX model.

    ``z``: (1, z_dim) float32 latent of one sample; ``h``: (1, U, H, W) float32, that
    sample's output of ``layer`` (example inputs for tracing; the model takes any values).
    Raises :class:`PaintUnavailable` when the exporter is missing or fails on this generator.
    """
    try:
        import onnx
        import onnxscript  # noqa: F401  (the exporter needs it; fail here with a clear line)
    except ImportError as exc:
        raise PaintUnavailable(
            f"the ONNX exporter is not installed ({exc.name}); pip install onnx onnxscript"
        ) from None
    tail = _Tail(generator, layer).eval()
    try:
        with torch.no_grad(), _quiet():
            program = torch.onnx.export(
                tail,
                (z.float(), h.float()),
                input_names=["z", "h"],
                output_names=["image"],
                opset_version=OPSET,
                dynamo=True,
                optimize=True,
            )
        model = program.model_proto  # type: ignore[union-attr]
    except Exception as exc:  # the exporter raises many kinds; all mean "cannot export"
        raise PaintUnavailable(
            f"the generator cannot be exported to ONNX from {layer!r}: {_reason(exc)}"
        ) from None
    outputs = [o.name for o in model.graph.output]
    if len(outputs) != 1:
        raise PaintUnavailable(
            f"the exported tail has {len(outputs)} outputs; Paint needs one image"
        )
    _strip_provenance(model)
    saved = _half_weights(model) if half_weights else 0
    weight_bytes = sum(
        int(np.prod(i.dims)) * (2 if i.data_type == onnx.TensorProto.FLOAT16 else 4)
        for i in model.graph.initializer
    )
    inputs = tuple(i.name for i in model.graph.input)
    log.debug("exported the tail of %s: %d weight bytes (%d saved)", layer, weight_bytes, saved)
    return TailModel(model.SerializeToString(), inputs, weight_bytes, half_weights and saved > 0)

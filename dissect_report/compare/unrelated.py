"""Two reports of different models: say so in one line, then count differences per table.

Usage::

    from dissect_report.compare.unrelated import model_differences, unrelated_summary
    reasons = model_differences(comparison)   # ("generator weights 1a2b3c4d5e6f -> ...", ...)
    if reasons:
        print(unrelated_summary(comparison, reasons))

A regression comparison of two different models (other weights, another generator, other
layers or concepts) fails everywhere: thousands of unit lines say nothing a user can act on.
The summary then leads with what makes the models different and, past :data:`COUNT_OVER`
differences, counts them per table (every one is still in the JSON and Markdown diffs) and
points to ``compare --findings``, which compares what each model found; fewer (an edited
generator that moved two units) are still listed. The exit status stays 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dissect_report.compare.model import Comparison, LayerComparison

# Over this many differences, two different models are summarized by counts per table; a
# few (a retrained or edited generator) are still listed one by one.
COUNT_OVER = 200

# Settings that name the generator itself; any of them differing means another model. (The
# source's bytes are not among them: any edit changes them, a refactor or a comment too.)
_MODEL_KEYS = {
    "model.weights_sha256": "generator weights",
    "model.state_sha256": "generator state",
    "model.factory": "generator factory",
}


def _short(value: Any) -> str:
    if value is None:
        return "none"
    text = str(value)
    return text[:12] if len(text) == 64 else text


def model_differences(c: Comparison) -> tuple[str, ...]:
    """What says ``c`` compares two different models (empty when it is one model).

    Different models: a generator hash or factory differs, or no layer is in both reports.
    Their other layers, shapes and concepts are then listed too.

    Usage::

        model_differences(compare_reports("golden", "new"))
        # ("generator weights 000000000000 -> cdcdcdcdcdcd", "layers layer1 -> conv3")
    """
    reasons = [
        f"{label} {_short(s.golden)} -> {_short(s.new)}"
        for key, label in _MODEL_KEYS.items()
        for s in c.settings
        if s.key == key
    ]
    shared = [layer for layer in c.layers if layer.status == "compared"]
    if not reasons and shared:
        return ()  # one generator; a layer or concept more or less is a structural change
    missing = [layer.name for layer in c.layers if layer.status == "missing"]
    added = [layer.name for layer in c.layers if layer.status == "added"]
    if missing or added:
        reasons.append(f"layers {', '.join(missing) or '-'} -> {', '.join(added) or '-'}")
    reshaped = [
        layer.name
        for layer in c.layers
        if layer.status == "compared" and layer.golden_shape != layer.new_shape
    ]
    if reshaped:
        reasons.append(f"layer shapes differ ({', '.join(reshaped)})")
    if c.concepts_missing or c.concepts_added:
        reasons.append(
            f"concepts: {len(c.concepts_missing)} only in golden, "
            f"{len(c.concepts_added)} only in new"
        )
    return tuple(reasons)


def _layer_counts(layer: LayerComparison) -> str:
    if layer.status == "missing":
        return "missing in new"
    if layer.status == "added":
        return "only in new"
    parts = []
    if layer.golden_shape != layer.new_shape:
        parts.append(f"shape {layer.golden_shape} -> {layer.new_shape}")
    if layer.units_missing or layer.units_added:
        parts.append(f"{len(layer.units_missing) + len(layer.units_added)} units not in both")
    if layer.label_changes:
        parts.append(f"{len(layer.label_changes)} concept labels")
    if layer.value_changes:
        parts.append(f"{len(layer.value_changes)} units.parquet values")
    if layer.iou_matrix and layer.iou_matrix.outside:
        m = layer.iou_matrix
        parts.append(f"{m.outside} of {m.compared} iou.parquet entries")
    if layer.image_changes:
        parts.append(f"{len(layer.image_changes)} images")
    return ", ".join(parts) or "within tolerance"


def count_rows(c: Comparison) -> list[tuple[str, str, int]]:
    """``(layer or table, what differs, how many)`` for every layer and table."""
    rows: list[tuple[str, str, int]] = []
    if c.concepts_missing or c.concepts_added:
        n = len(c.concepts_missing) + len(c.concepts_added)
        detail = f"{len(c.concepts_missing)} only in golden, {len(c.concepts_added)} only in new"
        rows.append(("concepts", detail, n))
    for layer in c.layers:
        rows.append((f"layer {layer.name}", _layer_counts(layer), layer.failures))
    for table in c.tables:
        detail = table.problem or (f"{table.outside} values" if table.outside else "OK")
        rows.append((table.path, detail, table.failures))
    if c.images:
        rows.append(("other images", f"{len(c.images)} images", len(c.images)))
    if c.files_missing:
        rows.append(("files", f"{len(c.files_missing)} missing in new", len(c.files_missing)))
    return rows


def count_lines(c: Comparison) -> list[str]:
    """One aligned line per layer and table: how many differences of each kind it holds."""
    rows = count_rows(c)
    width = max(len(name) for name, _, _ in rows) if rows else 0
    count = max(len(f"{n:,}") for _, _, n in rows) if rows else 0
    return [f"  {name:<{width}}  {n:>{count},}  {detail}" for name, detail, n in rows]


def unrelated_summary(c: Comparison, reasons: tuple[str, ...], settings: list[str]) -> str:
    """The summary of a comparison of two different models (see the module docstring)."""
    lines = [
        f"compare {c.new} with golden {c.golden}: DIFFERENT MODELS ({'; '.join(reasons)})",
        f"FAIL ({c.failures:,} difference(s) outside tolerance): not two runs of one model, so "
        "the tables are not expected to agree. To compare what each model found: "
        f"dissect-report compare --findings {c.golden} {c.new}",
    ]
    lines += settings
    lines += ["", "Differences per table (every one is in the JSON and Markdown diffs):"]
    lines += count_lines(c)
    return "\n".join(lines).rstrip() + "\n"

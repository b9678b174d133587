"""Which manifest settings differ between two reports, most probable cause first.

Usage::

    from dissect_report.compare.settings import diff_settings
    for change in diff_settings(golden_manifest, new_manifest):
        print(change.key, change.golden, "->", change.new, change.relevant)

A changed model (weights, generator factory or source, its arguments) explains every other
difference, so the summary reports it first, then the segmenter, seed, sample count, tool
version and thresholds. A section that only one report has (``artifacts``, ``interventions``:
a stage one of them did not run) is one change of kind ``"section"``, never a ``-> null`` line
per setting inside it. Settings that the model contract makes
irrelevant (batch size, device, shards, workers) come next: they are a probable cause
whenever the tables differ, since a generator that breaks the contract makes them matter.
Bookkeeping (output paths, timings, the command) is listed apart.
"""

from __future__ import annotations

from typing import Any

from dissect_report.compare.model import SettingChange

# Top-level manifest keys that are compared elsewhere (or never): results and bookkeeping.
_SKIP_TOP = frozenset({"schema_version", "layers", "created", "command", "timings"})

# Where and when, never what: a setting whose last key is one of these cannot change the
# findings (a generator does not read the report's path).
_BOOKKEEPING_NAMES = frozenset(
    {
        "out",
        "out_dir",
        "output",
        "output_dir",
        "report",
        "report_dir",
        "cache_dir",
        "quiet",
        "verbose",
        "progress",
        "overwrite",
        "force",
        "weights",  # a path; the content is pinned by weights_sha256
        "factory_file",  # a path; the content is pinned by factory_sha256
        "check_model",  # whether the contract was checked, not what was found
        "check_tolerance",
        "created",
        "command",
    }
)

# Settings that the model contract makes irrelevant: sample i is a pure function of
# (seed, i) whatever its batch, shard, order, worker or device. A generator that breaks the
# contract makes them relevant, so they are never called harmless when the tables differ.
# Each maps to what would make it matter.
_CONTRACT_HINTS = {
    "batch_size": "findings depend on it only if the generator depends on batch composition "
    "(batch statistics such as BatchNorm in training mode, noise drawn per batch)",
    "checkpoint_every": "findings depend on it only if the generator depends on batch "
    "composition or on the order of samples",
    "resume": "findings depend on it only if the generator depends on the order of samples",
    "shards": "findings depend on it only if the generator depends on batch composition or on "
    "the order of samples (a global RNG)",
    "shard": "findings depend on it only if the generator depends on the order of samples",
    "workers": "findings depend on it only if the generator depends on the order of samples",
    "num_workers": "findings depend on it only if the generator depends on the order of samples",
    "engine": "findings depend on it only if the generator depends on batch composition or on "
    "the order of samples",
    "address": "findings depend on it only if the workers run other software or hardware",
    "ray": "findings depend on it only if the generator depends on the order of samples",
    "device": "findings depend on it only through the device's numerics (TF32, "
    "nondeterministic kernels) beyond the tolerances",
}

# The software and numerics a report was made with (``environment.*``): by the model
# contract they should not change findings beyond float noise, so like the contract settings
# they are a probable cause when the tables differ, with what would make them matter.
_ENVIRONMENT_HINT = (
    "findings depend on it only through numerics (rounding, TF32, the order of reductions) "
    "beyond the tolerances, or a changed default of the library"
)

# Most probable causes first: the model itself (everything else follows from it), then what
# the dissection was run with; everything else relevant follows alphabetically.
_PRIORITY = (
    "model.weights_sha256",
    "model.state_sha256",
    "model.factory",
    "model.name",
    "config.generator_args",
    "config.clamp_output",
    "config.layers",
    "segmenter.weights_sha256",
    "segmenter.name",
    "samples.seed",
    "config.seed",
    "samples.count",
    "config.samples",
    # The code's bytes change with any edit (a comment, a refactor): weaker evidence than
    # the weights, so they rank with the tool's version.
    "model.source_sha256",
    "model.factory_sha256",
    "tool.version",
    "threshold.policy",
    "threshold.level",
    "threshold.iou_floor",
    "threshold.label_fallback",
    "samples.top_k",
)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _concepts_as_dict(manifest: dict[str, Any]) -> dict[str, Any]:
    # Concept names are compared structurally; here only their other fields (color) matter.
    out: dict[str, Any] = {}
    for entry in manifest.get("concepts", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            out[entry["name"]] = {k: v for k, v in entry.items() if k not in ("name", "slug")}
    return out


def settings_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's settings as a flat ``{"dotted.key": value}`` dict."""
    flat: dict[str, Any] = {}
    for key, value in manifest.items():
        if key in _SKIP_TOP:
            continue
        if key == "concepts":
            _flatten(_concepts_as_dict(manifest), "concepts", flat)
        else:
            _flatten(value, key, flat)
    return flat


def setting_kind(key: str) -> str:
    """``"finding"``, ``"contract"`` or ``"bookkeeping"`` (see :class:`SettingChange`).

    Usage::

        setting_kind("samples.seed")        # "finding"
        setting_kind("config.batch_size")   # "contract"
        setting_kind("config.out")          # "bookkeeping"
    """
    name = key.rsplit(".", 1)[-1]
    # model_check.*: what the contract check measured on a few samples, not a setting
    if name in _BOOKKEEPING_NAMES or key.startswith(("timings.", "model_check.")):
        return "bookkeeping"
    if key.startswith("environment."):
        return "contract"
    return "contract" if name in _CONTRACT_HINTS else "finding"


def _hint(key: str) -> str | None:
    if key.startswith("environment."):
        return _ENVIRONMENT_HINT
    return _CONTRACT_HINTS.get(key.rsplit(".", 1)[-1])


_KIND_ORDER = {"finding": 0, "section": 1, "contract": 2, "bookkeeping": 3}

# Prefixes ranked after the exact keys of _PRIORITY: the rest of the model's identity
# (adapters, generator arguments) before the rest of the run's settings.
_PRIORITY_PREFIXES = ("model.", "config.generator_args.", "segmenter.", "samples.", "threshold.")


def _order(change: SettingChange) -> tuple[int, int, int, str]:
    key = change.key
    rank = _PRIORITY.index(key) if key in _PRIORITY else len(_PRIORITY)
    prefix = next(
        (i for i, p in enumerate(_PRIORITY_PREFIXES) if key.startswith(p)),
        len(_PRIORITY_PREFIXES),
    )
    return (_KIND_ORDER[change.kind], rank, prefix, key)


# What every dissection records: a key of these missing on one side is a setting that differs
# (an older report, another environment), compared key by key, never a skipped stage.
_RUN_RECORDS = frozenset(
    {"config", "model", "segmenter", "samples", "threshold", "tool", "environment", "concepts"}
)


def _one_sided_sections(golden: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Stage sections (a non-empty table) that one manifest has and the other lacks."""
    names = []
    for key in sorted(golden.keys() | new.keys()):
        if key in _SKIP_TOP or key in _RUN_RECORDS or key == "sections":
            continue
        g, n = golden.get(key), new.get(key)
        if (isinstance(g, dict) and g and n is None) or (isinstance(n, dict) and n and g is None):
            names.append(key)
    return names


# Config fields added after reports were already made: a report without one was made at its
# default, so its absence is no change.
_LATER_FIELDS = ("amp", "clamp_output", "generator_args")


def _config_defaults() -> dict[str, Any]:
    """``{"config.<field>": default}`` of :data:`_LATER_FIELDS`, as a manifest records them."""
    from dissect_report.config import DissectConfig

    fields = DissectConfig.model_fields
    return {
        f"config.{name}": fields[name].get_default(call_default_factory=True)
        for name in _LATER_FIELDS
    }


def _one_sided_tables(golden: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted path, golden, new)`` of nested tables (two or more settings) that only one
    side has."""
    if not isinstance(golden, dict) or not isinstance(new, dict):
        return []
    paths: list[tuple[str, Any, Any]] = []
    for key in sorted(golden.keys() | new.keys(), key=str):
        path = f"{prefix}.{key}" if prefix else str(key)
        g, n = golden.get(key), new.get(key)
        if isinstance(g, dict) and isinstance(n, dict):
            paths += _one_sided_tables(g, n, path)
        elif (isinstance(g, dict) and len(g) > 1 and n is None) or (
            isinstance(n, dict) and len(n) > 1 and g is None
        ):
            paths.append((path, g, n))
    return paths


def diff_settings(golden: dict[str, Any], new: dict[str, Any]) -> tuple[SettingChange, ...]:
    """Every setting that differs, relevant ones first, most probable cause first.

    Usage::

        diff_settings({"model": {"weights_sha256": "a"}, "artifacts": {"layer": "l4"}},
                      {"model": {"weights_sha256": "b"}})
        # (SettingChange("model.weights_sha256", "a", "b", ...),
        #  SettingChange("artifacts", {"layer": "l4"}, None, False, "section"))

    A section that only one report has is one ``"section"`` change (its whole table on one
    side, ``None`` on the other; :attr:`SettingChange.only_in` says which), and its
    ``sections.<name>`` flag is not repeated.
    """
    g, n = settings_of(golden), settings_of(new)
    defaults = _config_defaults()
    changes = []
    one_sided = _one_sided_sections(golden, new)
    for name in one_sided:
        changes.append(SettingChange(name, golden.get(name), new.get(name), False, "section"))
    inside = tuple(f"{name}." for name in one_sided) + tuple(
        f"sections.{name}" for name in one_sided
    )
    # A nested table one side lacks (an older report's missing block): one change, not one
    # "-> null" per setting inside it.
    for top in sorted(golden.keys() & new.keys()):
        if top in _SKIP_TOP or top == "concepts":
            continue
        for path, gv, nv in _one_sided_tables(golden[top], new[top], top):
            kind = setting_kind(path)
            hint = _hint(path) if kind == "contract" else None
            changes.append(SettingChange(path, gv, nv, kind == "finding", kind, hint))
            inside += (f"{path}.",)
    for key in sorted(g.keys() | n.keys()):
        if key.startswith(inside):
            continue
        if key.startswith("concepts.") and (key not in g or key not in n):
            continue  # a concept one report lacks is a structural difference, said there
        # A config field a report predates reads as its default; any other missing key as null.
        gv, nv = g.get(key, defaults.get(key)), n.get(key, defaults.get(key))
        if gv != nv:
            kind = setting_kind(key)
            hint = _hint(key) if kind == "contract" else None
            changes.append(SettingChange(key, gv, nv, kind == "finding", kind, hint))
    return tuple(sorted(changes, key=_order))

"""Which manifest settings differ between two reports, most probable cause first.

Usage::

    from dissect_report.compare.settings import diff_settings
    for change in diff_settings(golden_manifest, new_manifest):
        print(change.key, change.golden, "->", change.new, change.relevant)

A changed seed, sample count, model or segmenter hash or tool version explains changed
findings, so the summary reports those first. Settings that cannot change the findings by
design (output paths, batch size, workers, device, timings) are listed apart.
"""

from __future__ import annotations

from typing import Any

from dissect_report.compare.model import SettingChange

# Top-level manifest keys that are compared elsewhere (or never): results and bookkeeping.
_SKIP_TOP = frozenset({"schema_version", "layers", "created", "command", "timings"})

# A setting whose last key is one of these cannot change the findings: results are
# independent of batch size and sharding, and paths are where, not what.
_IRRELEVANT_NAMES = frozenset(
    {
        "out",
        "out_dir",
        "output",
        "output_dir",
        "report",
        "report_dir",
        "cache_dir",
        "batch_size",
        "workers",
        "num_workers",
        "device",
        "shards",
        "shard",
        "quiet",
        "verbose",
        "progress",
        "resume",
        "overwrite",
        "force",
        "checkpoint_every",
        "ray",
        "engine",
        "address",
        "weights",  # a path; the content is pinned by weights_sha256
        "created",
        "command",
    }
)

# Most probable causes first; everything else relevant follows alphabetically.
_PRIORITY = (
    "samples.seed",
    "config.seed",
    "samples.count",
    "config.samples",
    "model.weights_sha256",
    "model.state_sha256",
    "segmenter.weights_sha256",
    "tool.version",
    "threshold.policy",
    "threshold.level",
    "threshold.iou_floor",
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


def _relevant(key: str) -> bool:
    return key.rsplit(".", 1)[-1] not in _IRRELEVANT_NAMES and not key.startswith("timings.")


def _order(change: SettingChange) -> tuple[int, int, str]:
    rank = _PRIORITY.index(change.key) if change.key in _PRIORITY else len(_PRIORITY)
    return (0 if change.relevant else 1, rank, change.key)


def diff_settings(golden: dict[str, Any], new: dict[str, Any]) -> tuple[SettingChange, ...]:
    """Every setting that differs, relevant ones first, most probable cause first."""
    g, n = settings_of(golden), settings_of(new)
    changes = []
    for key in sorted(g.keys() | n.keys()):
        gv, nv = g.get(key), n.get(key)  # a missing key reads as null
        if gv != nv:
            changes.append(SettingChange(key=key, golden=gv, new=nv, relevant=_relevant(key)))
    return tuple(sorted(changes, key=_order))

"""The resolved configuration of a dissection: defaults < TOML file < command-line flags.

Usage::

    from dissect_report.config import DissectConfig, load_config
    config = load_config("dissect.toml", overrides={"samples": 500, "layers": ["layer3"]})
    config = DissectConfig(layers=("layer4",), samples=200)   # or build it directly
    values = read_table("run.toml", "intervene", InterventionConfig)   # a stage's own table

A config file is read strictly: types are checked without coercion (``samples = true`` and
``samples = "40"`` are refused), unknown keys and unknown tables are refused, and the
dissection's fields go either at the top level or in a ``[dissect]`` table, never both.
Tables: ``[dissect]`` (dissect, run, merge), ``[intervene]`` (intervene, run) and
``[artifacts]`` (artifacts, run). The resolved config is frozen and written, every field,
into the report's manifest.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from dissect_report.errors import ConfigError

BUILTIN_GENERATOR = "dissect_report.world:load_generator"
BUILTIN_SEGMENTER = "builtin"
Policy = Literal["quantile", "iqr", "max-iou"]
Engine = Literal["local", "ray"]
# Fields that say where and how the pass runs, never what it finds (kept out of table_key).
# batch_size too: the model check holds the generator to batch independence (shards made
# with other batch sizes merge; merge refuses it for shards made with --no-model-check).
RUN_FIELDS = frozenset(
    {
        "batch_size",
        "device",
        "checkpoint_every",
        "engine",
        "address",
        "shards",
        "workers",
        "runtime_env",
        "stall_timeout",
        "check_model",
        "check_tolerance",
    }
)


MAX_SAMPLES = 10**9  # more is a typo (10^30 started an endless pass), not a plan


class DissectConfig(BaseModel):
    """Everything that determines a dissection's tables (plus ``device``, which must not)."""

    # strict: no coercion (true is not 1 sample, "40" is not 40); layers is made a tuple below
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    generator: str = Field(
        BUILTIN_GENERATOR, description="factory import path 'pkg.module:make_generator'"
    )
    weights: str | None = Field(None, description="optional .safetensors or .pt state dict")
    weights_key: str | None = Field(
        None, description="entry of a nested checkpoint holding the generator's state dict"
    )
    z_dim: int | None = Field(None, ge=1, description="latent size if the generator lacks z_dim")
    latent_shape: tuple[int, ...] | None = Field(
        None,
        description="per-sample latent shape the generator takes, e.g. [100, 1, 1] (DCGAN); "
        "z_dim is its product",
    )
    seeded_noise: bool = Field(
        False,
        description="make random draws inside the generator's forward a function of (seed, i)",
    )
    clamp_output: bool = Field(
        False,
        description="clamp the generator's images to [-1, 1], for generators whose output is "
        "unbounded (ProGAN: its own scripts clamp when saving)",
    )
    generator_args: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description="keyword arguments of the generator factory (a [dissect.generator_args] "
        "table; --generator-arg KEY=VALUE)",
    )
    check_model: bool = Field(
        True,
        description="check the model contract before the pass; false = accept the risk "
        "(recorded in the manifest)",
    )
    check_tolerance: float = Field(
        1e-3, gt=0.0, lt=1.0, description="relative float tolerance of the model check"
    )
    segmenter: str = Field(
        BUILTIN_SEGMENTER,
        description="'builtin', a factory path 'pkg.module:make_segmenter', or 'hf:DIR' "
        "(a local transformers semantic-segmentation model)",
    )
    layers: tuple[str, ...] = Field(("layer2", "layer3", "layer4"), min_length=1)
    samples: int = Field(
        2000,
        ge=1,
        le=MAX_SAMPLES,
        description="samples of the pass (at most a billion: 12 days at 1,000 samples/s)",
    )
    batch_size: int = Field(64, ge=1)
    seed: int = Field(1, ge=0)
    top_k: int = Field(12, ge=1)
    policy: Policy = Field(
        "iqr",
        description="threshold policy: 'iqr' (default: GAN Dissection's per-unit threshold "
        "maximizing the information quality ratio), 'quantile' (a top 1 - level mask), 'max-iou'",
    )
    level: float = Field(0.99, gt=0.0, lt=1.0, description="quantile level of the quantile policy")
    iou_floor: float = Field(0.04, ge=0.0, le=1.0)
    label_fallback: bool = Field(
        False,
        description="label a unit whose top concept a label guard refuses with its best concept "
        "that passes every guard (default: it stays unlabelled, the refusal recorded)",
    )
    bins: int = Field(256, ge=8, le=65536, description="histogram bins per unit")
    resolve_level: float | None = Field(
        None,
        ge=0.0,
        lt=1.0,
        description=(
            "calibration quantile below which pixels are counted but not split by concept; "
            "default: 1 - 3 * (1 - level) for quantile (0.97 at 0.99), 0 for iqr / max-iou"
        ),
    )
    calibration_samples: int = Field(128, ge=1)
    calibration_mb: int = Field(
        256,
        ge=1,
        description="float32 calibration values kept per layer, in MiB; beyond it calibration "
        "keeps every k-th pixel (below it the edges are exact)",
    )
    downsample_segmentation: bool = False
    checkpoint_every: int = Field(10, ge=0, description="batches between checkpoints; 0 = never")
    device: str = "cpu"
    amp: bool = Field(
        False,
        description="run the generator under autocast (float16 on CUDA, bfloat16 on CPU): "
        "faster on a GPU, tables may differ slightly; statistics stay float32",
    )
    engine: Engine = Field("local", description="'local' (this process) or 'ray' (shards on Ray)")
    address: str | None = Field(
        None, description="Ray cluster address (engine 'ray'); default: local"
    )
    shards: int | None = Field(None, ge=1, description="sample ranges for engine 'ray'")
    workers: int | None = Field(
        None, ge=1, description="Ray tasks at once (engine 'ray'); default: the free CPUs"
    )
    runtime_env: dict[str, Any] | None = Field(
        None,
        description="Ray runtime_env for the workers (engine 'ray'), added to the factories' "
        "own modules, which are shipped automatically",
    )
    stall_timeout: float | None = Field(
        None,
        gt=0,
        description="seconds without a batch done anywhere before a Ray run stops "
        "(engine 'ray'; default 600)",
    )

    @field_validator("layers", mode="before")
    @classmethod
    def _split_layers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple) and any(not str(v).strip() for v in value):
            raise ValueError(f"empty layer name in {value!r}")
        if isinstance(value, list | tuple):
            twice = [v for i, v in enumerate(value) if v in value[:i]]
            if twice:  # the hooks would see it once per name: "runs more than once per forward"
                raise ValueError(f"layer {twice[0]!r} is named twice; name each layer once")
        return tuple(value) if isinstance(value, list) else value  # TOML/JSON arrays are lists

    @field_validator("generator_args", mode="before")
    @classmethod
    def _parse_generator_args(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        out: dict[str, Any] = {}
        for item in value:  # --generator-arg KEY=VALUE, VALUE read as JSON when it parses
            key, eq, text = str(item).partition("=")
            if not eq or not key.strip().isidentifier():
                raise ValueError(f"expected KEY=VALUE with a Python name as KEY, got {item!r}")
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = text
            out[key.strip()] = parsed if isinstance(parsed, bool | int | float | str) else text
        return out

    @field_validator("latent_shape", mode="before")
    @classmethod
    def _split_shape(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = [int(part) for part in value.replace("x", ",").split(",") if part.strip()]
            except ValueError:
                raise ValueError(f"expected sizes such as 100,1,1, got {value!r}") from None
        if isinstance(value, list | tuple):
            if not value or any(not isinstance(v, int) or v < 1 for v in value):
                raise ValueError(f"latent shape needs positive integer sizes, got {value!r}")
            return tuple(value)  # TOML/JSON arrays are lists
        return value

    @field_validator("generator", "segmenter")
    @classmethod
    def _check_factory(cls, value: str) -> str:
        if value.startswith("hf:") and len(value) > 3:  # a local transformers model directory
            return value
        if value != BUILTIN_SEGMENTER and (value.count(":") != 1 or not all(value.split(":"))):
            raise ValueError(f"{value!r} is not an import path of the form 'pkg.module:factory'")
        return value

    @property
    def effective_resolve_level(self) -> float:
        """Thresholds can only fall at or above this level, so it must stay below them."""
        if self.resolve_level is not None:
            return self.resolve_level
        if self.policy != "quantile":
            return 0.0  # iqr / max-iou may pick a low threshold for a large concept
        return max(0.0, 1.0 - 3.0 * (1.0 - self.level))  # ~3x the pixels the level keeps

    @property
    def generator_name(self) -> str:
        return "builtin" if self.generator == BUILTIN_GENERATOR else self.generator

    def table_key(self) -> str:
        """A hash of every field that changes the tables (not device, engine, checkpointing)."""
        fields = self.model_dump(mode="json", exclude=set(RUN_FIELDS))
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    value = err.get("input")
    return f"invalid config value {where} = {value!r}: {err['msg']}"


def make_config(values: dict[str, Any]) -> DissectConfig:
    """Validate ``values`` into a config; a bad value is a one-line :class:`ConfigError`."""
    try:
        return DissectConfig(**values)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None
    except TypeError as exc:  # a non-string key
        raise ConfigError(f"invalid config: {exc}") from None


# The tables a config file may hold, and the commands that read each.
TABLES = {
    "dissect": "dissect, run, merge",
    "intervene": "intervene, run",
    "artifacts": "artifacts, run",
}


def read_config_tables(path: str | Path) -> dict[str, dict[str, Any]]:
    """Every table of a TOML config file, keys with ``-`` made ``_``; the layout is checked.

    The dissection's fields sit at the top level or in ``[dissect]`` (mixing both is refused:
    one of them would be silently dropped); any other table than those of :data:`TABLES`
    is refused, so a misspelt ``[intervention]`` cannot be ignored.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        known = ", ".join(f"[{t}] ({cmds})" for t, cmds in TABLES.items())
        raise ConfigError(f"config file {str(p)!r}: unknown table [{unknown[0]}]; tables: {known}")
    if top and "dissect" in tables:
        raise ConfigError(
            f"config file {str(p)!r} has top-level keys ({', '.join(sorted(top))}) and a "
            "[dissect] table; put the dissection's keys in one place"
        )
    if top:
        tables["dissect"] = top
    return {name: {k.replace("-", "_"): v for k, v in t.items()} for name, t in tables.items()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The dissection's fields in a TOML file: at top level or under a ``[dissect]`` table::

    layers = ["layer3", "layer4"]
    samples = 1000
    policy = "iqr"
    """
    return read_config_tables(path).get("dissect", {})


def read_table(path: str | Path | None, table: str, settings: type) -> dict[str, Any]:
    """The values of ``[table]`` in the file at ``path``, checked against a settings dataclass.

    Unknown keys are refused with the known ones listed; types are checked strictly (an
    integer field refuses ``true`` and ``"8"``). Returns ``{}`` without a file or table.
    """
    if path is None:
        return {}
    values = read_config_tables(path).get(table, {})
    assert is_dataclass(settings)
    known = [f.name for f in fields(settings)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"config file {str(path)!r}: unknown key {unknown[0]!r} in [{table}]; "
            f"keys: {', '.join(known)}"
        )
    hints = get_type_hints(settings)
    for key, value in values.items():
        value = tuple(value) if isinstance(value, list) else value  # TOML arrays are lists
        try:
            TypeAdapter(hints[key]).validate_python(value, strict=True)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise ConfigError(
                f"config file {str(path)!r}: invalid value [{table}] {key} = {value!r}: {msg}"
            ) from None
        values[key] = value
    return values


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> DissectConfig:
    """Field defaults < ``defaults`` < the TOML file at ``path`` < non-None ``overrides``."""
    values: dict[str, Any] = dict(defaults or {})
    if path is not None:
        values.update(read_config_file(path))
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return make_config(values)

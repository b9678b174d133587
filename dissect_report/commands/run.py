"""``dissect-report run``: the main job: dissect, draw the unit grids, intervene, find
artifact units, render the site.

Usage::

    dissect-report run                       # the built-in world, into ./report
    dissect-report run --out out/report --samples 2000 --overwrite
    dissect-report run --generator mypkg.models:make_generator --weights g.safetensors

It takes every flag of ``dissect`` (see ``dissect-report dissect --help``) with defaults
sized so the whole run on the built-in world stays within a few minutes on 2 CPU cores.
A ``--config`` file may hold ``[dissect]``, ``[intervene]`` and ``[artifacts]`` tables.
Each stage records its completion in the manifest; ``run --resume`` continues a killed run
from its first unfinished stage (the dissection from its last checkpoint).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dissect_report.commands.dissect import (
    add_config_arguments,
    add_output_arguments,
    command_line,
    config_from_args,
)
from dissect_report.commands.paint import add_paint_flags
from dissect_report.config import DissectConfig, read_table
from dissect_report.errors import ReportError
from dissect_report.outlock import locked
from dissect_report.swap import check_schema, remove_stale_builds

if TYPE_CHECKING:
    from dissect_report.models import Models

log = logging.getLogger(__name__)
RUN_DEFAULTS: dict[str, Any] = {"samples": 1000}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="dissect the generator and publish the report as a static site",
        description=(
            "The main job: dissect the chosen layers (default: the built-in world's layer2, "
            f"layer3, layer4 over {RUN_DEFAULTS['samples']} samples), draw each unit's image "
            "grid, measure causal effects by ablation and insertion on the best-covered concepts, "
            "rank artifact units and repair them, and render the report into an offline static "
            "site at REPORT/site. 'dissect-report intervene' and 'artifacts' do more on a report."
        ),
        epilog="Example: dissect-report run --out report --overwrite",
    )
    add_config_arguments(parser)
    for action in parser._actions:  # run's own default, not the dissect command's
        if action.dest in RUN_DEFAULTS:
            action.help = f"samples (default: {RUN_DEFAULTS[action.dest]})"
    add_output_arguments(parser, default_out="report")
    parser.add_argument(
        "--no-interventions",
        dest="interventions",
        action="store_false",
        help="skip ablation/insertion effects (run 'dissect-report intervene' later)",
    )
    parser.add_argument(
        "--no-artifacts",
        dest="artifacts",
        action="store_false",
        help="skip artifact units (run 'dissect-report artifacts' later)",
    )
    parser.add_argument(
        "--real-images",
        help="real images for the artifact stage's FSD (see 'dissect-report artifacts --help')",
    )
    paint = parser.add_mutually_exclusive_group()
    paint.add_argument(
        "--paint",
        dest="paint",
        action="store_true",
        default=None,
        help="build the Paint page (in-browser GANPaint) also for your own generator",
    )
    paint.add_argument(
        "--no-paint",
        dest="paint",
        action="store_false",
        help="skip the Paint page (built by default for the built-in world)",
    )
    add_paint_flags(parser)
    parser.add_argument("--no-site", dest="site", action="store_false", help="skip rendering")
    parser.set_defaults(func=handle)


def render(report: Path) -> Path:
    """Render the report's site; returns the site's directory."""
    from dissect_report.render import render_site

    result = render_site(report)
    if result.sizes is not None:
        print(f"size:   {result.sizes.summary()}")
    return result.site_dir


def _builtin(config: object) -> bool:
    from dissect_report.config import BUILTIN_GENERATOR

    return getattr(config, "generator", None) == BUILTIN_GENERATOR and not getattr(
        config, "weights", None
    )


STAGES = ("interventions", "artifacts", "paint")


def finished_stages(out: Path) -> set[str]:
    """The stages a previous run completed: each one records it in the manifest.

    ``dissect`` is done when ``manifest.json`` exists (it is written last); the others when
    the manifest's ``sections`` say so (written after their section was swapped in). The
    site is always rebuilt: it only reads the report.
    """
    from dissect_report.reportdir.read import read_manifest

    if not (out / "manifest.json").is_file():
        return set()
    sections = read_manifest(out).sections
    return {"dissect"} | {name for name in STAGES if sections.get(name)}


def _check_same_config(out: Path, config: DissectConfig) -> None:
    """--resume must not mix a finished dissection with different settings."""
    from dissect_report.config import make_config
    from dissect_report.reportdir.read import read_manifest

    old = make_config(read_manifest(out).config)
    if old.table_key() == config.table_key():
        return
    new_values = config.model_dump(mode="json")
    field = next(k for k, v in old.model_dump(mode="json").items() if new_values.get(k) != v)
    raise ReportError(
        f"report {str(out)!r} was made with {field} = {getattr(old, field)!r}, not "
        f"{getattr(config, field)!r}; resume with the same settings, or use --overwrite"
    )


def handle(args: argparse.Namespace) -> int:
    from dissect_report.artifacts.settings import ArtifactConfig
    from dissect_report.interventions.settings import InterventionConfig

    config = config_from_args(args, **RUN_DEFAULTS)
    # The [intervene] and [artifacts] tables of --config: checked before anything runs.
    intervene_config = InterventionConfig(
        **read_table(args.config, "intervene", InterventionConfig)
    )
    artifact_values = read_table(args.config, "artifacts", ArtifactConfig)
    if args.real_images:
        artifact_values["real_images"] = args.real_images
    artifact_config = ArtifactConfig(**artifact_values)
    if args.artifacts and artifact_config.real_images:
        from dissect_report.artifacts.real_images import source_kind

        source_kind(artifact_config.real_images)  # a wrong path fails now, not after dissect
    out = Path(args.out)
    if Path(args.out).exists() and not args.overwrite:  # before the model check
        from dissect_report.reportdir.write import check_resumable, prepare_output

        if args.resume:
            check_resumable(out)
        else:
            prepare_output(out, overwrite=False, resume=False)
    with locked(out, command_line()):
        check_schema(out)
        done = finished_stages(out) if args.resume else set()
        _run_stages(args, config, intervene_config, artifact_config, out, done)
    return 0


def _run_dissection(
    args: argparse.Namespace, config: DissectConfig, out: Path, done: set[str]
) -> Models | None:
    """Dissect (unless ``done`` holds it); returns the models it loaded (None when resumed)."""
    if "dissect" in done:
        _check_same_config(out, config)
        print(f"dissection: already complete in {out}; resuming after it")
        return None
    from dissect_report.dissection.stage import dissect
    from dissect_report.models import load_models

    models = load_models(config)  # loaded, hashed and checked once, for every stage
    result = dissect(
        config,
        out,
        overwrite=args.overwrite,
        resume=args.resume,
        images=args.images,
        command=command_line(),
        models=models,
    )
    from dissect_report.commands.dissect import print_summary as print_dissection

    print_dissection(result, images=args.images)
    return models


def _run_stages(
    args: argparse.Namespace,
    config: DissectConfig,
    intervene_config: Any,
    artifact_config: Any,
    out: Path,
    done: set[str],
) -> None:
    models = _run_dissection(args, config, out, done)
    # Paint: on by default for the built-in world, opt-in (--paint) for your own generator,
    # whose tail may be large or not exportable. It needs the interventions' unit sets.
    paint = args.interventions and (args.paint if args.paint is not None else _builtin(config))
    wanted = {"interventions": args.interventions, "artifacts": args.artifacts, "paint": paint}
    todo = [name for name in STAGES if wanted[name] and name not in done]
    for name in STAGES:
        if wanted[name] and name in done:
            print(f"{name}: already complete; skipped")
    if todo:
        from dissect_report.modeltools.reopen import models_from_manifest, with_critics
        from dissect_report.reportdir.read import read_manifest_dict

        # The dissection's models serve every stage; a resumed run past the dissection
        # loads (and checks) the report's.
        if models is None:
            models = models_from_manifest(read_manifest_dict(out))
        else:
            models = with_critics(models, config)
    if "interventions" in todo:
        from dissect_report.commands.intervene import print_summary
        from dissect_report.interventions import intervene
        from dissect_report.interventions.stage import NoConceptError

        try:
            print_summary(intervene(intervene_config, out, models=models))
        except NoConceptError as err:
            # Nothing to ablate is a finding about the model, not a failed run: the site
            # still shows the dissection, and Paint (which needs unit sets) is skipped.
            print(f"interventions: skipped: {err}")
            todo = [name for name in todo if name != "paint"]
    if "artifacts" in todo:
        from dissect_report.artifacts import find_artifacts
        from dissect_report.commands.artifacts import print_summary as print_artifacts

        print_artifacts(find_artifacts(artifact_config, out, models=models))
    if "paint" in todo:
        from dissect_report.commands.paint import config_from_args as paint_config
        from dissect_report.commands.paint import print_summary as print_paint
        from dissect_report.paint.stage import build_paint

        print_paint(build_paint(paint_config(args), out, models=models))
    print(f"report: {out}")
    if args.site:
        remove_stale_builds(out)  # a render killed by an earlier run; we hold the lock
    site = render(out) if args.site else None
    if site is not None:
        print(f"site:   {site}")
        print(f"open:   dissect-report serve {out}   (or open {site / 'index.html'} in a browser)")

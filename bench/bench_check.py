"""Benchmark the model check (what every pass runs first); prints seconds per model.

Usage::

    python bench/bench_check.py                 # built-in world + the face GAN if installed
    python bench/bench_check.py --repeats 5

Models: the built-in world (its default layers layer2, layer3, layer4) and, when
``gan-face-generate`` is installed (``pip install --no-deps gan-face-generate==1.1.1``), its
trained DCGAN (layers main.5, main.8, main.11, latents (N, 100, 1, 1), the crude face
segmenter of tests/models). Loading is not timed, only :func:`check_model` (18 forward
passes: 4 samples twice, 6 in another batch, 4 alone). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from dissect_report.config import make_config
from dissect_report.contract import check_model
from dissect_report.models import load_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models"))


def _models() -> list[tuple[str, dict[str, object]]]:
    out: list[tuple[str, dict[str, object]]] = [("built-in world", {})]
    try:
        import face_gan

        face_gan.weights_path()
    except ImportError:
        print("face GAN: not installed (pip install --no-deps gan-face-generate==1.1.1)")
        return out
    face = {
        "generator": "face_gan:make_generator",
        "weights": face_gan.weights_path(),
        "latent_shape": (100, 1, 1),
        "segmenter": "face_gan:make_segmenter",
        "layers": ("main.5", "main.8", "main.11"),
    }
    return [*out, ("face GAN (gan-face-generate)", face)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, values in _models():
        config = make_config(values)
        models = load_models(config, check=False)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = check_model(models, config.layers, tolerance=config.check_tolerance)
            times.append(time.perf_counter() - t0)
        print(
            f"{name}: layers {', '.join(config.layers)}: model check "
            f"{statistics.median(times):.3f} s (median of {args.repeats}, min {min(times):.3f} s), "
            f"{'passed' if result.passed else 'FAILED'}"
        )


if __name__ == "__main__":
    main()

"""Joining a Ray cluster quietly, sizing the work from its free resources, and the
``runtime_env`` that ships the user's code and weights to its nodes.

Usage::

    from dissect_report.dissection.engines.ray_cluster import connect, free_slots, runtime_env
    ray = import_ray()
    started = connect(ray, "auto")              # False if this process already joined one
    workers = free_slots(ray, gpu=False)        # CPUs free now (at least 1)
    env = runtime_env(config)                   # {"py_modules": [".../mymodels"], ...}

A factory module (``--generator pkg.mod:make``) that lives outside ``site-packages`` (the
user's own code, importable on the driver through ``PYTHONPATH`` or the working directory)
goes to every node through Ray's ``py_modules``; ``--runtime-env`` adds anything else Ray
accepts (``pip``, ``env_vars``, ``working_dir``, ...).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dissect_report.dissection.engines.base import EngineError
from dissect_report.errors import ConfigError

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 10.0
INSTALL_HINT = 'the Ray engine needs Ray: pip install "dissect-report[ray]"'


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`EngineError` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise EngineError(f"{INSTALL_HINT} ({exc})") from None
    return ray


def one_line(exc: BaseException, limit: int = 160) -> str:
    """The gist of a (often many-line, paragraph-long) Ray error."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verbose() -> bool:
    """``-v``/``--debug``: forward the workers' output and Ray's own logs to this terminal."""
    return logging.getLogger("dissect_report").getEffectiveLevel() <= logging.DEBUG


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast on an unreachable ``host:port``: Ray itself retries for minutes."""
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto', 'local' or something only Ray understands
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout).close()
    except OSError as exc:
        raise EngineError(
            f"cannot start or join Ray at {address!r}: {exc.strerror or exc}"
        ) from None


def connect(ray: Any, address: str | None, env: dict[str, Any] | None = None) -> bool:
    """Join ``address`` (or start a local cluster) with the job's ``runtime_env``; True if
    this call started Ray.

    Worker output stays in Ray's log files (``/tmp/ray/session_latest/logs``) unless
    :func:`verbose`: a lost node otherwise floods the terminal with raylet state dumps. A
    session the caller started (a notebook, a test) is kept as it is: Ray uploads local
    ``py_modules`` only when a job starts, so that caller ships its own code.
    """
    if ray.is_initialized():
        return False
    if address is not None:
        probe(address)
        if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
            raise EngineError(f"a ray:// address needs the Ray client (grpcio): {INSTALL_HINT}")
    loud = verbose()
    kwargs: dict[str, Any] = {
        "logging_level": logging.INFO if loud else logging.ERROR,
        "log_to_driver": loud,
    }
    if address is None:
        kwargs["include_dashboard"] = False
    if env:
        kwargs["runtime_env"] = env
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        where = "a local Ray cluster" if address is None else f"Ray at {address!r}"
        raise EngineError(f"cannot start or join {where}: {one_line(exc)}") from None
    return True


def free_slots(ray: Any, gpu: bool) -> int:
    """The CPUs (or GPUs) free now, at least 1: the default ``workers``."""
    free = ray.available_resources().get("GPU" if gpu else "CPU", 0)
    return max(1, int(free))


def _installed_roots() -> set[Path]:
    paths = sysconfig.get_paths()
    return {Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")}


def module_path(name: str) -> Path | None:
    """Where the driver imports top-level module ``name`` from: a package directory or a
    ``.py`` file; None if it is installed (site-packages, stdlib) or not importable."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    origin = Path(spec.origin).resolve()
    path = origin.parent if spec.submodule_search_locations else origin
    roots = _installed_roots()
    if any(root in path.parents or root == path for root in roots):
        return None
    return path if path.suffix == ".py" or path.is_dir() else None


def factory_modules(config: DissectConfig) -> list[str]:
    """Top-level modules of the generator/segmenter factories, e.g. ``["mymodels"]``."""
    names = []
    for spec in (config.generator, config.segmenter):
        if ":" not in spec or spec.startswith("hf:"):
            continue
        top = spec.partition(":")[0].split(".")[0]
        if top != "dissect_report" and top not in names:
            names.append(top)
    return names


def runtime_env(config: DissectConfig) -> dict[str, Any]:
    """``config.runtime_env`` plus the factories' own code in ``py_modules``."""
    env = dict(config.runtime_env or {})
    shipped = [str(p) for p in (module_path(n) for n in factory_modules(config)) if p]
    if shipped:
        env["py_modules"] = list(dict.fromkeys([*env.get("py_modules", []), *shipped]))
        log.info("shipping to the Ray nodes: %s", ", ".join(shipped))
    return env


def parse_runtime_env(text: str) -> dict[str, Any]:
    """``--runtime-env``: a JSON object, or the path of a file holding one (errors name
    neither: argparse says which flag)."""
    source = text
    if not text.lstrip().startswith(("{", "[")):
        try:
            source = Path(text).read_text()
        except OSError as exc:
            raise ConfigError(
                f"{text!r} is not a JSON object nor a readable file ({exc.strerror})"
            ) from None
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError('not a JSON object, e.g. \'{"pip": ["timm"]}\'')
    return value


def import_fix(missing: str) -> str:
    """What to do when a node cannot import ``missing`` (the driver's view of it)."""
    where = module_path(missing.split(".")[0])
    if where is not None:
        return f'ship it with --runtime-env \'{{"py_modules": ["{where}"]}}\''
    return "install it on every node (or ship it with --runtime-env)"

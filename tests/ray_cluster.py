"""A real multi-node Ray cluster on this machine, for tests: ``ray start`` per node.

Usage::

    with LocalCluster(nodes=2, env={"PYTHONPATH": repo}) as cluster:
        cluster.address                  # "127.0.0.1:PORT", for --address
        cluster.kill_node(1)             # SIGKILL worker node 1's raylet (a lost machine)

Worker node ``k`` has ``DR_TEST_NODE=k`` in its environment (the head has none). Every node
gets its own free ports and the cluster its own short temp directory, so two
clusters (two xdist workers, two engineers) on one machine never meet. Each node has one
CPU; the head has none, so work runs on the worker nodes only. Processes are stopped by PID: those
whose command line names the cluster's temp directory (read from ``/proc``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 120.0
PORT_FLAGS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-grpc-port",
    "--dashboard-agent-listen-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


def _pids_of(temp_dir: str) -> set[int]:
    """Processes whose command line or environment names this cluster's temp dir."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if temp_dir.encode() in cmd and int(entry.name) != os.getpid():
            found.add(int(entry.name))
    return found


class LocalCluster:
    """Head (no CPU) + ``nodes`` worker nodes (one CPU each), started with ``ray start``."""

    def __init__(self, nodes: int = 2, env: dict[str, str] | None = None) -> None:
        self.nodes = nodes
        self.env = {
            **os.environ,
            **(env or {}),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "disabled",
        }
        self.temp_dir = tempfile.mkdtemp(prefix="drray", dir="/tmp")  # short: socket paths
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.node_pids: list[set[int]] = []  # per node (0 = head): its processes

    def _start(self, head: bool) -> None:
        before = _pids_of(self.temp_dir)
        ports = [a for flag in PORT_FLAGS for a in (flag, str(free_port()))]
        args = [
            _ray_bin(),
            "start",
            "--num-cpus", "0" if head else "1",
            "--num-gpus", "0",
            "--min-worker-port", "0",
            "--max-worker-port", "0",
            "--disable-usage-stats",
            *ports,
        ]  # fmt: skip
        if head:
            args += [
                "--head",
                "--include-dashboard", "false",
                "--port", str(self.port),
                "--temp-dir", self.temp_dir,
                "--node-ip-address", "127.0.0.1",
            ]  # fmt: skip
        else:
            args += ["--address", self.address, "--node-ip-address", "127.0.0.1"]
        index = len(self.node_pids)
        done = subprocess.run(
            args,
            env={**self.env, **({"DR_TEST_NODE": str(index)} if index else {})},
            timeout=START_TIMEOUT_S,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"ray start failed: {(done.stderr or done.stdout)[-1500:]}")
        self.node_pids.append(_pids_of(self.temp_dir) - before - set().union(*self.node_pids))

    def __enter__(self) -> LocalCluster:
        try:
            self._start(head=True)
            for _ in range(self.nodes):
                self._start(head=False)
            self.wait_for_cpus(self.nodes)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpus(self) -> float:
        """The cluster's live CPUs, asked from a throwaway process (this one stays clean)."""
        code = (
            "import ray,sys;ray.init(address=sys.argv[1],logging_level='ERROR',log_to_driver=False);"
            "print(ray.cluster_resources().get('CPU',0))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, self.address],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )
        try:
            return float(out.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return 0.0

    def wait_for_cpus(self, cpus: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.cpus() < cpus:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Ray cluster did not reach {cpus} CPUs")
            time.sleep(1)

    def kill_node(self, index: int) -> None:
        """SIGKILL every process of worker node ``index`` (1-based): a machine lost."""
        for pid in self.node_pids[index]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, every process of this cluster, by PID."""
        pids = _pids_of(self.temp_dir) | set().union(*self.node_pids)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while sig == signal.SIGTERM and time.monotonic() < deadline:
                if not any(Path(f"/proc/{p}").exists() for p in pids):
                    break
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

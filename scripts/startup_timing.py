"""How long ``wspush run`` takes to be ready: the first start in a new work directory (as
after a fresh clone: Terraform init and a full apply) and the start after it, with nothing
changed (the snapshot restored).

    .venv/bin/python scripts/startup_timing.py [--runs N] [--keep DIR] [-- RUN_ARGS...]

Each start runs ``wspush run`` on free ports, in a work directory of its own, until it logs
"ready", then stops it. Reported per start: wall-clock seconds to ready, the CPU seconds
the stack and its Terraform used meanwhile (a figure that does not grow when other
programs share the cores) and the stack's own line on how it deployed. The figures go to
docs/local-stack.md by hand: they depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"wspush\.stack ready$")
DEPLOYED = re.compile(r"wspush\.stack (deployment .*)$")
TIMEOUT_SECONDS = 600
STOP_SECONDS = 60


@dataclass(frozen=True)
class Start:
    label: str
    wall_seconds: float
    cpu_seconds: float
    deployment: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_once(label: str, work_dir: Path, run_args: list[str]) -> Start:
    command = [
        sys.executable,
        "-m",
        "wspush_local.cli",
        "run",
        "--port",
        "0",
        "--emulator-port",
        "0",
        "--publish-port",
        "0",
        "--no-reload",
        "--work-dir",
        str(work_dir),
        *run_args,
    ]
    cpu_before = _children_cpu()
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its workers too, should it not stop by itself
    )
    assert process.stdout is not None
    deployment = "?"
    wall: float | None = None
    output: list[str] = []
    for line in process.stdout:
        output.append(line)
        if match := DEPLOYED.search(line.rstrip()):
            deployment = match.group(1)
        if READY.search(line.rstrip()):
            wall = time.monotonic() - started
            break
        if time.monotonic() - started > TIMEOUT_SECONDS:
            break
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"{label}: the stack did not stop within {STOP_SECONDS} s; killed", file=sys.stderr)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    if wall is None:
        sys.exit(f"{label}: the stack never got ready:\n{''.join(output[-40:])}")
    # The CPU of the whole start and its short stop: the stop is well under a second.
    return Start(label, wall, _children_cpu() - cpu_before, deployment)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="unchanged starts to time")
    parser.add_argument("--keep", help="use (and keep) this work directory")
    parser.add_argument("run_args", nargs="*", help="more `wspush run` arguments, after --")
    args = parser.parse_args()
    work_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wspush-timing-"))
    shutil.rmtree(work_dir, ignore_errors=True)
    try:
        starts = [start_once("first start (new work directory)", work_dir, args.run_args)]
        for run in range(args.runs):
            starts.append(start_once(f"unchanged start {run + 1}", work_dir, args.run_args))
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(f"{'start':34} {'ready (s)':>10} {'CPU (s)':>8}  deployment")
    for start in starts:
        print(
            f"{start.label:34} {start.wall_seconds:10.1f} {start.cpu_seconds:8.1f}  "
            f"{start.deployment}"
        )
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

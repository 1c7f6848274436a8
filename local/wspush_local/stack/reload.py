"""Reload on save: while the stack runs, a change to the function sources rebuilds the zips
and the functions whose zip changed run the new one from their next invocation.

A polling watcher (every ``interval`` seconds, file sizes and modification times; no
dependency on an OS notification API) with a debounce: a rebuild starts once the sources
have been quiet for ``quiet`` seconds, so an editor's save-and-rename or a ``git checkout``
of many files is one rebuild. What runs is still the built zip, unpacked by the runtime
(never the source tree). The WebSocket connections live in the gateway, so they survive.

A rebuild that fails is reported with the build's output and changes nothing: the
functions keep running their last good zip until the next save. A change to the
Terraform configuration cannot be reloaded (the emulator holds what the last apply
created): it is reported with the restart that applies it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wspush_local.runtime.service import LocalLambda
from wspush_local.stack.snapshot import configuration_files

log = logging.getLogger("wspush.reload")
POLL_SECONDS = 0.5
QUIET_SECONDS = 0.4
# How much of a failed build's output the console shows.
BUILD_OUTPUT_TAIL = 3000
_IGNORED_DIRECTORIES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")

# (path, size, mtime_ns) of every file watched.
Fingerprint = frozenset[tuple[str, int, int]]
# Called with the function names reloaded and the zip each now runs.
Reloaded = Callable[[dict[str, Path]], Awaitable[None]]


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """What polling compares: every file under ``paths`` (a file or a directory)."""
    seen: set[tuple[str, int, int]] = set()
    for top in paths:
        if top.is_file():
            stat = top.stat()
            seen.add((str(top), stat.st_size, stat.st_mtime_ns))
            continue
        for directory, subdirectories, files in os.walk(top):
            subdirectories[:] = [
                d for d in subdirectories if d not in _IGNORED_DIRECTORIES and d[0] != "."
            ]
            for name in files:
                if name.endswith(_IGNORED_SUFFIXES) or name.startswith("."):
                    continue
                path = os.path.join(directory, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:  # deleted while walking: the next poll sees it
                    continue
                seen.add((path, stat.st_size, stat.st_mtime_ns))
    return frozenset(seen)


def configuration_fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """What polling compares for the configuration: the files an apply reads (not its
    state, tests or docs, which change without changing what is deployed)."""
    files: list[Path] = []
    for top in paths:
        files.extend(configuration_files(top) if top.is_dir() else [top])
    return fingerprint(files)


def changed_files(before: Fingerprint, after: Fingerprint) -> list[str]:
    return sorted({entry[0] for entry in before ^ after})


@dataclass
class Watcher:
    """Polls ``sources`` (rebuilt and reloaded) and ``configuration`` (reported)."""

    runtime: LocalLambda
    sources: Sequence[Path]
    configuration: Sequence[Path]
    build_command: Sequence[str]
    root: Path
    interval: float = POLL_SECONDS
    quiet: float = QUIET_SECONDS
    # Called after a reload (the stack refreshes the emulator's record of the code).
    on_reload: Reloaded | None = None
    rebuilds: int = 0  # builds run, failed or not
    _sources: Fingerprint = field(default_factory=frozenset)
    _configuration: Fingerprint = field(default_factory=frozenset)

    def _relative(self, paths: Iterable[str]) -> str:
        shown = []
        for path in paths:
            try:
                shown.append(str(Path(path).relative_to(self.root)))
            except ValueError:
                shown.append(path)
        return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")

    async def run(self) -> None:
        """Watch until cancelled."""
        self._sources = await asyncio.to_thread(fingerprint, self.sources)
        self._configuration = await asyncio.to_thread(configuration_fingerprint, self.configuration)
        log.info(
            "watching %s for changes (a change rebuilds and reloads the functions)",
            self._relative(str(p) for p in self.sources),
        )
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        """One look at the files: report a configuration change, rebuild on a source one."""
        configuration = await asyncio.to_thread(configuration_fingerprint, self.configuration)
        if configuration != self._configuration:
            changed = changed_files(self._configuration, configuration)
            self._configuration = configuration
            log.warning(
                "the Terraform configuration changed (%s): restart the stack (Ctrl-C, then "
                "`make run`) to apply it; the running stack keeps the configuration it "
                "started with",
                self._relative(changed),
            )
        sources = await asyncio.to_thread(fingerprint, self.sources)
        if sources == self._sources:
            return
        # Debounce: wait until the sources stop changing.
        while True:
            await asyncio.sleep(self.quiet)
            settled = await asyncio.to_thread(fingerprint, self.sources)
            if settled == sources:
                break
            sources = settled
        changed = changed_files(self._sources, sources)
        self._sources = sources
        await self.rebuild(changed)

    async def rebuild(self, changed: list[str]) -> dict[str, Path]:
        """Build, then reload every function whose zip changed. Returns what was reloaded."""
        log.info("%s changed: rebuilding…", self._relative(changed))
        self.rebuilds += 1
        build = await asyncio.create_subprocess_exec(
            *self.build_command,
            cwd=self.root,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await build.communicate()
        if build.returncode != 0:
            text = output.decode(errors="replace")[-BUILD_OUTPUT_TAIL:]
            log.error(
                "rebuild failed (exit %s); the functions keep running their last good zip:\n%s",
                build.returncode,
                text.rstrip(),
            )
            return {}
        reloaded: dict[str, Path] = {}
        for name in self.runtime.names():
            package = self.runtime.package_of(name)
            if not package.is_file():
                log.error("rebuild left no %s; %s keeps running its last zip", package, name)
                continue
            before = self.runtime.digest_of(name)
            if await asyncio.to_thread(_sha256, package) != before:
                digest = await self.runtime.reload(name, package)
                reloaded[name] = package
                log.info("reloaded %s: %s (sha256 %s…)", name, package.name, digest[:12])
        if not reloaded:
            log.info("rebuilt; no function's zip changed")
        elif self.on_reload is not None:
            await self.on_reload(reloaded)
        return reloaded


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

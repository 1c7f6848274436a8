"""Where the project's files are, and running Terraform on them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("wspush.terraform")


class TerraformError(RuntimeError):
    """A terraform command failed; the message carries its output."""


# What the provider's HTTP transport reports when a keep-alive connection to the local
# emulator is lost mid-request. The emulated provider runs with max_retries = 1 (an
# emulator answers at once or never), so the SDK does not retry these itself.
TRANSIENT_TRANSPORT_ERRORS = (
    "use of closed network connection",
    "connection reset by peer",
    "broken pipe",
)


def lost_connection(output: str) -> bool:
    """True when a terraform run failed only because a connection to the emulator broke."""
    return any(signature in output for signature in TRANSIENT_TRANSPORT_ERRORS)


# What a provider started with -debug prints once it serves (the HashiCorp plugin SDK's
# managed debug mode), and how long it may take on a loaded machine.
REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(\{.*\})'")
PROVIDER_START_SECONDS = 60


def _drain(stream: Any) -> None:
    """Read a provider's output to its end, so a full pipe never blocks it."""
    for _line in stream:
        pass


@contextlib.contextmanager
def shared_provider(binary: Path, directory: Path, environment: dict[str, str]) -> Iterator[str]:
    """Run ``binary`` (a Terraform provider) once, in debug mode, for as long as the
    ``with`` lasts, and yield the TF_REATTACH_PROVIDERS value that makes terraform use it.
    It runs in the configuration's ``directory`` (where terraform -chdir runs the
    providers it starts: relative paths such as a zip's resolve against it), with
    terraform's ``environment`` (the credentials and endpoints the configuration reads).

    terraform apply otherwise starts the provider anew for each of its walks (validate,
    plan, apply), and the AWS provider takes seconds to start; a reattached one is started
    once and terraform never stops it (this does)."""
    # A reattached provider is configured once per walk, and the AWS provider refuses to
    # wrap its HTTP client in a CA bundle twice ("unable to add custom RootCAs"); the
    # emulator is plain HTTP on loopback, so no bundle is needed.
    environment = {k: v for k, v in environment.items() if k != "AWS_CA_BUNDLE"}
    process = subprocess.Popen(
        [str(binary), "-debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=environment,
        cwd=directory,
        text=True,
    )
    assert process.stdout is not None
    found: list[str] = []

    def read_until_served() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = REATTACH_LINE.search(line)
            if match:
                found.append(match.group(1))
                break
        _drain(process.stdout)

    reader = threading.Thread(target=read_until_served, daemon=True)
    reader.start()
    deadline = time.monotonic() + PROVIDER_START_SECONDS
    try:
        while not found and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not found:
            raise TerraformError(f"{binary.name} -debug did not start serving")
        yield found[0]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def project_root() -> Path:
    configured = os.environ.get("WSPUSH_ROOT")
    if configured:
        return Path(configured).resolve()
    for candidate in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (candidate / "terraform" / "main.tf").is_file():
            return candidate
    raise TerraformError("cannot find the wspush project (set WSPUSH_ROOT)")


def cli_config(root: Path) -> Path:
    """The generated Terraform CLI config (a provider mirror when one exists)."""
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).is_file():
        return Path(configured)
    path = root / "build" / "terraform.rc"
    if not path.is_file():
        subprocess.run([str(root / "scripts" / "terraform-cli-config.sh"), str(path)], check=True)
    return path


def example_directory(root: Path, name: str) -> Path:
    """``examples/<name>``, a complete configuration that uses the wspush module."""
    directory = root / "examples" / name
    if not (directory / "main.tf").is_file():
        known = sorted(p.parent.name for p in (root / "examples").glob("*/main.tf"))
        raise TerraformError(f"no example {name!r} (examples: {', '.join(known) or 'none'})")
    # The example sources wspush at a release; this file points it at the working tree.
    if not (directory / "repository_override.tf").is_file():
        raise TerraformError(
            f"examples/{name}/repository_override.tf is missing: run `make setup` first"
        )
    return directory


class Terraform:
    """terraform in one configuration (the root one, terraform/, unless ``directory`` says
    otherwise), with its own data dir and state. ``var_file`` applies to apply and destroy."""

    def __init__(
        self,
        root: Path,
        data_dir: Path | None = None,
        state: Path | None = None,
        environment: dict[str, str] | None = None,
        directory: Path | None = None,
        var_file: Path | None = None,
    ) -> None:
        self.directory = directory or root / "terraform"
        self.var_file = var_file
        self.state = state
        self.environment = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config(root)),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            **(environment or {}),
        }
        if data_dir is not None:
            self.environment["TF_DATA_DIR"] = str(data_dir)

    def _run(self, *args: str, capture: bool = True) -> str:
        result = subprocess.run(
            ["terraform", f"-chdir={self.directory}", *args],
            env=self.environment,
            capture_output=capture,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout or "") + (result.stderr or "")
            raise TerraformError(f"terraform {args[0]} failed:\n{output[-4000:]}")
        return result.stdout or ""

    def init(self) -> None:
        args = ["init", "-no-color", "-lockfile=readonly"]
        if self.state is not None:
            args.append(f"-backend-config=path={self.state}")
        self._run(*args)

    def plan(
        self, variables: dict[str, str], var_file: Path | None = None, out: Path | None = None
    ) -> str:
        """The plan's output; ``out`` also saves the plan there (for ``show_plan``)."""
        flags = [f"-var={name}={value}" for name, value in variables.items()]
        if var_file is not None:
            flags.append(f"-var-file={var_file}")
        if out is not None:
            flags.append(f"-out={out}")
        return self._run("plan", "-no-color", "-input=false", *flags)

    def show_plan(self, plan_file: Path) -> dict[str, Any]:
        """A saved plan as ``terraform show -json`` describes it."""
        shown: dict[str, Any] = json.loads(self._run("show", "-json", "-no-color", str(plan_file)))
        return shown

    def _flags(self, variables: dict[str, str]) -> list[str]:
        flags = [f"-var={name}={value}" for name, value in variables.items()]
        if self.var_file is not None:
            flags.append(f"-var-file={self.var_file}")
        return flags

    def _converge(self, *args: str) -> None:
        """Run apply or destroy, once more if a connection broke: both converge, so the
        second run finishes only what the first left undone."""
        try:
            self._run(*args)
        except TerraformError as error:
            if not lost_connection(str(error)):
                raise
            log.warning(
                "terraform %s lost its connection to the emulator; running it again", args[0]
            )
            self._run(*args)

    def apply(self, variables: dict[str, str]) -> None:
        """Apply, with one provider process for all of terraform's walks when this data
        dir has the provider installed (see ``shared_provider``)."""
        binary = self._installed_provider()
        if binary is None:
            self._converge("apply", "-no-color", "-auto-approve", *self._flags(variables))
            return
        with contextlib.ExitStack() as provider:
            try:
                reattach = provider.enter_context(
                    shared_provider(binary, self.directory, self.environment)
                )
            except (TerraformError, OSError) as error:
                log.warning("%s; terraform starts its own provider instead", error)
            else:
                self.environment["TF_REATTACH_PROVIDERS"] = reattach
            try:
                self._converge("apply", "-no-color", "-auto-approve", *self._flags(variables))
            finally:
                self.environment.pop("TF_REATTACH_PROVIDERS", None)

    def _installed_provider(self) -> Path | None:
        """The AWS provider binary ``init`` installed in this data dir, if exactly one."""
        data_dir = self.environment.get("TF_DATA_DIR")
        if data_dir is None:
            return None
        found = sorted(
            (Path(data_dir) / "providers" / "registry.terraform.io" / "hashicorp" / "aws").glob(
                "*/*/terraform-provider-aws*"
            )
        )
        return found[0] if len(found) == 1 else None

    def destroy(self, variables: dict[str, str]) -> None:
        self._converge("destroy", "-no-color", "-auto-approve", *self._flags(variables))

    @property
    def initialised(self) -> bool:
        """Whether ``init`` ran in this data dir (it records the backend there)."""
        data_dir = self.environment.get("TF_DATA_DIR")
        return data_dir is not None and (Path(data_dir) / "terraform.tfstate").is_file()

    def version(self) -> str:
        """Terraform's version, as ``terraform version`` reports it."""
        return str(json.loads(self._run("version", "-json"))["terraform_version"])

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(self._run("output", "-json", "-no-color"))
        return {name: value["value"] for name, value in raw.items()}

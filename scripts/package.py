"""Write reproducible Lambda zips and their manifest.

A package's identity is its sorted contents: entries are sorted, every timestamp is
1980-01-01, permissions are normalised and bytecode caches are left out, so rebuilding
unchanged code gives a byte-identical zip and ``source_code_hash`` moves only with code.

Nothing depends on where the checkout is: console scripts (``bin/``, whose shebang names
the build's interpreter) are left out, and each ``*.dist-info/RECORD`` lists only the
files the zip holds, so two clones at different paths build the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# The project's one version (the release names its artifacts after it).
VERSION = (Path(__file__).resolve().parents[1] / "VERSION").read_text().strip()
# Provided by the Lambda runtime; bundling them would only add megabytes. "bin" holds
# console scripts, which nothing imports and whose shebang names the build's interpreter.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py", "bin"}
SKIPPED_PARTS = {"__pycache__"}
BACKEND_ONLY = ("sdk/", "py.typed")
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def _wanted(relative: Path) -> bool:
    if relative.parts[0] in RUNTIME_PROVIDED:
        return False
    top = relative.parts[0]
    if top.endswith(".dist-info") and top.split("-")[0].lower() in {
        "boto3",
        "botocore",
        "s3transfer",
        "urllib3",
        "python_dateutil",
        "six",
    }:
        return False
    if SKIPPED_PARTS.intersection(relative.parts):
        return False
    return relative.suffix not in SKIPPED_SUFFIXES


def collect(roots: list[Path]) -> dict[str, Path]:
    """Map archive name -> file, later roots winning (the project's code over deps)."""
    files: dict[str, Path] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and _wanted(path.relative_to(root)):
                files[path.relative_to(root).as_posix()] = path
    return files


def record_of_archive(record: bytes, names: set[str]) -> bytes:
    """A RECORD limited to the files in the zip: pip also lists what it put outside the
    package tree (``../../bin/jp.py``, with the hash of a shebang naming the build's
    interpreter), which the zip leaves out and which differs from checkout to checkout."""
    lines = record.decode().splitlines(keepends=True)
    return "".join(line for line in lines if line.split(",", 1)[0] in names).encode()


def write_zip(target: Path, files: dict[str, Path]) -> None:
    names = set(files)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix, so the permission bits are honoured
            data = files[name].read_bytes()
            if name.endswith(".dist-info/RECORD"):
                data = record_of_archive(data, names)
            archive.writestr(info, data, compresslevel=9)


# pip's platform tag for each Lambda architecture (manylinux2014 is what Lambda's
# Amazon Linux 2023 runtimes accept).
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def pip_target(runtime_file: Path) -> tuple[str, str]:
    """The Python version and pip platform of the Lambda target Terraform deploys
    (lambdas/runtime.json, read by modules/lambda_function too)."""
    target = json.loads(runtime_file.read_text())
    runtime, architecture = target["runtime"], target["architecture"]
    if not runtime.startswith("python") or architecture not in PIP_PLATFORMS:
        raise ValueError(f"{runtime_file}: not a Python runtime on a Lambda architecture")
    return runtime.removeprefix("python"), PIP_PLATFORMS[architecture]


def main() -> int:
    if sys.argv[1:2] == ["--pip-target"]:
        print(*pip_target(Path(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deps", type=Path, help="installed dependencies (none if omitted)")
    parser.add_argument("--source", type=Path, required=True, help="directory holding --package")
    parser.add_argument("--package", default="wspush", help="top-level package (default wspush)")
    parser.add_argument("--prefix", default="", help="prefix of each manifest entry")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("functions", nargs="+", help="function names")
    args = parser.parse_args()

    package = args.source / args.package
    if not package.is_dir():
        print(f"package: {package} not found", file=sys.stderr)
        return 1
    # Only the package itself (and the dependencies) go in, not its siblings.
    files = collect([args.deps] if args.deps else [])
    # The backend SDK (wspush.sdk) ships in the wheel for callers; no function imports it.
    files.update(
        {
            f"{args.package}/{name}": path
            for name, path in collect([package]).items()
            if not name.startswith(BACKEND_ONLY)
        }
    )
    for function in args.functions:
        handler_module = package / "handlers" / f"{function}.py"
        if not handler_module.is_file():
            print(f"package: no handler module {handler_module}", file=sys.stderr)
            return 1
    # One zip per package: its functions differ only in their handler.
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{args.package}.zip"
    write_zip(target, files)
    digest = hashlib.sha256(target.read_bytes()).digest()
    size = target.stat().st_size
    print(f"package: {target} {size} bytes sha256={digest.hex()[:16]}")
    # Several packages share one manifest: each run updates its own entries.
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for function in args.functions:
        manifest[f"{args.prefix}{function}"] = {
            "zip": target.name,
            "handler": f"{args.package}.handlers.{function}.handler",
            "sha256": digest.hex(),
            "code_sha256": base64.b64encode(digest).decode(),
            "size": size,
            "version": VERSION,
        }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

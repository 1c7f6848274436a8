"""Write dist/release/: every artifact of this version, reproducibly, and SHA256SUMS.

- wspush-lambda-<version>.zip: the code of every wspush function (the module's
  lambda_package), wspush-order-status-lambda-<version>.zip and
  wspush-chat-moderation-lambda-<version>.zip, the examples' functions;
- wspush-<version>-py3-none-any.whl and wspush-<version>.tar.gz: the Python package;
- wspush-client-<version>.tgz: the JavaScript client (``npm pack`` of clients/js);
- SHA256SUMS, in ``sha256sum``'s format (``sha256sum -c SHA256SUMS`` checks a download);

and, beside them, dist/release-notes.md: CHANGELOG.md's section for the version. With
``--tag``, the tag must be ``v<version>``.

The version is VERSION's; the release refuses to start while pyproject.toml, the client's
package.json, the examples' module ``?ref=`` or CHANGELOG.md say otherwise. Two checkouts of
the same commit write byte-identical artifacts: every timestamp is the commit's
(SOURCE_DATE_EPOCH), archive entries are sorted with normalised owners and permissions, and
the Python package is built from the tracked files alone, so nothing untracked slips in.

Run it with the interpreter whose ``build`` and ``setuptools`` build the package (the
Makefile's virtualenv, requirements-release.txt); it runs build.sh with the same one.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "dist" / "release"
# Where the examples and the docs name a release: module sources (the tag is v<version>),
# download URLs and the zips' names. Placeholders such as <version> are not versions.
RELEASE_REFERENCES = re.compile(
    r"github\.com/wspush/wspush\.git//[^?\s\"]+\?ref=v(\d[^\"\s)`]*)"
    r"|releases/download/v(\d[^/\s\"`]*)"
    r"|wspush-(?:order-status-)?lambda-(\d[^\s\"`]*?)\.zip"
)
# Files that state the current version (CHANGELOG.md names past ones too).
RELEASE_REFERENCE_FILES = (
    "README.md", "docs/*.md", "examples/*/README.md", "examples/*/*.tf",
    "terraform/modules/wspush/README.md",
)  # fmt: skip
# Built by build.sh in dist/, released under versioned names.
FUNCTION_ZIPS = {
    "wspush.zip": "wspush-lambda-{}.zip",
    "order_status.zip": "wspush-order-status-lambda-{}.zip",
    "chat_moderation.zip": "wspush-chat-moderation-lambda-{}.zip",
}


class ReleaseError(RuntimeError):
    """The checkout cannot be released as it is; the message says why."""


def project_version(root: Path = ROOT) -> str:
    version = (root / "VERSION").read_text().strip()
    if not re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?", version):
        raise ReleaseError(f"VERSION is {version!r}, not a semantic version (MAJOR.MINOR.PATCH)")
    return version


def check_versions(root: Path = ROOT) -> str:
    """VERSION, once every place that states the version agrees with it."""
    version = project_version(root)
    found = {
        "pyproject.toml": tomllib.loads((root / "pyproject.toml").read_text())["project"].get(
            "version"
        ),
        "clients/js/package.json": json.loads(
            (root / "clients" / "js" / "package.json").read_text()
        ).get("version"),
    }
    problems = [f"{where} says {said!r}" for where, said in found.items() if said != version]
    for pattern in RELEASE_REFERENCE_FILES:
        for path in sorted(root.glob(pattern)):
            for match in RELEASE_REFERENCES.finditer(path.read_text()):
                said = next(group for group in match.groups() if group)
                if said != version:
                    problems.append(f"{path.relative_to(root)} says {said!r} ({match.group(0)})")
    heading = rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    if not re.search(heading, (root / "CHANGELOG.md").read_text(), re.MULTILINE):
        problems.append(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section")
    if problems:
        raise ReleaseError(f"the version is {version} (VERSION), but " + "; ".join(problems))
    return version


def release_notes(root: Path, version: str) -> str:
    """CHANGELOG.md's section for the version, without its heading."""
    changelog = (root / "CHANGELOG.md").read_text()
    start = re.search(rf"^## \[{re.escape(version)}\].*$", changelog, re.MULTILINE)
    if start is None:
        raise ReleaseError(f"CHANGELOG.md has no section for {version}")
    end = re.search(r"^(## \[|\[[^\]]+\]: )", changelog[start.end() :], re.MULTILINE)
    section = changelog[start.end() : start.end() + end.start() if end else None]
    return section.strip() + "\n"


def source_date_epoch(root: Path) -> int:
    """The commit's time: the same for every checkout of it."""
    output = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%ct"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output.strip())


def normalised_tar_gz(source: Path, target: Path, epoch: int) -> None:
    """The archive's members sorted, owned by root, at the epoch; gzip without a name."""
    with tarfile.open(source, "r:gz") as archive:
        members = sorted(archive.getmembers(), key=lambda member: member.name)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as normalised:
            for member in members:
                data = archive.extractfile(member) if member.isfile() else None
                member.mtime = epoch
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
                member.pax_headers = {}
                normalised.addfile(member, data)
    with target.open("wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=epoch) as compressed:
        compressed.write(buffer.getvalue())


def normalised_zip(source: Path, target: Path, epoch: int) -> None:
    """The same entries in the same order (a wheel's RECORD comes last), each at the epoch
    with plain permissions."""
    stamp = max(epoch, 315532800)  # zip cannot date anything before 1980
    date_time = time.gmtime(stamp)[:6]
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as normalised:
        for entry in archive.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=date_time)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o755 if entry.external_attr >> 16 & 0o111 else 0o644) << 16
            normalised.writestr(info, archive.read(entry), compresslevel=9)


def tracked_copy(root: Path, destination: Path) -> None:
    """The checkout's tracked files (as they are in the work tree) and nothing else."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached"],
        check=True,
        capture_output=True,
    ).stdout
    for name in sorted(filter(None, listed.decode().split("\0"))):
        path = root / name
        if path.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / name)


def build_python_package(root: Path, out: Path, epoch: int, environment: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="wspush-release-") as scratch:
        sources = Path(scratch) / "sources"
        built = Path(scratch) / "built"
        tracked_copy(root, sources)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--no-isolation",
                "--sdist",
                "--wheel",
                "--outdir",
                str(built),
                str(sources),
            ],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ReleaseError(f"python -m build failed:\n{result.stdout}{result.stderr}")
        for artifact in sorted(built.iterdir()):
            if artifact.name.endswith(".tar.gz"):
                normalised_tar_gz(artifact, out / artifact.name, epoch)
            else:
                normalised_zip(artifact, out / artifact.name, epoch)


def pack_js_client(root: Path, out: Path, epoch: int, environment: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="wspush-npm-") as scratch:
        output = subprocess.run(
            ["npm", "pack", "--json", "--silent", "--pack-destination", scratch],
            cwd=root / "clients" / "js",
            check=True,
            capture_output=True,
            text=True,
            env=environment,
        ).stdout
        filename = json.loads(output)[0]["filename"]
        # "@wspush/client" packs as wspush-client-<version>.tgz.
        normalised_tar_gz(Path(scratch) / filename, out / Path(filename).name, epoch)


def write_checksums(out: Path) -> Path:
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        for path in sorted(out.iterdir())
        if path.name != "SHA256SUMS"
    ]
    checksums = out / "SHA256SUMS"
    checksums.write_text("".join(lines))
    return checksums


def release(root: Path, out: Path, tag: str | None = None) -> Path:
    version = check_versions(root)
    if tag is not None and tag != f"v{version}":
        raise ReleaseError(
            f"the tag is {tag}, but the version is {version} (VERSION): tag v{version}"
        )
    epoch = source_date_epoch(root)
    environment = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHON": sys.executable}
    subprocess.run([str(root / "build.sh")], cwd=root, check=True, env=environment)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for built, released in FUNCTION_ZIPS.items():
        shutil.copyfile(root / "dist" / built, out / released.format(version))
    build_python_package(root, out, epoch, environment)
    pack_js_client(root, out, epoch, environment)
    # Beside the artifacts, not among them: the GitHub release's text.
    (out.parent / "release-notes.md").write_text(release_notes(root, version))
    return write_checksums(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that every stated version agrees"
    )
    parser.add_argument("--tag", help="the git tag being released: must be v<VERSION>")
    args = parser.parse_args()
    try:
        if args.check:
            print(f"release: every stated version is {check_versions()}")
            return 0
        checksums = release(ROOT, OUT, args.tag)
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    print(f"release: {OUT.relative_to(ROOT)}/")
    print(checksums.read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One version for the whole project: VERSION, and every place that states it agrees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
release = load_script("release")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files that state the version, as they are in this checkout."""
    for name in ("VERSION", "pyproject.toml", "CHANGELOG.md", "clients/js/package.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    for main in (ROOT / "examples").glob("*/main.tf"):
        (tmp_path / "examples" / main.parent.name).mkdir(parents=True)
        shutil.copy(main, tmp_path / "examples" / main.parent.name / "main.tf")
    return tmp_path


def test_this_checkout_states_one_version():
    version = release.check_versions(ROOT)
    assert version == (ROOT / "VERSION").read_text().strip()
    assert f"?ref=v{version}" in (ROOT / "examples" / "basic" / "main.tf").read_text()


def test_a_package_json_at_another_version_is_refused(project: Path):
    manifest = project / "clients" / "js" / "package.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "9.9.9"}))
    with pytest.raises(release.ReleaseError, match=r"clients/js/package.json says '9.9.9'"):
        release.check_versions(project)


def test_a_pyproject_at_another_version_is_refused(project: Path):
    pyproject = project / "pyproject.toml"
    version = (project / "VERSION").read_text().strip()
    pyproject.write_text(
        pyproject.read_text().replace(f'version = "{version}"', 'version = "0.0.1"')
    )
    with pytest.raises(release.ReleaseError, match=r"pyproject.toml says '0.0.1'"):
        release.check_versions(project)


def test_an_example_pinned_to_another_tag_is_refused(project: Path):
    main = project / "examples" / "basic" / "main.tf"
    version = (project / "VERSION").read_text().strip()
    main.write_text(main.read_text().replace(f"?ref=v{version}", "?ref=v0.0.1"))
    with pytest.raises(release.ReleaseError, match=r"examples/basic/main.tf says .0.0.1."):
        release.check_versions(project)


def test_a_version_without_a_changelog_section_is_refused(project: Path):
    (project / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n")
    with pytest.raises(release.ReleaseError, match=r"CHANGELOG.md has no '## \[.*\] - YYYY-MM-DD'"):
        release.check_versions(project)


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "01.2.3", "1.2.3 beta"])
def test_a_version_that_is_not_semantic_is_refused(project: Path, version: str):
    (project / "VERSION").write_text(version + "\n")
    with pytest.raises(release.ReleaseError, match="not a semantic version"):
        release.check_versions(project)


def test_a_tag_other_than_v_version_is_refused_before_anything_is_built(tmp_path: Path):
    out = tmp_path / "release"
    with pytest.raises(release.ReleaseError, match=r"the tag is v0\.0\.1, but the version is"):
        release.release(ROOT, out, tag="v0.0.1")
    assert not out.exists()


def test_the_release_notes_are_the_versions_changelog_section(project: Path):
    (project / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n- next\n\n## [1.1.0] - 2026-01-02\n\n### Added\n\n"
        "- this\n\n## [1.0.0] - 2026-01-01\n\n- that\n\n[1.1.0]: https://example.com\n"
    )
    assert release.release_notes(project, "1.1.0") == "### Added\n\n- this\n"
    assert release.release_notes(project, "1.0.0") == "- that\n"


def test_docs_naming_another_release_are_refused_but_placeholders_are_not(project: Path):
    (project / "docs").mkdir()
    (project / "docs" / "module.md").write_text(
        "Download `wspush-lambda-<version>.zip` from the release:\n"
        "curl -fLO https://github.com/wspush/wspush/releases/download/v0.1.0/wspush-lambda-0.1.0.zip\n"
    )
    with pytest.raises(release.ReleaseError) as refused:
        release.check_versions(project)
    assert str(refused.value).count("docs/module.md says '0.1.0'") == 2
    assert "<version>" not in str(refused.value)

"""Where projects come from: the template mirror, plain copier, and a non-editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from gates import gate_failures

from trigger_scaffold._template import TEMPLATE_ENTRIES, git, sync_template_repo, template_root

REPO = Path(__file__).resolve().parent.parent


def _answers(project: Path) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return data


def test_answers_record_commit_and_a_lasting_source(
    new_project: Callable[..., Path], scaffold_home: Path
) -> None:
    project = new_project("--trigger", "sqs:orders")
    answers = _answers(project)
    src = Path(str(answers["_src_path"]))
    assert src == scaffold_home / "template"
    assert src.is_dir()
    full = git("rev-parse", str(answers["_commit"]), cwd=src).strip()
    assert git("cat-file", "-t", full, cwd=src).strip() == "commit"
    assert answers["triggers"] == [{"name": "orders", "kind": "sqs", "idempotency": True}]
    assert {"project_name", "pattern", "runtime", "architecture"} <= set(answers)
    assert "catalog" not in answers
    assert "event_files" not in answers


def test_mirror_commits_only_when_the_template_changes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for entry in TEMPLATE_ENTRIES:
        src = template_root() / entry
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / entry)
        else:
            source.mkdir(exist_ok=True)
            (source / entry).write_bytes(src.read_bytes())
    repo = tmp_path / "mirror"
    first = sync_template_repo(source, repo, "v1")
    assert sync_template_repo(source, repo, "v1 again") == first
    with (source / "copier.yml").open("a") as handle:
        handle.write("# a template change\n")
    second = sync_template_repo(source, repo, "v2")
    assert second != first
    assert git("rev-list", "--count", "HEAD", cwd=repo).strip() == "2"
    assert git("status", "--porcelain", cwd=repo).strip() == ""


def test_plain_copier_copy_without_trust(tmp_path: Path, template_repo: Path) -> None:
    """DESIGN: `copier copy --defaults --data ...` works on the repo without --trust."""
    template = template_repo
    dest = tmp_path / "demo"
    copier = Path(sys.executable).parent / "copier"
    result = subprocess.run(
        [
            str(copier),
            "copy",
            "--defaults",
            "--data",
            "project_name=demo",
            "--data",
            "triggers=[{name: orders, kind: sqs}]",
            "--data",
            "pattern=none",
            str(template),
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (dest / "functions" / "orders" / "app.py").is_file()
    assert _answers(dest)["_commit"]
    failures = gate_failures(dest)
    assert not failures, "\n".join(failures)


COPIER_REFUSALS = {
    "unknown kind": ("[{name: a, kind: nope}]", "unknown trigger kind 'nope'"),
    "clashing ids": ("[{name: a, kind: sqs}, {name: a-queue, kind: s3}]", "clashing resource"),
    "retired kind": ("[{name: a, kind: iot-events}]", "shut down by AWS"),
    "traversal name": ("[{name: ../x, kind: sqs}]", "trigger name '../x' is invalid"),
    "duplicate": ("[{name: a, kind: sqs}, {name: a, kind: s3}]", "used twice"),
    "not a list": ("{name: a, kind: sqs}", "non-empty YAML list"),
    "empty": ("[]", "non-empty YAML list"),
    "missing kind": ("[{name: a}]", "needs a name and a kind"),
}


@pytest.mark.parametrize(
    ("triggers", "message"), COPIER_REFUSALS.values(), ids=COPIER_REFUSALS.keys()
)
def test_copier_yml_validators_refuse(
    tmp_path: Path, template_repo: Path, triggers: str, message: str
) -> None:
    from copier import run_copy

    dest = tmp_path / "out"
    with pytest.raises(ValueError, match="Validation error") as info:
        run_copy(
            str(template_repo),
            dest,
            data={"project_name": "demo", "triggers": triggers},
            defaults=True,
            quiet=True,
            vcs_ref="HEAD",
        )
    assert message in str(info.value)


def test_wheel_install_bundles_a_template_that_outlives_the_command(tmp_path: Path) -> None:
    """A non-editable install: the template comes from package data, `_src_path` persists."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("trigger_scaffold-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "trigger_scaffold/_template/copier.yml" in names
    assert "trigger_scaffold/_template/templates/catalog.yml" in names
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    home = tmp_path / "home"
    dest = tmp_path / "svc"
    env = {**os.environ, "PYTHONPATH": str(site), "TRIGGER_SCAFFOLD_HOME": str(home)}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from trigger_scaffold._template import template_root; print(template_root())",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert Path(probe.stdout.strip()) == site / "trigger_scaffold" / "_template"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trigger_scaffold",
            "new",
            str(dest),
            "--no-input",
            "-q",
            "--trigger",
            "sqs",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answers = _answers(dest)
    assert Path(str(answers["_src_path"])) == home / "template"
    assert (home / "template" / ".git").is_dir()
    git("cat-file", "-e", f"{answers['_commit']}^{{commit}}", cwd=home / "template")


def test_mirror_tags_the_first_commit_of_a_release(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for entry in TEMPLATE_ENTRIES:
        src = template_root() / entry
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / entry)
        else:
            source.mkdir(exist_ok=True)
            (source / entry).write_bytes(src.read_bytes())
    repo = tmp_path / "mirror"
    first = sync_template_repo(source, repo, "1.0", tag="1.0.0")
    assert git("describe", "--tags", "--always", cwd=repo).strip() == "1.0.0"
    with (source / "copier.yml").open("a") as handle:
        handle.write("# edited in a checkout of the same release\n")
    second = sync_template_repo(source, repo, "1.0 again", tag="1.0.0")
    assert second != first
    # The tag never moves; later commits of the release are described relative to it.
    assert git("rev-parse", "1.0.0^{commit}", cwd=repo).strip() == first
    assert git("describe", "--tags", cwd=repo).strip().startswith("1.0.0-1-g")
    sync_template_repo(source, repo, "not a release", tag="main")
    assert git("tag", "--list", cwd=repo).split() == ["1.0.0"]

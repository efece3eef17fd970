"""The command line: help, version, listing, and one-line refusals that leave nothing behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli

from trigger_scaffold import __version__, load_catalog
from trigger_scaffold._cli import main


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"trigger-scaffold {__version__}"


@pytest.mark.parametrize("command", [[], ["new"], ["add-trigger"], ["update"], ["list"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: trigger-scaffold")


def test_new_help_names_every_flag_of_the_contract() -> None:
    out = run_cli("new", "--help").stdout
    for flag in (
        "--trigger",
        "--pattern",
        "--project-name",
        "--runtime",
        "--no-input",
        "--template",
        "--vcs-ref",
        "--architecture",
    ):
        assert flag in out


def test_list_shows_every_kind_with_its_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind in load_catalog().triggers:
        line = next(x for x in out.splitlines() if x.split()[:1] == [kind.id])
        assert kind.invocation in line.split()
    assert "RETIRED" in next(x for x in out.splitlines() if x.strip().startswith("iot-events"))
    codecommit = next(x for x in out.splitlines() if x.strip().startswith("codecommit"))
    assert "closed to new AWS customers" in codecommit


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in data["triggers"]] == [k.id for k in load_catalog().triggers]
    assert {t["invocation"] for t in data["triggers"]} == {"sync", "async", "poll"}
    assert data["patterns"][0]["id"] == "none"


BAD_INPUT = {
    "unknown kind": (["--trigger", "nope"], "unknown trigger kind 'nope'"),
    "typo suggests": (["--trigger", "sqss"], "did you mean 'sqs'"),
    "retired kind": (["--trigger", "iot-events"], "shut down by AWS on 2026-05-20"),
    "traversal name": (["--trigger", "sqs:../x"], "invalid trigger name '../x'"),
    "slash name": (["--trigger", "sqs:a/b"], "invalid trigger name 'a/b'"),
    "absolute name": (["--trigger", "sqs:/tmp/x"], "invalid trigger name '/tmp/x'"),
    "upper-case name": (["--trigger", "sqs:Orders"], "invalid trigger name"),
    "long name": (["--trigger", "sqs:" + "a" * 21], "invalid trigger name"),
    "empty name": (["--trigger", "sqs:"], "give a name after ':'"),
    "duplicate name": (["--trigger", "sqs:orders", "--trigger", "s3:orders"], "already used"),
    "same without hyphen": (["--trigger", "sqs:order-s", "--trigger", "sqs:orders"], "already"),
    "clashing ids": (["--trigger", "sqs:orders", "--trigger", "sqs:orders-dead"], "clashing"),
    "bad project name": (["--project-name", "Bad_Name"], "invalid project name 'Bad_Name'"),
    "traversal project": (["--project-name", "../x"], "invalid project name '../x'"),
    "reserved prefix": (["--project-name", "sthree-svc"], "S3 reserves bucket names"),
    "unknown runtime": (["--runtime", "python2.7"], "unknown runtime 'python2.7'"),
    "unknown architecture": (["--architecture", "mips"], "unknown architecture 'mips'"),
    "unknown ci": (["--ci", "gitlab"], "unknown ci 'gitlab'"),
    "unknown pattern": (["--pattern", "nope"], "unknown pattern 'nope'"),
    "pattern refuses kind": (["--pattern", "strangler", "--trigger", "sqs"], "cannot take"),
    "pattern name": (["--pattern", "pub-sub", "--trigger", "sqs:events"], "reserved by"),
}


@pytest.mark.parametrize(("args", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_leaves_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("new", str(tmp_path / "svc"), "--no-input", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_destination_name_that_cannot_be_a_project_name(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "My_Service"), "--no-input")
    flag = run_cli("new", str(tmp_path / "svc"), "--no-input", "--project-name", "My_Service")
    assert "pass --project-name NAME" in result.stderr
    assert "invalid project name 'My_Service'" in result.stderr
    assert "invalid project name 'My_Service'" in flag.stderr
    # One invalid name, one exit code, whether it came from DEST or from the flag.
    assert result.returncode == flag.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_destination_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "svc").write_text("mine")
    result = run_cli("new", str(tmp_path / "svc"), "--no-input")
    assert result.returncode == 1
    assert "is a file, not a directory" in result.stderr
    assert "not empty" not in result.stderr
    assert (tmp_path / "svc").read_text() == "mine"


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ("a-file/sub", "is a file, not a directory"),
        ("/proc/no-such-dir/sub", "cannot create"),  # Linux refuses new entries in /proc
        ("/proc", "cannot create"),
    ],
)
def test_destination_that_cannot_be_created_is_one_line(
    tmp_path: Path, parent: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("mine")
    result = run_cli("new", f"{parent}/svc", "--no-input", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "unexpected" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_destination_in_a_folder_without_write_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root may write anywhere, so the permission is taken away where the check reads it.
    monkeypatch.setattr("os.access", lambda path, mode: Path(path) != tmp_path)
    assert main(["new", str(tmp_path / "svc"), "--no-input", "-q"]) == 1
    assert f"no permission to write in '{tmp_path}'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_two_triggers_of_one_kind_are_named_as_the_readme_says(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    said = re.search(r"\(`(--trigger \S+ --trigger \S+)` makes `(\S+)` and `(\S+)`", readme)
    assert said, "README.md says how two triggers of one kind are named"
    args = said.group(1).split()
    assert main(["new", str(tmp_path / "svc"), "--no-input", "-q", *args]) == 0
    answers = (tmp_path / "svc" / ".copier-answers.yml").read_text()
    names = re.findall(r"^ *name: (\S+)", answers, re.M)
    assert names == [said.group(2), said.group(3)]


def test_no_terminal_and_no_trigger_names_the_flags(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "svc"))
    assert result.returncode == 2
    assert "--trigger" in result.stderr
    assert "--no-input" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_non_empty_destination_is_never_touched(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    result = run_cli("new", str(dest), "--no-input", "--trigger", "sqs")
    assert result.returncode == 1
    assert "already exists and is not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["svc"]


def test_unknown_option_is_one_line(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "svc"), "--frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--frobnicate" in result.stderr


def test_failing_render_leaves_no_files(tmp_path: Path) -> None:
    """A template that breaks half-way must not leave a half-written project."""
    template = tmp_path / "broken-template"
    template.mkdir()
    (template / "copier.yml").write_text("project_name: {type: str}\n")
    (template / "ok.txt").write_text("fine\n")
    (template / "broken.txt.jinja").write_text("{{ project_name | no_such_filter }}\n")
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli(
        "new", str(work / "nested" / "svc"), "--no-input", "-q", "--template", str(template)
    )
    assert result.returncode == 1
    assert result.stderr.startswith("trigger-scaffold: error: could not generate the project")
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(work.iterdir()) == []


def test_new_into_existing_empty_directory(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    assert main(["new", str(dest), "--no-input", "--quiet", "--trigger", "sqs"]) == 0
    assert (dest / "template.yaml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["svc"]

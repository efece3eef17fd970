"""Hostile input: every name is refused with one line or makes a valid project, never a stray file.

Hypothesis drives the CLI and copier's own validators with traversal, unicode, very long names,
YAML/Jinja metacharacters and Python keywords. With ``CI`` set (as CI does) the
end-to-end properties run 200 examples each, else 60; the rule comparisons run 500.
"""

from __future__ import annotations

import keyword
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier_rules import copier_accepts
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trigger_scaffold._answers import check_project_name, check_trigger_name
from trigger_scaffold._cli import main
from trigger_scaffold._errors import TriggerScaffoldError

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "../x",
            "..",
            "/etc/passwd",
            "a/../../b",
            "~root",
            "C:\\x",
            "a\x00b",
            "{{ 7*7 }}",
            "{% raw %}",
            "${AWS::Region}",
            "!Ref x",
            "- a",
            "a: b",
            "[a]",
            "'quoted'",
            '"q"',
            "a\nb",
            " lead",
            "trail ",
            "é-ü",
            "\uff53\uff51\uff53",
            "a" * 200,
            "conftest",
            "template",
            "tests",
            "events",
            "functions",
        ]
    ),
    st.sampled_from(keyword.kwlist),
    st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True),
)


def cli_accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except TriggerScaffoldError as error:
        message = str(error)
    else:
        return True
    assert "\n" not in message
    return False


@given(HOSTILE)
@example("a\n")  # `$` matches before a final newline: the rule must see the whole name
@settings(max_examples=500)
def test_project_name_rules_agree_with_copier(name: str) -> None:
    assert cli_accepts(check_project_name, name) == copier_accepts(
        "project_name", project_name=name
    )


@given(HOSTILE)
@example("a\n")
@settings(max_examples=500)
def test_trigger_name_rules_agree_with_copier(name: str) -> None:
    triggers = [{"name": name, "kind": "sqs"}]
    assert cli_accepts(check_trigger_name, name) == copier_accepts("triggers", triggers=triggers)


def _outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> int:
    before = set(tmp_path.iterdir())
    dest = tmp_path / "svc"
    code = main(["new", str(dest), "--no-input", "-q", *args])
    err = capsys.readouterr().err
    after = set(tmp_path.iterdir())
    if code == 0:
        assert after - before == {dest}, "only the destination may appear"
        assert (dest / "template.yaml").is_file()
    else:
        assert after == before, "a refusal leaves nothing behind"
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    return code


@given(name=HOSTILE)
def test_hostile_project_names(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    work = tmp_path_factory.mktemp("hostile")
    code = _outcome(work, capsys, "--project-name", name, "--trigger", "sqs")
    assert (code == 0) == cli_accepts(check_project_name, name)
    if code == 0:
        answers = yaml.safe_load((work / "svc" / ".copier-answers.yml").read_text())
        assert answers["project_name"] == name


@given(name=HOSTILE)
def test_hostile_trigger_names(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    work = tmp_path_factory.mktemp("hostile")
    code = _outcome(work, capsys, "--trigger", f"sqs:{name}")
    assert (code == 0) == (":" not in name and cli_accepts(check_trigger_name, name))
    if code == 0:
        assert (work / "svc" / "functions" / name / "app.py").is_file()


def test_interrupted_render_leaves_no_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C after copier wrote files: the half-written tree is removed, DEST never appears."""
    import trigger_scaffold._render as render

    real_run_copy = render.run_copy

    def run_copy_then_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        real_run_copy(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "run_copy", run_copy_then_ctrl_c)
    code = main(["new", str(tmp_path / "deep" / "svc"), "--no-input", "-q", "--trigger", "sqs"])
    assert code == 130
    assert "interrupted; nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_tampered_kind_in_answers_is_refused(tmp_path: Path) -> None:
    from trigger_scaffold._template import git

    dest = tmp_path / "svc"
    assert main(["new", str(dest), "--no-input", "-q", "--trigger", "sqs:orders"]) == 0
    answers = dest / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("kind: sqs", "kind: nope"))
    git("add", "--all", cwd=dest)
    git("commit", "--quiet", "--message", "tampered", cwd=dest)
    for command in (["add-trigger", "s3"], ["update"]):
        assert main([*command, "-C", str(dest), "-q"]) != 0
        assert git("status", "--porcelain", cwd=dest) == ""


NAME_PARTS = st.sampled_from(
    [
        "orders",
        "s3",
        "sqs",
        "dead",
        "d",
        "letter",
        "batch",
        "queue",
        "function",
        "2",
        "x9",
        "api",
        "failure",
        "bucket",
    ]
)
KIND_MIX = st.sampled_from(["sqs", "s3", "s3-batch", "api", "sns", "eventbridge"])


@given(
    st.lists(
        st.tuples(st.lists(NAME_PARTS, min_size=1, max_size=3).map("-".join), KIND_MIX),
        min_size=2,
        max_size=4,
    )
)
@settings(max_examples=400)
def test_name_clash_rules_agree_with_copier(pairs: list[tuple[str, str]]) -> None:
    from trigger_scaffold import load_catalog
    from trigger_scaffold._answers import Answers, Trigger, validate

    triggers = tuple(Trigger(name, kind) for name, kind in pairs)
    try:
        validate(Answers("demo", triggers), load_catalog())
    except TriggerScaffoldError:
        cli = False
    else:
        cli = True
    data = [{"name": name, "kind": kind} for name, kind in pairs]
    assert cli == copier_accepts("triggers", triggers=data)


def test_clash_examples() -> None:
    from trigger_scaffold import load_catalog
    from trigger_scaffold._answers import clashing_name

    catalog = load_catalog()
    assert clashing_name("orders-dead-letter", "sqs", {"orders": "sqs"}, catalog) == "orders"
    assert clashing_name("sqs-2", "sqs", {"sqs": "sqs"}, catalog) is None
    assert clashing_name("s3-batch", "s3-batch", {"s3": "s3"}, catalog) is None
    assert clashing_name("order-s", "sqs", {"orders": "sqs"}, catalog) == "orders"

"""The wizard: its logic in-process through a prompt_toolkit pipe, and once in a real terminal."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from trigger_scaffold import Answers, Trigger, load_catalog
from trigger_scaffold._answers import Draft
from trigger_scaffold._wizard import (
    _pattern_choice,
    ask,
    ask_trigger_name,
    kind_choice,
    runtime_choices,
)

CATALOG = load_catalog()
ENTER, DOWN, UP, BACKSPACE = "\r", "\x1b[B", "\x1b[A", "\x7f"
ENABLED = [k.id for k in CATALOG.triggers if k.available]
RUNTIMES = sorted(CATALOG.runtimes, key=lambda r: tuple(int(n) for n in r[6:].split(".")))


def downs(options: list[str], default: str, target: str) -> str:
    steps = options.index(target) - options.index(default)
    return DOWN * steps if steps >= 0 else UP * -steps


def run_wizard(keys: str, draft: Draft | None = None) -> Answers:
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        # Missing keys end the input (EOFError) instead of waiting for them forever.
        pipe.close()
        return ask(
            draft or Draft(),
            CATALOG,
            default_project_name="demo-svc",
            io={"input": pipe, "output": DummyOutput()},
        )


def test_defaults_only() -> None:
    # Project name, pattern, kind, its name; no more triggers; auth, runtime, architecture, ci.
    answers = run_wizard(ENTER * 4 + "n" + ENTER * 4)
    assert answers == Answers(
        "demo-svc", (Trigger("api", "api", "iam"),), "none", "python3.13", "arm64"
    )


def test_several_triggers_with_names_and_choices() -> None:
    keys = (
        ENTER  # project name: the default from DEST
        + ENTER  # pattern none (asked first: it limits the trigger kinds)
        + downs(ENABLED, "api", "sqs")
        + ENTER  # first kind
        + BACKSPACE * 3
        + "orders"
        + ENTER  # its name
        + "y"  # another
        + downs(ENABLED, "api", "sqs")
        + ENTER  # sqs again
        + BACKSPACE * 5
        + "refunds"
        + ENTER  # default would be sqs (free), call it refunds
        + "y"
        + ENTER
        + ENTER  # api, named api
        + "n"
        + ENTER  # who may call api: iam, preselected
        + ENTER  # orders: idempotent (the sqs default)
        + "n"  # refunds: not idempotent
        + downs(RUNTIMES, "python3.13", "python3.12")
        + ENTER
        + downs(list(CATALOG.architectures), "arm64", "x86_64")
        + ENTER
        + downs(list(CATALOG.ci_systems), "github", "none")
        + ENTER
    )
    answers = run_wizard(keys)
    assert answers.triggers == (
        Trigger("orders", "sqs", idempotency=True),
        Trigger("refunds", "sqs", idempotency=False),
        Trigger("api", "api", "iam"),
    )
    assert (answers.runtime, answers.architecture, answers.ci) == ("python3.12", "x86_64", "none")


def test_invalid_names_are_asked_again() -> None:
    keys = (
        BACKSPACE * 8
        + "Bad_Name"
        + ENTER  # refused, stays on the question
        + BACKSPACE * 8
        + "good-name"
        + ENTER
        + ENTER  # pattern
        + ENTER
        + BACKSPACE * 3
        + "../x"
        + ENTER  # refused trigger name
        + BACKSPACE * 4
        + "web"
        + ENTER
        + "n"
        + ENTER  # auth
        + ENTER
        + ENTER
        + ENTER
    )
    answers = run_wizard(keys)
    assert answers.project_name == "good-name"
    assert answers.triggers == (Trigger("web", "api", "iam"),)


def test_each_api_trigger_is_asked_who_may_call_it() -> None:
    """iam is preselected; none must be chosen; kinds without the answer are not asked."""
    draft = Draft(
        project_name="given",
        triggers=(Trigger("web", "http-api"), Trigger("q", "sqs"), Trigger("rest", "api", "iam")),
        pattern="none",
        runtime="python3.13",
    )
    modes = list(CATALOG.trigger("http-api").auth_modes)
    assert modes[0] == "iam"
    # The auth question, then architecture and delivery pipeline.
    # The auth question, sqs's idempotency (its default), architecture, delivery pipeline.
    answers = run_wizard(downs(modes, "iam", "none") + ENTER + ENTER + ENTER + ENTER, draft)
    assert answers.triggers == (
        Trigger("web", "http-api", "none"),
        Trigger("q", "sqs", idempotency=True),
        Trigger("rest", "api", "iam"),
    )


@pytest.mark.parametrize("mode", [m for m in CATALOG.trigger("api").auth_modes if m != "iam"])
def test_each_auth_mode_can_be_chosen_and_is_described(mode: str) -> None:
    from trigger_scaffold._wizard import _AUTH_DESCRIPTIONS

    draft = Draft(
        project_name="given",
        triggers=(Trigger("rest", "api"),),
        pattern="none",
        runtime="python3.13",
    )
    modes = list(CATALOG.trigger("api").auth_modes)
    answers = run_wizard(downs(modes, "iam", mode) + ENTER + ENTER + ENTER, draft)
    assert answers.triggers == (Trigger("rest", "api", mode),)
    assert _AUTH_DESCRIPTIONS[mode]


def test_flags_skip_their_questions() -> None:
    draft = Draft(project_name="given", triggers=(Trigger("q", "sqs"),), runtime="python3.11")
    # pattern, idempotency, architecture and ci are asked
    answers = run_wizard(ENTER + ENTER + ENTER + ENTER, draft)
    assert answers == Answers(
        "given", (Trigger("q", "sqs", idempotency=True),), "none", "python3.11", "arm64"
    )


def test_add_trigger_name_question_offers_a_free_name() -> None:
    with create_pipe_input() as pipe:
        pipe.send_text(ENTER)
        name = ask_trigger_name(
            "sqs",
            {"sqs": "sqs", "orders": "sqs"},
            CATALOG,
            io={"input": pipe, "output": DummyOutput()},
        )
    assert name == "sqs-2"
    with create_pipe_input() as pipe:
        pipe.send_text(BACKSPACE * 5 + "orders" + ENTER + BACKSPACE * 6 + "refunds" + ENTER)
        name = ask_trigger_name(
            "sqs",
            {"sqs": "sqs", "orders": "sqs"},
            CATALOG,
            io={"input": pipe, "output": DummyOutput()},
        )
    assert name == "refunds"


def test_ctrl_c_interrupts() -> None:
    with pytest.raises(KeyboardInterrupt):
        run_wizard("\x03")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is required by `new`")
def test_real_terminal_end_to_end(tmp_path: Path, scaffold_home: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    dest = tmp_path / "tty-svc"
    env = {**os.environ, "TRIGGER_SCAFFOLD_HOME": str(scaffold_home), "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "trigger_scaffold", "new", str(dest)],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 160),
    )
    child.expect("Project name")
    child.send(ENTER)
    child.expect("Architecture pattern")
    child.send(ENTER)
    child.expect("Which event source")
    child.expect("kinesis")  # the whole list is drawn, with invocation types
    child.send(downs(ENABLED, "api", "sqs") + ENTER)
    child.expect("Trigger name")
    child.send(BACKSPACE * 3 + "orders" + ENTER)
    child.expect("Add another trigger")
    child.send("n")
    child.expect("run each business event once")
    child.send(ENTER)
    child.expect("Python runtime")
    child.send(ENTER)
    child.expect("Architecture")
    child.send(ENTER)
    child.expect("Delivery pipeline")
    child.send(downs(list(CATALOG.ci_systems), "github", "none") + ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (dest / "functions" / "orders" / "app.py").is_file()
    answers = (dest / ".copier-answers.yml").read_text()
    assert "name: orders" in answers
    assert "ci: none" in answers
    assert not (dest / ".github").exists()
    assert not (dest / "pipeline").exists()


def test_real_terminal_add_trigger_asks_the_name(
    tmp_path: Path, scaffold_home: Path, new_project: Any
) -> None:
    pexpect = pytest.importorskip("pexpect")
    from trigger_scaffold._template import git

    project = new_project("--trigger", "sqs")
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Generated", cwd=project)
    env = {**os.environ, "TRIGGER_SCAFFOLD_HOME": str(scaffold_home), "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "trigger_scaffold", "add-trigger", "sqs", "-q"],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.expect("Trigger name")
    child.send(ENTER)  # the offered free name
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (project / "functions" / "sqs-2" / "app.py").is_file()


def drawn(choices: list[Any], default: str) -> list[str]:
    """The lines questionary's select draws for ``choices``, as a terminal shows them."""
    from questionary.prompts.common import InquirerControl

    control = InquirerControl(choices, default, use_indicator=False, initial_choice=default)
    return "".join(text for _, text in control._get_choice_tokens()).splitlines()


@pytest.mark.parametrize("pattern", [None, *CATALOG.patterns], ids=lambda p: getattr(p, "id", p))
def test_kind_list_fits_80_columns_and_lines_up(
    pattern: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = drawn([kind_choice(k, pattern, catalog=CATALOG) for k in CATALOG.triggers], "api")
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    rows = lines[: len(CATALOG.triggers)]
    for kind, row in zip(CATALOG.triggers, rows, strict=True):
        # The id starts in the same column whether the choice is offered or disabled.
        assert row.index(f" {kind.id} ") == rows[0].index(" api ") + 0, row
        assert row.index(f" {kind.invocation} ") == rows[0].index(" sync "), row
    description = " ".join(" ".join(lines[len(rows) :]).split())
    api = CATALOG.trigger("api")
    assert " ".join(api.summary.split()) in description
    assert f"sync: {CATALOG.invocations['sync']}" in description


def test_the_old_rows_did_not_line_up() -> None:
    """The check above catches questionary's two-column "- " prefix of disabled choices."""
    from questionary import Choice

    rows = drawn([Choice("api  sync", value="api"), Choice("iot  async", disabled="x")], "api")
    assert rows[0].index("api") != rows[1].index("iot")


def test_runtimes_are_sorted_and_the_default_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    default = CATALOG.defaults.runtime
    lines = drawn(runtime_choices(CATALOG), default)
    shown = [line.split()[-2 if "(default)" in line else -1] for line in lines[: len(RUNTIMES)]]
    assert shown == RUNTIMES
    assert f"{default}  (default)" in lines[RUNTIMES.index(default)]
    description = " ".join(" ".join(lines[len(RUNTIMES) :]).split())
    assert "The default:" in description
    assert all(len(line) <= 80 for line in lines)


def test_patterns_fit_80_columns_and_say_what_they_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for pattern in CATALOG.patterns:
        lines = drawn([_pattern_choice(p, ()) for p in CATALOG.patterns], pattern.id)
        assert all(len(line) <= 80 for line in lines), max(lines, key=len)
        description = " ".join(" ".join(lines[len(CATALOG.patterns) :]).split())
        assert " ".join(pattern.summary.split()) in description
        assert "Entry triggers:" in description

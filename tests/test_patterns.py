"""Architecture patterns: only sensible combinations, and every one of them passes the gates.

The fast tier checks the rules (CLI, copier.yml and wizard agree; refusals are one line and
leave nothing) and add-trigger on a pattern project. The ``matrix`` tier renders every
pattern with each of its entry kinds and runs the offline gates (narrow it with ``TS_KINDS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import available_kinds, run_cli
from copier_rules import CONFIG, copier_message
from gates import gate_failures, load_template

from trigger_scaffold import Pattern, Trigger, load_catalog
from trigger_scaffold._answers import check_fits_pattern
from trigger_scaffold._cli import main
from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._template import git, template_root
from trigger_scaffold._wizard import _pattern_choice, kind_choice

CATALOG = load_catalog()
PATTERNS = [p for p in CATALOG.patterns if p.id != "none"]
LIVE_KINDS = [k.id for k in CATALOG.triggers if k.available]
PATTERNS_DIR = template_root() / "templates" / "patterns"
CATALOG_DATA = CONFIG["catalog"]["default"][0]


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def cli_message(trigger: Trigger, pattern: Pattern) -> str:
    try:
        check_fits_pattern(trigger, pattern)
    except TriggerScaffoldError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_every_pattern_is_generated_with_its_files(pattern: Pattern) -> None:
    assert pattern.available
    folder = PATTERNS_DIR / pattern.id
    for name in ("resources.yaml.jinja", "readme.md.jinja", "diagram.mmd.jinja"):
        assert (folder / name).is_file(), f"{pattern.id}: {name} is missing"
    assert (folder / "test_pattern.py.jinja").is_file(), "tests/test_pattern.py needs content"
    data = CATALOG_DATA["patterns"][pattern.id]
    for function, spec in data.get("functions", {}).items():
        own = folder / "functions" / function
        for name in ("resources.yaml.jinja", "handler.py.jinja", "test.py.jinja"):
            assert (own / name).is_file(), f"{pattern.id}/{function}: {name} is missing"
        for stem in spec["events"]:
            assert (own / "events" / f"{stem}.json").is_file()
    for entry in folder.glob("entry/*"):
        assert pattern.accepts(entry.name), f"{pattern.id} overrides {entry.name}, not an entry"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_refusals_agree_with_copier(pattern: Pattern) -> None:
    """For every kind and reserved name, copier.yml says exactly what the CLI says."""
    names = [
        *pattern.functions,
        *pattern.reserved,
        *(f"{r}-x" for r in (*pattern.functions, *pattern.reserved)),
        *(f"x-{r}" for r in (*pattern.functions, *pattern.reserved)),
    ]
    cases = [Trigger(kind, kind) for kind in LIVE_KINDS]
    cases += [Trigger(name, (pattern.entry_triggers or ("sqs",))[0]) for name in names]
    for trigger in cases:
        expected = cli_message(trigger, pattern)
        said = copier_message(
            "pattern",
            pattern=pattern.id,
            triggers=[{"name": trigger.name, "kind": trigger.kind}],
        )
        assert said == expected, trigger
        assert (expected == "") == (
            pattern.accepts(trigger.kind) and pattern.reserving(trigger.name) is None
        )


def test_every_pattern_refuses_some_kind_or_name() -> None:
    for pattern in PATTERNS:
        refused = [k for k in LIVE_KINDS if not pattern.accepts(k)]
        assert refused or pattern.reserved, pattern.id
    assert not CATALOG.pattern("pub-sub").accepts("cloudfront")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--pattern", "strangler", "--trigger", "sqs"], ["strangler", "'sqs'", "api"]),
        (["--pattern", "simple-web-service", "--trigger", "s3"], ["simple-web-service", "'s3'"]),
        (["--pattern", "aggregator", "--trigger", "kinesis"], ["aggregator", "'kinesis'"]),
        (["--pattern", "fan-out-fan-in", "--trigger", "sns"], ["fan-out-fan-in", "'sns'"]),
        (["--pattern", "pub-sub", "--trigger", "cloudfront"], ["pub-sub", "environment"]),
        (["--pattern", "fan-out-fan-in", "--trigger", "s3:split"], ["'split'", "reserved"]),
        (["--pattern", "pub-sub", "--trigger", "sqs:audit-log"], ["'audit-log'", "'audit'"]),
        (["--pattern", "simple-web-service", "--trigger", "api:items"], ["'items'", "reserved"]),
    ],
)
def test_refused_combination_is_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    code = main(["new", str(tmp_path / "svc"), "--no-input", "-q", *args])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert all(word in err for word in words), err
    assert list(tmp_path.iterdir()) == []


def test_refusal_through_the_real_entry_point(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "svc"), "--no-input", "--pattern", "strangler",
                     "--trigger", "sqs")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "svc").exists()


def test_wizard_offers_only_sensible_combinations() -> None:
    for pattern in CATALOG.patterns:
        for kind in CATALOG.triggers:
            if kind.available:
                offered = kind_choice(kind, pattern).disabled is None
                assert offered == pattern.accepts(kind.id), (pattern.id, kind.id)
        # Triggers given by flags first: only patterns that take them are offered.
        assert (_pattern_choice(pattern, (Trigger("q", "sqs"),)).disabled is None) == (
            pattern.available and pattern.accepts("sqs")
        )


def test_wizard_asks_the_pattern_first_and_limits_the_kinds() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from trigger_scaffold._answers import Draft
    from trigger_scaffold._wizard import ask

    enter, down = "\r", "\x1b[B"
    patterns = [p.id for p in CATALOG.patterns]
    keys = (
        enter  # project name
        + down * (patterns.index("strangler") - patterns.index("none"))
        + enter  # pattern
        + down * 2  # from api: sqs and the other non-HTTP kinds are skipped, alb is second
        + enter
        + enter  # its name
        + "n"  # no more triggers
        + enter  # who may call it: jwt, the default for alb
        + enter  # runtime
        + enter  # architecture
        + enter  # delivery pipeline
    )
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()  # missing keys end the input instead of waiting for them forever
        answers = ask(
            Draft(),
            CATALOG,
            default_project_name="svc",
            io={"input": pipe, "output": DummyOutput()},
        )
    assert answers.pattern == "strangler"
    assert answers.triggers == (Trigger("alb", "alb", "jwt"),)


def make_pattern_project(parent: Path, pattern: str, *triggers: str) -> Path:
    project = parent / "svc"
    args = [a for t in triggers for a in ("--trigger", t)]
    assert main(["new", str(project), "--no-input", "-q", "--pattern", pattern, *args]) == 0
    git("init", "--quiet", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Generated", cwd=project)
    return project


def shared_resources(project: Path, pattern: Pattern) -> dict[str, object]:
    owners = tuple(pascal(n) for n in (*pattern.functions, *pattern.reserved))
    resources = load_template(project / "template.yaml")["Resources"]
    return {k: v for k, v in resources.items() if k.startswith(owners)}


def test_add_trigger_on_a_pattern_project_keeps_the_pattern(tmp_path: Path) -> None:
    pattern = CATALOG.pattern("simple-web-service")
    project = make_pattern_project(tmp_path, pattern.id, "api")
    before = shared_resources(project, pattern)
    assert "ItemsTable" in before

    result = run_cli("add-trigger", "http-api", "-C", str(project))
    assert result.returncode == 0, result.stderr
    assert shared_resources(project, pattern) == before
    resources = load_template(project / "template.yaml")["Resources"]
    for function in ("ApiFunction", "HttpApiFunction"):
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        policy = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]
        table = [{"Fn::GetAtt": ["ItemsTable", "Arn"]}]
        assert any(s["Resource"] == table for s in policy["Statement"])
    assert (project / "functions" / "http-api" / "app.py").is_file()

    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Add http-api", cwd=project)
    refused = run_cli("add-trigger", "sqs", "-C", str(project))
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "simple-web-service" in refused.stderr
    assert git("status", "--porcelain", cwd=project) == ""


# --- the matrix tier: every pattern with each of its entry kinds --------------------------

PAIRS = [(p.id, k) for p in PATTERNS for k in available_kinds() if p.accepts(k)]
FAILURE_PATH = re.compile(r"(DeadLetterQueue|FailureQueue|ErrorQueue|Dlq)$")
ID_WORDS = {word for trigger in CATALOG.triggers for word in trigger.id_words}


def could_clash(resource_id: str) -> bool:
    """Whether some trigger's PascalCase name plus one of its kind's id words could spell the id.

    A stack-wide id (``KmsKeyUse``) is safe when none of its words after the first starts a
    trigger resource id; the pattern's own ids must start with a name it reserves instead.
    """
    return any(word in ID_WORDS for word in re.findall(r"[A-Z][a-z0-9]*", resource_id)[1:])


@pytest.mark.matrix
@pytest.mark.parametrize(("pattern", "kind"), PAIRS)
def test_pattern_entry_passes_the_gates(
    new_project: Callable[..., Path], pattern: str, kind: str
) -> None:
    # The longest trigger name (20 characters), so generated lines stay within ruff's limit.
    base = kind.replace("-", "")[:12]
    name = f"{base}-{'x' * (19 - len(base))}"
    project = new_project("--pattern", pattern, "--trigger", f"{kind}:{name}")
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)

    spec = CATALOG.pattern(pattern)
    owners = tuple(pascal(n) for n in (name, *spec.functions, *spec.reserved))
    resources = load_template(project / "template.yaml")["Resources"]
    strays = [r for r in resources if not r.startswith(owners) and could_clash(r)]
    assert not strays, f"ids a trigger name could clash with: {strays}"

    readme = (project / "README.md").read_text()
    assert readme.count("```mermaid") == 1
    unnamed = [r for r in resources if FAILURE_PATH.search(r) and r not in readme]
    assert not unnamed, f"the README does not say where these failures go: {unnamed}"
    assert f"### how the {spec.label.lower()} pattern works" in readme.lower()


def _second_entry(pattern: Pattern) -> tuple[str, str]:
    """The first two entry kinds of a pattern (the second added by add-trigger)."""
    entries = [k for k in available_kinds() if pattern.accepts(k)]
    return entries[0], entries[1] if len(entries) > 1 else entries[0]


@pytest.mark.matrix
@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_add_trigger_adds_a_second_entry_that_passes_the_gates(
    tmp_path: Path, pattern: Pattern
) -> None:
    first, second = _second_entry(pattern)
    project = make_pattern_project(tmp_path, pattern.id, f"{first}:first")
    before = shared_resources(project, pattern)
    result = run_cli("add-trigger", second, "--name", "second", "-C", str(project))
    assert result.returncode == 0, result.stderr
    after = shared_resources(project, pattern)
    # The pattern's resources stay as they were; only fan-out-fan-in's split function's role
    # gains read access to the bucket of an s3 entry (it reads the uploaded object).
    assert set(after) == set(before)
    changed = {name for name in before if after[name] != before[name]}
    assert changed <= ({"SplitFunctionRole"} if second == "s3" else set()), changed
    assert (project / "functions" / "second" / "app.py").is_file()
    assert "SecondFunction" in load_template(project / "template.yaml")["Resources"]
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)

"""The render matrix: generated projects pass their offline gates (marked tier, run by CI).

cfn-lint on template.yaml, the SAM transform + cfn-lint on its output, ruff format/check with
the project's settings, and the project's own pytest without AWS configuration.
Narrow it with ``TS_KINDS=sqs,s3`` or ``-k``.

Projects are rendered by pytest-copie's ``copie_session`` with the answers ``new --no-input``
parses from the same flags (``conftest.rendered_once``), each once per test process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import models, parse
from conftest import available_kinds, whole_projects
from gates import gate_failures

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix
KINDS = available_kinds()
WHOLE = whole_projects()


def _assert_gates(project: Path) -> None:
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_alone(rendered_once: Callable[..., Path], kind: str) -> None:
    _assert_gates(rendered_once("--trigger", kind))


def test_issue_combination(rendered_once: Callable[..., Path]) -> None:
    project = rendered_once(
        "--trigger",
        "api",
        "--trigger",
        "sqs:orders",
        "--trigger",
        "sqs:refunds",
        "--trigger",
        "dynamodb",
        "--trigger",
        "s3",
    )
    assert sorted(p.name for p in (project / "functions").iterdir()) == [
        "api",
        "dynamodb",
        "orders",
        "refunds",
        "s3",
    ]
    _assert_gates(project)


# Every kind twice in one project would pass CloudFormation's 500-resource limit per stack,
# so the kinds are split into groups of eight.
TWICE_GROUPS = [KINDS[i : i + 8] for i in range(0, len(KINDS), 8)]


@pytest.mark.parametrize("group", TWICE_GROUPS, ids=lambda group: f"{group[0]}..{group[-1]}")
def test_every_kind_twice_in_one_project(
    rendered_once: Callable[..., Path], group: list[str]
) -> None:
    args = [arg for kind in group for arg in ("--trigger", kind, "--trigger", f"{kind}:{kind}-2")]
    _assert_gates(rendered_once(*args))


@pytest.mark.parametrize(
    ("runtime", "architecture"),
    [("python3.11", "x86_64"), ("python3.12", "arm64"), ("python3.14", "x86_64")],
)
def test_runtime_and_architecture(
    rendered_once: Callable[..., Path], runtime: str, architecture: str
) -> None:
    project = rendered_once(
        "--trigger",
        "sqs",
        "--trigger",
        "api",
        "--runtime",
        runtime,
        "--architecture",
        architecture,
    )
    text = (project / "template.yaml").read_text()
    assert f"Runtime: {runtime}" in text
    assert f"Architectures: [{architecture}]" in text
    _assert_gates(project)


def test_sample_events_satisfy_powertools_models(rendered_once: Callable[..., Path]) -> None:
    catalog = load_catalog()
    project = rendered_once(*[arg for kind in KINDS for arg in ("--trigger", kind)])
    checked = 0
    for kind in KINDS:
        item = catalog.trigger(kind)
        for stem in item.events:
            event = json.loads((project / "events" / f"{kind}-{stem}.json").read_text())
            model = item.model_for(stem)
            if model:
                parse(event=event, model=getattr(models, model))
                checked += 1
    assert checked == sum(len(catalog.trigger(k).parser_models) for k in KINDS)


@pytest.mark.parametrize(("spec", "args"), WHOLE, ids=[spec for spec, _ in WHOLE])
def test_generated_imports_are_covered_by_requirements(
    rendered_once: Callable[..., Path], spec: str, args: list[str]
) -> None:
    """Handlers and tests import only what requirements-dev.txt installs, at our pinned versions."""
    import ast
    import re
    import sys
    from importlib import metadata

    project = rendered_once(*args)
    pins = {}
    for line in (project / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([\w-]+)(?:\[[\w,-]+\])?==([\w.]+)", line).groups()
            pins[name.lower()] = version
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}: repo env differs from the pin"

    def closure(names: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(names)
        while todo:
            dist = todo.pop().lower().replace("_", "-")
            if dist in seen:
                continue
            try:
                requires = metadata.requires(dist) or []
            except metadata.PackageNotFoundError:  # excluded by an environment marker
                continue
            seen.add(dist)
            for req in requires:
                if "extra ==" not in req:
                    todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
        return seen

    installable = closure(set(pins))
    module_dists = metadata.packages_distributions()
    # A handler imports the business logic beside it (functions/<name>/app.py), and an
    # idempotent one its idempotency.py.
    local = {"conftest", "local_lambda", "app", "idempotency"}
    generated = ["functions/*/*.py", "tests/**/*.py", "local_lambda/*.py"]
    for path in [p for pattern in generated for p in project.glob(pattern)]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local:
                    continue
                dists = {d.lower().replace("_", "-") for d in module_dists.get(top, [])}
                assert dists & installable, f"{path.name} imports {top}, not installed by pins"


@pytest.mark.parametrize("length", ["shortest", "longest"])
def test_name_lengths(rendered_once: Callable[..., Path], length: str) -> None:
    """Generated code is formatted and linted whatever the names' lengths (lines wrap)."""
    import string

    if length == "shortest":
        # One letter each while the alphabet lasts, then two.
        names = [string.ascii_lowercase[i % 26] * (i // 26 + 1) for i in range(len(KINDS))]
        project_name = "p"
    else:
        names = [f"{kind}-{'x' * 19}"[:20].rstrip("-") for kind in KINDS]
        project_name = "p" * 30
    args = [
        a for kind, name in zip(KINDS, names, strict=True) for a in ("--trigger", f"{kind}:{name}")
    ]
    _assert_gates(rendered_once(*args, "--project-name", project_name))

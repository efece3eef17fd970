"""The render matrix: generated projects pass their offline gates (marked tier, run by CI).

cfn-lint on template.yaml, the SAM transform + cfn-lint on its output, ruff format/check with
the project's settings, and the project's own pytest without AWS configuration.
Narrow it with ``TS_KINDS=sqs,s3`` or ``-k``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import models, parse
from conftest import available_kinds
from gates import gate_failures

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix
KINDS = available_kinds()


def _assert_gates(project: Path) -> None:
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_alone(new_project: Callable[..., Path], kind: str) -> None:
    _assert_gates(new_project("--trigger", kind))


def test_issue_combination(new_project: Callable[..., Path]) -> None:
    project = new_project(
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


def test_every_kind_twice_in_one_project(new_project: Callable[..., Path]) -> None:
    args = [arg for kind in KINDS for arg in ("--trigger", kind, "--trigger", f"{kind}:{kind}-b")]
    _assert_gates(new_project(*args))


@pytest.mark.parametrize(
    ("runtime", "architecture"),
    [("python3.11", "x86_64"), ("python3.12", "arm64"), ("python3.14", "x86_64")],
)
def test_runtime_and_architecture(
    new_project: Callable[..., Path], runtime: str, architecture: str
) -> None:
    project = new_project(
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


def test_sample_events_satisfy_powertools_models(new_project: Callable[..., Path]) -> None:
    catalog = load_catalog()
    project = new_project(*[arg for kind in KINDS for arg in ("--trigger", kind)])
    checked = 0
    for kind in KINDS:
        item = catalog.trigger(kind)
        for stem in item.events:
            event = json.loads((project / "events" / f"{kind}-{stem}.json").read_text())
            if item.parser_model:
                parse(event=event, model=getattr(models, item.parser_model))
                checked += 1
    assert checked >= len([k for k in KINDS if catalog.trigger(k).parser_model])

"""Security properties of every rendered template, derived from its resources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import available_kinds
from gates import load_template, sam_translate

pytestmark = pytest.mark.matrix
KINDS = available_kinds()

# Actions that AWS does not let a policy scope to a resource, so "Resource": "*" is the only
# valid form. DOCS https://docs.aws.amazon.com/service-authorization/latest/reference/
NO_RESOURCE_LEVEL = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "config:PutEvaluations",
    "config:GetResourceConfigHistory",
    "config:ListDiscoveredResources",
    "config:BatchGetResourceConfig",
    "cloudwatch:PutMetricData",
}


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents = [props["PolicyDocument"]]
        for document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                yield name, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_permissions(new_project: Callable[..., Path]) -> None:
    project = new_project(*[arg for kind in KINDS for arg in ("--trigger", kind)])
    translated = sam_translate(load_template(project / "template.yaml"))
    checked = 0
    for resource, statement in _statements(translated):
        if statement.get("Effect") != "Allow":
            continue
        checked += 1
        actions = _as_list(statement.get("Action", []))
        assert not [a for a in actions if a == "*" or str(a).endswith(":*")], (
            f"{resource} allows every action of a service: {actions}"
        )
        if "*" in _as_list(statement.get("Resource", [])):
            scoped = set(actions) - NO_RESOURCE_LEVEL
            assert not scoped, f"{resource} grants {sorted(scoped)} on Resource '*'"
    assert checked > 0


CHECKOV = Path(__file__).resolve().parent.parent / ".venv-checkov" / "bin" / "checkov"


def run_checkov(template: Path) -> dict[str, Any]:
    """checkov's JSON report for one template, offline."""
    import json
    import subprocess

    assert CHECKOV.is_file(), "checkov is missing: run `make setup` (it builds .venv-checkov)"
    result = subprocess.run(
        [
            str(CHECKOV),
            "--skip-download",
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "-f",
            str(template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"].get("failed_checks", [])
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_checkov_passes_each_kind(new_project: Callable[..., Path], kind: str) -> None:
    project = new_project("--trigger", kind)
    report = run_checkov(project / "template.yaml")
    assert report["summary"]["parsing_errors"] == 0
    assert not _failures(report), "\n".join(_failures(report))
    for skipped in report["results"].get("skipped_checks", []):
        assert len(skipped.get("suppress_comment", "").strip()) > 10, (
            f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"
        )

"""Security properties of every rendered template, derived from its resources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import available_kinds, whole_projects
from gates import load_template, sam_translate

pytestmark = pytest.mark.matrix
KINDS = available_kinds()
WHOLE = whole_projects()
WHOLE_IDS = [spec_id for spec_id, _ in WHOLE]

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
    # Step Functions log delivery to CloudWatch Logs (the state machine's Logging).
    # DOCS https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
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


@pytest.mark.parametrize(("spec", "args"), WHOLE, ids=WHOLE_IDS)
def test_no_wildcard_permissions(
    new_project: Callable[..., Path], spec: str, args: list[str]
) -> None:
    project = new_project(*args)
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
    # Some patterns need no statement of their own (strangler, aggregator: HTTP only).
    assert checked > 0 or spec != "every-kind"


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


def _assert_checkov_clean(project: Path) -> dict[str, Any]:
    import re

    report = run_checkov(project / "template.yaml")
    assert report["summary"]["parsing_errors"] == 0
    assert not _failures(report), "\n".join(_failures(report))
    skipped = report["results"].get("skipped_checks", [])
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "").strip()) > 20, (
            f"{check['check_id']} on {check['resource']} is skipped without a reason"
        )
    readme = (project / "README.md").read_text()
    listed = set(re.findall(r"^\| `(CKV_[A-Z0-9_]+)` \| \d+ \| (.+) \|$", readme, re.M))
    used = {(c["check_id"], c["check_result"]["suppress_comment"]) for c in skipped}
    assert used
    assert listed == used, "the README must list exactly the skips the template makes"
    return report


@pytest.mark.parametrize("kind", KINDS)
def test_checkov_passes_each_kind(new_project: Callable[..., Path], kind: str) -> None:
    _assert_checkov_clean(new_project("--trigger", kind))


@pytest.mark.parametrize(("spec", "args"), WHOLE, ids=WHOLE_IDS)
def test_checkov_passes_whole_projects(
    new_project: Callable[..., Path], spec: str, args: list[str]
) -> None:
    summary = _assert_checkov_clean(new_project(*args))["summary"]
    print(
        f"checkov over {spec} ({args.count('--trigger')} triggers): {summary['passed']} passed, "
        f"{summary['failed']} failed, {summary['skipped']} skipped with a reason"
    )


def _refs(value: Any) -> set[str]:
    """Logical ids a policy's target list points at (Ref or GetAtt)."""
    found: set[str] = set()
    for item in _as_list(value):
        if isinstance(item, dict) and "Ref" in item:
            found.add(item["Ref"])
        elif isinstance(item, dict) and "Fn::GetAtt" in item:
            found.add(item["Fn::GetAtt"][0])
    return found


def _tls_denied(resources: dict[str, Any], policy_type: str, target_key: str) -> set[str]:
    """Resources covered by a policy of ``policy_type`` that denies requests without TLS."""
    covered: set[str] = set()
    for resource in resources.values():
        if resource["Type"] != policy_type:
            continue
        props = resource["Properties"]
        for statement in _as_list(props["PolicyDocument"]["Statement"]):
            secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
                covered |= _refs(props[target_key])
    return covered


@pytest.mark.parametrize(("spec", "args"), WHOLE, ids=WHOLE_IDS)
def test_data_at_rest_is_encrypted_and_transport_is_tls_only(
    new_project: Callable[..., Path], spec: str, args: list[str]
) -> None:
    project = new_project(*args)
    resources = load_template(project / "template.yaml")["Resources"]

    def of_type(kind: str) -> dict[str, dict[str, Any]]:
        return {n: r.get("Properties", {}) for n, r in resources.items() if r["Type"] == kind}

    queues = of_type("AWS::SQS::Queue")
    assert queues or spec != "every-kind"
    for name, props in queues.items():
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name
    assert set(queues) <= _tls_denied(resources, "AWS::SQS::QueuePolicy", "Queues")
    topics = of_type("AWS::SNS::Topic")
    assert all(props.get("KmsMasterKeyId") for props in topics.values())
    assert set(topics) <= _tls_denied(resources, "AWS::SNS::TopicPolicy", "Topics")
    buckets = of_type("AWS::S3::Bucket")
    assert buckets or spec != "every-kind"
    for name, props in buckets.items():
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        block = props["PublicAccessBlockConfiguration"]
        assert all(
            block[key] is True
            for key in (
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            )
        ), name
    assert set(buckets) <= _tls_denied(resources, "AWS::S3::BucketPolicy", "Bucket")
    for name, props in of_type("AWS::DynamoDB::Table").items():
        assert props["SSESpecification"]["SSEEnabled"] is True, name
    for name, props in of_type("AWS::Kinesis::Stream").items():
        assert props["StreamEncryption"]["EncryptionType"] == "KMS", name
    for name, props in of_type("AWS::KinesisFirehose::DeliveryStream").items():
        assert props["DeliveryStreamEncryptionConfigurationInput"], name
    for name, props in of_type("AWS::Logs::LogGroup").items():
        assert props.get("RetentionInDays"), f"{name} keeps logs forever"
    for name, props in of_type("AWS::Serverless::Api").items():
        assert any("ThrottlingRateLimit" in s for s in props["MethodSettings"]), name
    for name, props in of_type("AWS::Serverless::HttpApi").items():
        assert "ThrottlingRateLimit" in props["DefaultRouteSettings"], name
    for name, props in of_type("AWS::Serverless::StateMachine").items():
        assert props["Logging"]["Level"] in {"ALL", "ERROR"}, f"{name} does not log"
        assert props["Tracing"]["Enabled"] is True, f"{name} is not traced"

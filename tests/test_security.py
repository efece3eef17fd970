"""Security properties of every rendered template, derived from its resources."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import available_kinds, whole_projects
from gates import load_template, sam_translate

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix
KINDS = available_kinds()
WHOLE = whole_projects()
WHOLE_IDS = [spec_id for spec_id, _ in WHOLE]

DATA = Path(__file__).resolve().parent / "data"
# Actions with no resource-level permissions ("*" is their only valid Resource), each with its
# Service Authorization Reference page.
NO_RESOURCE_LEVEL: dict[str, str] = yaml.safe_load((DATA / "iam_no_resource_level.yml").read_text())
# The AWS managed policies SAM attaches, by the part of the ARN after ":policy/".
MANAGED_POLICIES: dict[str, Any] = json.loads((DATA / "aws_managed_policies.json").read_text())[
    "policies"
]
AWS_MANAGED_ARN = re.compile(r"^arn:(?:aws[a-z-]*|\$\{AWS::Partition\}):iam::aws:policy/(.+)$")
PAIRS = [
    (p.id, k) for p in load_catalog().patterns if p.id != "none" for k in KINDS if p.accepts(k)
]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn_text(value: Any) -> str | None:
    """A managed policy ARN as text (plain, or a Sub/Join of literals), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        if all(isinstance(p, str) or p == {"Ref": "AWS::Partition"} for p in parts):
            return str(sep).join("aws" if isinstance(p, dict) else p for p in parts)
    return None


def role_statements(template: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(resource, policy, statement) for every identity policy statement of the template: inline
    role policies, IAM policies and managed policies of the template, and the AWS managed
    policies roles attach, expanded from their published documents. An attached ARN whose
    document is unknown yields the statement None."""
    resources = template["Resources"]
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [
                (p.get("PolicyName", "inline"), p["PolicyDocument"])
                for p in props.get("Policies", [])
            ]
            for arn in props.get("ManagedPolicyArns", []):
                if isinstance(arn, dict) and arn.get("Ref") in resources:
                    continue  # a policy of this template: checked as a resource of its own
                text = _arn_text(arn)
                match = AWS_MANAGED_ARN.match(text) if text else None
                known = MANAGED_POLICIES.get(match.group(1)) if match else None
                if known is None:
                    yield name, str(arn), None
                else:
                    documents.append((str(text), known["document"]))
        elif resource["Type"] in {
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::IAM::RolePolicy",
        }:
            documents = [(name, props["PolicyDocument"])]
        for policy, document in documents:
            for statement in _as_list(document["Statement"]):
                yield name, policy, statement


def wildcard_grants(template: dict[str, Any]) -> list[str]:
    """Every grant of an action that supports resource-level permissions on Resource "*" (and
    every grant that no document explains), one line each; empty when least privilege holds."""
    found: list[str] = []
    for resource, policy, statement in role_statements(template):
        where = f"{resource} ({policy})"
        if statement is None:
            found.append(f"{where}: AWS managed policy with no known document")
            continue
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{where}: NotAction/NotResource grants more than it names")
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        for action in actions:
            if action == "*" or action.endswith(":*"):
                found.append(f"{where}: {action} allows every action of a service")
        if "*" in _as_list(statement.get("Resource", [])):
            scoped = sorted(a for a in actions if a not in NO_RESOURCE_LEVEL)
            if scoped:
                found.append(f"{where}: {', '.join(scoped)} on Resource '*'")
    return found


def _grants(template: dict[str, Any], role: str) -> list[tuple[set[str], list[Any]]]:
    """(actions, resources) of the Allow statements of one role."""
    return [
        ({str(a) for a in _as_list(s.get("Action", []))}, _as_list(s.get("Resource", [])))
        for name, _, s in role_statements(template)
        if name == role and s is not None and s.get("Effect") == "Allow"
    ]


# The action the Lambda poller of an event source mapping needs first, by the source's type.
SOURCE_READS = {
    "AWS::SQS::Queue": "sqs:ReceiveMessage",
    "AWS::Kinesis::Stream": "kinesis:GetRecords",
    "AWS::DynamoDB::Table": "dynamodb:GetRecords",
}


def missing_grants(template: dict[str, Any]) -> list[str]:
    """What a role lacks that AWS will need: a function's reading its event source, sending
    to its on-failure destination and writing to its log group; CodeDeploy's reading the
    rollback alarms and moving the alias of the function it deploys."""
    resources = template["Resources"]
    functions = {
        n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"
    }

    def role_of(function: Any) -> str:
        name = (
            function["Ref"] if isinstance(function, dict) and "Ref" in function else str(function)
        )
        if name not in functions:  # an alias or version: its function
            name = resources[name]["Properties"]["FunctionName"]["Ref"]
        return str(functions[name]["Role"]["Fn::GetAtt"][0])

    needs: list[tuple[str, str, Any]] = []  # (role, action, resource)
    for props in functions.values():
        log_group = props.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            role = props["Role"]["Fn::GetAtt"][0]
            needs.append((role, "logs:PutLogEvents", {"Fn::GetAtt": [log_group["Ref"], "Arn"]}))
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            role = role_of(props["FunctionName"])
            source = props["EventSourceArn"]
            read = SOURCE_READS[resources[source["Fn::GetAtt"][0]]["Type"]]
            needs.append((role, read, source))
        elif resource["Type"] == "AWS::Lambda::EventInvokeConfig":
            role = role_of(props["FunctionName"])
        elif resource["Type"] == "AWS::CodeDeploy::DeploymentGroup":
            # CodeDeploy's role reads the rollback alarms and moves the alias.
            role = props["ServiceRoleArn"]["Fn::GetAtt"][0]
            for alarm in props.get("AlarmConfiguration", {}).get("Alarms", []):
                needs.append(
                    (
                        role,
                        "cloudwatch:DescribeAlarms",
                        {"Fn::GetAtt": [alarm["Name"]["Ref"], "Arn"]},
                    )
                )
            continue
        else:
            continue
        failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if failure:
            needs.append((role, "sqs:SendMessage", failure))
    for resource in resources.values():
        policy = resource.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate")
        if resource["Type"] == "AWS::Lambda::Alias" and policy:
            group = resources[policy["DeploymentGroupName"]["Ref"]]["Properties"]
            role = group["ServiceRoleArn"]["Fn::GetAtt"][0]
            function = resource["Properties"]["FunctionName"]["Ref"]
            needs.append((role, "lambda:UpdateAlias", {"Fn::GetAtt": [function, "Arn"]}))
    missing = []
    for role, action, target in needs:
        if not any(
            action in actions and target in targets for actions, targets in _grants(template, role)
        ):
            missing.append(f"{role} may not {action} on {json.dumps(target)}")
    return missing


def _assert_least_privilege(project: Path) -> None:
    translated = sam_translate(load_template(project / "template.yaml"))
    assert not wildcard_grants(translated), "\n".join(wildcard_grants(translated))
    assert not missing_grants(translated), "\n".join(missing_grants(translated))


@pytest.mark.parametrize("kind", KINDS)
def test_least_privilege_after_the_transform_each_kind(
    new_project: Callable[..., Path], kind: str
) -> None:
    _assert_least_privilege(new_project("--trigger", kind))


@pytest.mark.parametrize(("pattern", "kind"), PAIRS)
def test_least_privilege_after_the_transform_each_pattern_entry(
    new_project: Callable[..., Path], pattern: str, kind: str
) -> None:
    _assert_least_privilege(new_project("--pattern", pattern, "--trigger", kind))


@pytest.mark.parametrize(("spec", "args"), WHOLE, ids=WHOLE_IDS)
def test_least_privilege_after_the_transform_whole_projects(
    new_project: Callable[..., Path], spec: str, args: list[str]
) -> None:
    _assert_least_privilege(new_project(*args))


def _sam_function(**properties: Any) -> dict[str, Any]:
    """A one-function SAM template, as a user would write it without an explicit role."""
    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "app.handler",
                    "CodeUri": "s3://bucket/fn.zip",
                    **properties,
                },
            },
        },
    }


def _reported(found: list[str], policy: str, action: str) -> bool:
    return any(f"{policy})" in line and action in line for line in found)


def test_check_sees_the_managed_policies_sam_attaches() -> None:
    sqs_event = {
        "Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Queue", "Arn"]}}}
    }
    found = wildcard_grants(
        sam_translate(
            _sam_function(
                Events=sqs_event,
                Tracing="Active",
                AutoPublishAlias="live",
                DeploymentPreference={"Type": "AllAtOnce"},
            )
        )
    )
    assert _reported(found, "AWSLambdaSQSQueueExecutionRole", "sqs:DeleteMessage")
    assert _reported(found, "AWSLambdaBasicExecutionRole", "logs:CreateLogGroup")
    assert _reported(found, "AWSCodeDeployRoleForLambda", "cloudwatch:DescribeAlarms")
    # X-Ray's write-only policy holds only actions without resource-level permissions.
    assert not _reported(found, "AWSXrayWriteOnlyAccess", "")


def test_check_fails_on_a_generated_function_without_its_role(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("--trigger", "kinesis:clicks")
    template = load_template(project / "template.yaml")
    assert not wildcard_grants(sam_translate(template))
    function = template["Resources"]["ClicksFunction"]["Properties"]
    # The output before the fix: no roles of its own, so SAM generates them.
    del function["Role"], function["DeploymentPreference"]["Role"]
    del template["Resources"]["ClicksFunctionRole"]
    del template["Resources"]["ClicksFunctionDeployRole"]
    found = wildcard_grants(sam_translate(template))
    assert _reported(found, "AWSLambdaKinesisExecutionRole", "kinesis:DescribeStream")
    assert _reported(found, "AWSCodeDeployRoleForLambda", "lambda:UpdateAlias")


def test_check_fails_on_an_unknown_managed_policy_and_on_inline_wildcards() -> None:
    template = sam_translate(_sam_function(Policies=["AmazonS3ReadOnlyAccess"]))
    assert _reported(wildcard_grants(template), "AmazonS3ReadOnlyAccess", "no known document")
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:*", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
    ]
    template = sam_translate(_sam_function(Policies=[{"Statement": statements}]))
    found = wildcard_grants(template)
    assert any("s3:GetObject on Resource '*'" in f for f in found)
    assert any("sqs:* allows every action" in f for f in found)
    assert not any("xray" in f for f in found)


def test_check_fails_on_a_role_that_lacks_what_aws_will_need(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("--trigger", "dynamodb:orders", "--trigger", "sns:alerts")
    template = sam_translate(load_template(project / "template.yaml"))
    assert not missing_grants(template)
    for role in ("OrdersFunctionRole", "AlertsFunctionRole"):
        policy = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"] = [
            s
            for s in policy["Statement"]
            if not set(_as_list(s["Action"]))
            & {"dynamodb:GetRecords", "sqs:SendMessage", "logs:PutLogEvents"}
        ]
    deploy = template["Resources"]["OrdersFunctionDeployRole"]["Properties"]["Policies"][0]
    deploy["PolicyDocument"]["Statement"] = [
        s for s in deploy["PolicyDocument"]["Statement"] if "lambda:UpdateAlias" in s["Action"]
    ]
    template["Resources"]["AlertsFunctionDeployRole"]["Properties"]["Policies"] = []
    found = "\n".join(missing_grants(template))
    assert "OrdersFunctionDeployRole may not cloudwatch:DescribeAlarms" in found
    assert "OrdersFunctionDeployRole may not lambda:UpdateAlias" not in found
    assert "AlertsFunctionDeployRole may not lambda:UpdateAlias" in found
    assert "OrdersFunctionRole may not dynamodb:GetRecords" in found
    assert "OrdersFunctionRole may not sqs:SendMessage" in found
    assert "AlertsFunctionRole may not sqs:SendMessage" in found
    assert "AlertsFunctionRole may not logs:PutLogEvents" in found


def test_exceptions_are_actions_without_resource_level_permissions() -> None:
    """Each allowed action lists no resource type in cfn-lint's copy of the Service
    Authorization Reference, and names the page of its service."""
    import cfnlint.data.AdditionalSpecs

    reference = json.loads(
        (Path(cfnlint.data.AdditionalSpecs.__file__).parent / "Policies.json").read_text()
    )

    def resource_types(action: str) -> list[str]:
        service, name = action.split(":")
        return list(reference[service]["Actions"][name.lower()].get("Resources", []))

    assert resource_types("sqs:DeleteMessage") == ["queue"]
    for action, page in NO_RESOURCE_LEVEL.items():
        assert resource_types(action) == [], f"{action} supports resource-level permissions"
        assert page.startswith(
            "https://docs.aws.amazon.com/service-authorization/latest/reference/list_"
        ), action


def test_managed_policy_data_names_its_source() -> None:
    for arn, policy in MANAGED_POLICIES.items():
        assert policy["reference"].endswith(f"/{arn.split('/')[-1]}.html"), arn
        assert re.fullmatch(r"v\d+", policy["version"]), arn
        assert policy["document"]["Statement"], arn


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

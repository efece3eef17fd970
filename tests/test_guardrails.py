"""Enterprise guardrails on the translated template: with PermissionsBoundaryArn and KmsKeyArn
set, every IAM role (SAM's own included) is bounded and every queue, topic, table, bucket,
stream, event archive and log group uses the key; with both empty, neither appears. And every
event bus rule that invokes a function has an archive of what it matched, which the README's
replay command names. Each check is also run on a copy mutated to miss one, and shown to
report it."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import whole_projects
from gates import sam_translate
from stages import Project, Stack, render

pytestmark = pytest.mark.matrix
WHOLE = whole_projects()
BOUNDARY = "arn:aws:iam::123456789012:policy/org-boundary"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ON = {"PermissionsBoundaryArn": BOUNDARY, "KmsKeyArn": KEY}


def _sse_bucket(p: dict[str, Any]) -> bool:
    rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    return bool(rules) and all(
        r["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY}
        for r in rules
    )


# How each store type says "encrypted with KEY", on its resolved properties.
USES_KEY: dict[str, Callable[[dict[str, Any]], bool]] = {
    "AWS::SQS::Queue": lambda p: p.get("KmsMasterKeyId") == KEY and "SqsManagedSseEnabled" not in p,
    "AWS::SNS::Topic": lambda p: p.get("KmsMasterKeyId") == KEY,
    "AWS::DynamoDB::Table": lambda p: (
        p.get("SSESpecification") == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY}
    ),
    "AWS::S3::Bucket": _sse_bucket,
    "AWS::Kinesis::Stream": lambda p: (
        p.get("StreamEncryption") == {"EncryptionType": "KMS", "KeyId": KEY}
    ),
    "AWS::KinesisFirehose::DeliveryStream": lambda p: (
        p.get("DeliveryStreamEncryptionConfigurationInput")
        == {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY}
    ),
    "AWS::Logs::LogGroup": lambda p: p.get("KmsKeyId") == KEY,
    "AWS::Events::Archive": lambda p: p.get("KmsKeyIdentifier") == KEY,
    "AWS::SecretsManager::Secret": lambda p: p.get("KmsKeyId") == KEY,
}


def _deployed(translated: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The resources CloudFormation creates with ``parameters``, intrinsics evaluated."""
    stack = Stack(translated, "svc-prod", parameters)
    return {
        name: stack.resolve(resource)
        for name, resource in translated["Resources"].items()
        if "Condition" not in resource or stack.condition(resource["Condition"])
    }


def _assumed_by(role: dict[str, Any]) -> set[str]:
    services: set[str] = set()
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        service = statement.get("Principal", {}).get("Service", [])
        services.update([service] if isinstance(service, str) else service)
    return services


def guardrail_problems(translated: dict[str, Any]) -> list[str]:
    """What misses a guardrail when both parameters are set: an unbounded role, a store not
    encrypted with the key, a role that reads or writes data but may not use the key."""
    resources = _deployed(translated, ON)
    problems = []
    key_users: set[str] = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Effect") == "Allow" and statement.get("Resource") == KEY:
                key_users.update(resource["Properties"]["Roles"])
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            if props.get("PermissionsBoundary") != BOUNDARY:
                problems.append(f"{name}: role without the permissions boundary")
            # CodeDeploy only moves aliases and reads alarms: no data of the stack.
            data_role = _assumed_by(resource) != {"codedeploy.amazonaws.com"}
            if data_role and f"<svc-prod/{name}>" not in key_users:
                problems.append(f"{name}: role may not use the key")
        elif resource["Type"] == "AWS::KMS::Key":
            problems.append(f"{name}: a key of the stack's own, unused beside the given one")
        elif resource["Type"] in USES_KEY and not USES_KEY[resource["Type"]](props):
            problems.append(f"{name}: {resource['Type']} not encrypted with the key")
    return problems


def default_problems(translated: dict[str, Any]) -> list[str]:
    """What a guardrail leaves behind when both parameters are empty (the default)."""
    problems = []
    for name, resource in _deployed(translated, {}).items():
        props = resource.get("Properties", {})
        if "PermissionsBoundary" in props:
            problems.append(f"{name}: bounded although PermissionsBoundaryArn is empty")
        if resource["Type"] == "AWS::IAM::Policy" and name == "KmsKeyUse":
            problems.append(f"{name}: created although KmsKeyArn is empty")
        if resource["Type"] == "AWS::SQS::Queue" and props.get("SqsManagedSseEnabled") is not True:
            problems.append(f"{name}: queue lost SSE-SQS")
        for key in ("KmsMasterKeyId", "KMSMasterKeyId", "KmsKeyId", "KeyARN"):
            if props.get(key) == "":
                problems.append(f"{name}: {key} is empty")
    return problems


@pytest.mark.parametrize("args", [a for _, a in WHOLE], ids=[i for i, _ in WHOLE])
def test_guardrails_cover_every_role_and_store(args: list[str]) -> None:
    project = render(tuple(args))
    assert not guardrail_problems(project.translated)
    assert not default_problems(project.translated)


# The kinds the mutations below remove a guardrail from, whatever TS_KINDS narrows to.
MUTATED_KINDS = ("api", "firehose", "sns", "eventbridge", "schedule", "sqs", "dynamodb", "kinesis")


def _mutation_base() -> Project:
    return render(tuple(a for kind in ("s3", *MUTATED_KINDS) for a in ("--trigger", kind)))


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    template = copy.deepcopy(_mutation_base().template)
    change(template["Resources"])
    return sam_translate(template)


def _drop(resource: str, *path: str) -> Callable[[dict[str, Any]], None]:
    """Delete ``path`` under the resource's Properties (or its ``Condition``)."""

    def change(resources: dict[str, Any]) -> None:
        *parents, last = path if path == ("Condition",) else ("Properties", *path)
        node = resources[resource]
        for key in parents:
            node = node[key]
        del node[last]

    return change


def _unlist(role: str) -> Callable[[dict[str, Any]], None]:
    def change(resources: dict[str, Any]) -> None:
        resources["KmsKeyUse"]["Properties"]["Roles"].remove({"Ref": role})

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _drop("FirehoseDeliveryRole", "PermissionsBoundary"),
            "FirehoseDeliveryRole: role without",
        ),
        (_drop("SqsFunctionRole", "PermissionsBoundary"), "SqsFunctionRole: role without"),
        (
            _drop("ScheduleFunction", "Events", "Schedule", "Properties", "PermissionsBoundary"),
            "ScheduleFunctionScheduleRole: role without",
        ),
        (_drop("SqsDeadLetterQueue", "KmsMasterKeyId"), "SqsDeadLetterQueue: AWS::SQS::Queue"),
        (_drop("SnsTopic", "KmsMasterKeyId"), "SnsTopic: AWS::SNS::Topic"),
        (_drop("DynamodbTable", "SSESpecification", "KMSMasterKeyId"), "DynamodbTable: AWS::"),
        (_drop("S3Bucket", "BucketEncryption"), "S3Bucket: AWS::S3::Bucket"),
        (_drop("KinesisStream", "StreamEncryption"), "KinesisStream: AWS::Kinesis::Stream"),
        (
            _drop("FirehoseDeliveryStream", "DeliveryStreamEncryptionConfigurationInput", "KeyARN"),
            "FirehoseDeliveryStream: AWS::Kinesis",
        ),
        (_drop("ApiApiAccessLogs", "KmsKeyId"), "ApiApiAccessLogs: AWS::Logs"),
        (_drop("KinesisFunctionLogs", "KmsKeyId"), "KinesisFunctionLogs: AWS::Logs::LogGroup"),
        (_unlist("KinesisFunctionRole"), "KinesisFunctionRole: role may not use the key"),
        (_drop("SnsTopicKey", "Condition"), "SnsTopicKey: a key of the stack's own"),
        (_drop("EventbridgeArchive", "KmsKeyIdentifier"), "EventbridgeArchive: AWS::Events"),
    ],
    ids=lambda v: v.split(":")[0] if isinstance(v, str) else "",
)
def test_guardrail_check_reports_a_mutated_template(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = guardrail_problems(_mutated(change))
    assert any(p.startswith(expected) for p in problems), problems


def test_default_check_reports_a_guardrail_left_on() -> None:
    def always_bounded(resources: dict[str, Any]) -> None:
        resources["SqsFunctionRole"]["Properties"]["PermissionsBoundary"] = BOUNDARY

    assert any(
        p.startswith("SqsFunctionRole: bounded") for p in default_problems(_mutated(always_bounded))
    )


def _outputs_of(translated: dict[str, Any], value: Any) -> list[str]:
    return [n for n, o in translated.get("Outputs", {}).items() if o["Value"] == value]


def replay_problems(project: Project) -> list[str]:
    """Why a failed event of a bus rule that invokes a function could not be replayed: no
    archive of the bus with the rule's pattern and a retention parameter, or a README without
    the start-replay command naming the outputs that hold the archive, bus and rule ARNs."""
    resources = project.translated["Resources"]
    problems = []
    for name, rule in resources.items():
        props = rule.get("Properties", {})
        if rule["Type"] != "AWS::Events::Rule" or "EventBusName" not in props:
            continue
        targets = [resources.get(t["Arn"].get("Ref"), {}) for t in props["Targets"]]
        if not any(t.get("Type", "").startswith("AWS::Lambda::") for t in targets):
            continue
        bus = props["EventBusName"]["Ref"]
        archives = [
            (a, r["Properties"])
            for a, r in resources.items()
            if r["Type"] == "AWS::Events::Archive"
            and r["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus, "Arn"]}
            and r["Properties"]["EventPattern"] == props["EventPattern"]
        ]
        if not archives:
            problems.append(f"{name}: no archive of {bus} with the rule's pattern")
            continue
        archive, archived = archives[0]
        if archived["RetentionDays"].get("Ref") not in project.template["Parameters"]:
            problems.append(f"{archive}: retention is not a parameter")
        needed = {
            "--event-source-arn": _outputs_of(project.translated, {"Fn::GetAtt": [archive, "Arn"]}),
            '"Arn"': _outputs_of(project.translated, {"Fn::GetAtt": [bus, "Arn"]}),
            '"FilterArns"': _outputs_of(project.translated, {"Fn::GetAtt": [name, "Arn"]}),
        }
        command = re.search(r"aws events start-replay .*?(?=\n\S|\n\n)", project.readme, re.S)
        for flag, outputs in needed.items():
            if not outputs:
                problems.append(f"{name}: no output holds what {flag} of start-replay needs")
            elif not command or not any(
                re.search(re.escape(flag) + r'[ :]+[\["]*<' + o + ">", command.group())
                for o in outputs
            ):
                problems.append(f"{name}: the README's start-replay has no {flag} <{outputs[0]}>")
    return problems


EVENTBRIDGE = [(i, a) for i, a in WHOLE if "eventbridge" in a]


@pytest.mark.parametrize("args", [a for _, a in EVENTBRIDGE], ids=[i for i, _ in EVENTBRIDGE])
def test_every_bus_rule_can_be_replayed(args: list[str]) -> None:
    project = render(tuple(args))
    assert "EventbridgeArchive" in project.translated["Resources"]
    assert not replay_problems(project)


def test_replay_check_reports_a_missing_archive_output_or_command() -> None:
    project = _mutation_base()
    translated = copy.deepcopy(project.translated)
    translated["Resources"]["EventbridgeArchive"]["Properties"]["EventPattern"] = {
        "source": ["com.example.other"]
    }
    assert replay_problems(dataclasses.replace(project, translated=translated)) == [
        "EventbridgeFunctionOrderPlaced: no archive of EventbridgeEventBus with the rule's pattern"
    ]
    translated = copy.deepcopy(project.translated)
    del translated["Outputs"]["EventbridgeRuleArn"]
    assert replay_problems(dataclasses.replace(project, translated=translated)) == [
        'EventbridgeFunctionOrderPlaced: no output holds what "FilterArns" of start-replay needs'
    ]
    readme = project.readme.replace('"<EventbridgeArchiveArn>"', "<archive arn>")
    assert replay_problems(dataclasses.replace(project, readme=readme)) == [
        "EventbridgeFunctionOrderPlaced: the README's start-replay has no --event-source-arn "
        "<EventbridgeArchiveArn>"
    ]

"""What AWS does with the generated stacks, beyond what the validators accept.

Each test reads a rendered project the way AWS would run it: the template ``Rules``
CloudFormation evaluates before it creates anything, the security group of a load balancer
that signs users in, the answer a Cognito trigger gives, the key policy of a topic that AWS
services publish to, and the memory the fan-out split needs for a large upload. Each check is
also run on a copy with the defect, to show it cannot pass vacuously.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from conftest import available_kinds
from gates import _clean_env, load_template, sam_translate

from trigger_scaffold import load_catalog

CATALOG = load_catalog()

# --- template Rules: a placeholder is refused before any resource is created --------------


def _rule_value(node: Any, values: dict[str, Any]) -> Any:
    """A rule function's value for the given parameter values (``None``: not known offline)."""
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((name, arg),) = node.items()
    if name == "Ref":
        return values.get(arg)
    args = [_rule_value(a, values) for a in arg] if isinstance(arg, list) else []
    if name == "Fn::Equals":
        return None if None in args else args[0] == args[1]
    if name == "Fn::Not":
        return None if args[0] is None else not args[0]
    if name == "Fn::And":
        return None if None in args else all(args)
    if name == "Fn::Or":
        return None if None in args else any(args)
    if name == "Fn::Contains":
        return None if None in args else args[1] in args[0]
    # Fn::EachMemberEquals, Fn::ValueOf, ...: they ask AWS about existing resources.
    return None


def refusals(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> list[str]:
    """The AssertDescriptions CloudFormation would answer with for these parameter values
    (the defaults, then ``overrides``); assertions that need AWS to decide count as held."""
    values: dict[str, Any] = {"AWS::Region": "us-east-1"}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            values[name] = str(spec["Default"])
    values.update(overrides or {})
    refused = []
    for rule in template.get("Rules", {}).values():
        if _rule_value(rule.get("RuleCondition", True), values) is False:
            continue
        for assertion in rule["Assertions"]:
            if _rule_value(assertion["Assert"], values) is False:
                refused.append(assertion["AssertDescription"])
    return refused


def test_refusals_evaluate_rules_like_cloudformation() -> None:
    template = {
        "Parameters": {"Url": {"Default": "x"}, "On": {"Default": "false"}},
        "Rules": {
            "UrlIsSet": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Url"}, "x"]}]},
                        "AssertDescription": "url",
                    }
                ]
            },
            "WhenOn": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "On"}, "true"]},
                "Assertions": [
                    {"Assert": {"Fn::Contains": [["a"], {"Ref": "Url"}]}, "AssertDescription": "on"}
                ],
            },
        },
    }
    assert refusals(template) == ["url"]
    assert refusals(template, {"Url": "a"}) == []
    assert refusals(template, {"Url": "b", "On": "true"}) == ["on"]
    assert refusals({"Parameters": template["Parameters"]}) == []


# Parameters whose default cannot deploy a working stack, and a value that can.
PREREQUISITES = {
    "aggregator": {
        "BackendProfileUrl": "https://profile.internal.example.org/customers/{customer_id}",
        "BackendOrdersUrl": "https://orders.internal.example.org/customers/{customer_id}/orders",
        "BackendRecommendationsUrl": "https://recs.internal.example.org/c/{customer_id}",
    },
    "strangler": {"LegacyBaseUrl": "https://legacy.internal.example.org"},
}
# What the load balancer's own rules need (its certificate placeholder is refused too).
ALB = {"AlbCertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/" + "1" * 36}


@pytest.mark.matrix
@pytest.mark.parametrize("pattern", PREREQUISITES)
def test_placeholders_are_refused_before_anything_is_created(
    new_project: Callable[..., Path], pattern: str
) -> None:
    # Every entry at once: the pattern's rule appears once, whichever entry comes first.
    kinds = [k for k in available_kinds() if CATALOG.pattern(pattern).accepts(k)]
    project = new_project("--pattern", pattern, *(a for k in kinds for a in ("--trigger", k)))
    template = load_template(project / "template.yaml")
    real = {**PREREQUISITES[pattern], **(ALB if "alb" in kinds else {})}
    parameters = template["Parameters"]

    assert refusals(template, real) == []
    for name in PREREQUISITES[pattern]:
        if name not in parameters:
            continue  # e.g. the strangler's alb entry has no LegacyBaseUrl
        others = {k: v for k, v in real.items() if k != name}
        refused = refusals(template, others)
        assert len(refused) == 1, f"{name}: {refused}"
        assert name in refused[0]
        if "^$" in parameters[name].get("AllowedPattern", ""):
            assert refusals(template, {**others, name: ""}) == refused
    defect = copy.deepcopy(template)
    del defect["Rules"]
    assert (
        refusals(defect, {k: v for k, v in real.items() if k not in PREREQUISITES[pattern]}) == []
    )


# --- alb: a load balancer that authenticates users reaches its identity provider ----------


def reaches_identity_provider(group: dict[str, Any]) -> bool:
    """Whether a security group lets its load balancer open HTTPS connections to any
    address (an IdP's token and user info endpoints), and nothing else."""
    rules = group["Properties"].get("SecurityGroupEgress")
    if rules is None:
        return True  # EC2's default rule: all traffic out
    https = [
        r
        for r in rules
        if r.get("IpProtocol") in ("tcp", "6", "-1")
        and int(r.get("FromPort", 0)) <= 443 <= int(r.get("ToPort", 65535))
        and r.get("CidrIp") == "0.0.0.0/0"
    ]
    return bool(https) and all(r.get("IpProtocol") != "-1" for r in rules)


# The strangler's load balancer fronts the legacy system, which keeps its own sign-in: its
# README gives no such advice, and its security group reaches the legacy servers only.
ALB_ENTRIES = [
    p.id
    for p in CATALOG.patterns
    if p.accepts("alb") and p.id != "strangler" and "alb" in available_kinds()
]


@pytest.mark.matrix
@pytest.mark.parametrize("pattern", ALB_ENTRIES)
def test_load_balancer_can_reach_the_identity_provider(
    new_project: Callable[..., Path], pattern: str
) -> None:
    project = new_project("--pattern", pattern, "--trigger", "alb")
    readme = (project / "README.md").read_text()
    assert "`jwt-validation`" in readme  # the default auth answer: the listener verifies tokens
    assert "HTTPS (443) out" in readme
    resources = sam_translate(load_template(project / "template.yaml"))["Resources"]
    groups = {name: r for name, r in resources.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
    balancers = [r for r in resources.values() if r["Type"].endswith("::LoadBalancer")]
    used = {g["Ref"] for b in balancers for g in b["Properties"]["SecurityGroups"]}
    assert used, "no security group on the load balancer"
    for name in used:
        assert reaches_identity_provider(groups[name]), name
        defect = copy.deepcopy(groups[name])
        # The old rule: matches nothing, so the listener cannot fetch the issuer's key set.
        defect["Properties"]["SecurityGroupEgress"] = [
            {"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32"}
        ]
        assert not reaches_identity_provider(defect)


# --- cognito: users confirmed by domain can recover their password ------------------------


def load_handler(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A generated handler module, imported from its file under a unique name.

    Its folder goes first on the path, as /var/task does on Lambda, so ``from app import``
    finds the function's own business logic.
    """
    name = f"generated_{path.parent.name.replace('-', '_')}_{id(path)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.delitem(sys.modules, "app", raising=False)
    spec.loader.exec_module(module)
    return module


@pytest.mark.matrix
@pytest.mark.parametrize("kind", [k for k in available_kinds() if k == "cognito"])
def test_auto_confirmed_sign_up_can_reset_its_password(
    new_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    project = new_project("--trigger", f"{kind}:users")
    pool = load_template(project / "template.yaml")["Resources"]["UsersUserPool"]
    recovery = pool["Properties"]["AccountRecoverySetting"]["RecoveryMechanisms"]
    assert [m["Name"] for m in recovery] == ["verified_email"]

    monkeypatch.setenv("AUTO_CONFIRM_EMAIL_DOMAINS", "example.com")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "test")
    app = load_handler(project / "functions" / "users" / "handler.py", monkeypatch)
    event = json.loads((project / "events" / "users-pre-sign-up.json").read_text())
    event["request"]["userAttributes"]["email"] = "ada@example.com"
    context = SimpleNamespace(function_version="7", aws_request_id="req-1")
    app.pre_sign_up(app.PreSignUpTriggerEvent(event), context)

    # Recovery needs a verified address, and Cognito sends no code to a confirmed user.
    assert event["response"]["autoConfirmUser"] is True
    assert event["response"]["autoVerifyEmail"] is True


# --- fan-out-fan-in: the split streams, so S3 bounds a job, not the function's memory -----

MATERIALISED = (
    '    items = [{"index": i, "input": item} for i, item in enumerate(split_job(request))]\n'
)


def _split_memory_test(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own test that the split's memory does not grow with the upload."""
    test = ["tests/contract/test_split_contract.py", "-k", "memory_does_not_grow"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *test],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the roles' inline policies and the policies attached to roles."""
    found: list[dict[str, Any]] = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        else:
            continue
        found += [s for d in documents for s in _listed(d["Statement"])]
    return found


@pytest.mark.matrix
@pytest.mark.parametrize("kind", [k for k in available_kinds() if k == "s3"])
def test_split_streams_uploads_of_any_size(new_project: Callable[..., Path], kind: str) -> None:
    project = new_project("--pattern", "fan-out-fan-in", "--trigger", f"{kind}:uploads")
    definition = json.loads((project / "statemachine" / "workflow.asl.json").read_text())
    reader = definition["States"]["ProcessItems"]["ItemReader"]
    assert reader["ReaderConfig"] == {"InputType": "JSONL"}
    # The key the split writes is the one its role may write and the workflow may read.
    split = project / "functions" / "split"
    assert 'key = f"jobs/{job_id}/items.jsonl"' in (split / "handler.py").read_text()
    resources = sam_translate(load_template(project / "template.yaml"))["Resources"]
    granted = {
        action
        for statement in _iam_statements(resources)
        if "/jobs/*/items.jsonl" in json.dumps(statement.get("Resource"))
        for action in _listed(statement["Action"])
    }
    assert {"s3:PutObject", "s3:GetObject"} <= granted  # the split writes, the map reads

    passed = _split_memory_test(project)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    # The defect: every item collected in one list before it is written.
    handler = split / "handler.py"
    lines = handler.read_text().splitlines(keepends=True)
    [at] = [i for i, line in enumerate(lines) if line.startswith("    items = (")]
    handler.write_text("".join([*lines[:at], MATERIALISED, *lines[at + 1 :]]))
    failed = _split_memory_test(project)
    assert failed.returncode == 1, failed.stdout
    assert "assert large < 2 * small" in failed.stdout


# --- SNS: AWS services can publish to the topics they may feed ------------------------------

PUBLISHING_SERVICES = {"s3.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"}


def _from_this_account(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {}).get("StringEquals", {})
    return condition.get("aws:SourceAccount") == {"Ref": "AWS::AccountId"}


def _services(statement: dict[str, Any]) -> set[str]:
    return set(_listed(statement.get("Principal", {}).get("Service", [])))


def topic_problems(resources: dict[str, Any]) -> list[str]:
    """Why S3, EventBridge or CloudWatch alarms of the account could not publish to a topic,
    or where its key grants more than administration and exactly those services."""
    problems = []
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    for name, topic in resources.items():
        if topic["Type"] != "AWS::SNS::Topic":
            continue
        key_ref = topic["Properties"].get("KmsMasterKeyId")
        if isinstance(key_ref, dict) and "Fn::If" in key_ref:
            key_ref = key_ref["Fn::If"][2]  # the stack's own key, unless KmsKeyArn is given
        if not isinstance(key_ref, dict) or resources[key_ref["Ref"]]["Type"] != "AWS::KMS::Key":
            problems.append(f"{name}: not encrypted with a key of the stack ({key_ref})")
            continue
        key = resources[key_ref["Ref"]]["Properties"]
        if key.get("EnableKeyRotation") is not True:
            problems.append(f"{name}: key rotation is off")
        for statement in _listed(key["KeyPolicy"]["Statement"]):
            actions = set(_listed(statement["Action"]))
            admin = statement["Principal"] == {
                "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            }
            if "kms:*" in actions and not admin:
                problems.append(f"{name}: kms:* for {statement['Principal']}")
            if "AWS" not in statement["Principal"] and (
                _services(statement) != PUBLISHING_SERVICES
                or actions != {"kms:GenerateDataKey*", "kms:Decrypt"}
                or not _from_this_account(statement)
            ):
                problems.append(f"{name}: key statement {statement.get('Sid')} is not exact")
        granted = [
            s
            for p in policies
            if {"Ref": name} in p["Topics"]
            for s in _listed(p["PolicyDocument"]["Statement"])
            if s["Effect"] == "Allow" and "sns:Publish" in _listed(s["Action"])
        ]
        services = {service for s in granted if _from_this_account(s) for service in _services(s)}
        if services != PUBLISHING_SERVICES:
            problems.append(f"{name}: the topic policy lets {sorted(services)} publish")
    return problems


TOPIC_PROJECTS = [
    args
    for args in (("--trigger", "sns"), ("--pattern", "pub-sub", "--trigger", "sqs:orders"))
    if args[-1].split(":")[0] in available_kinds()
]


@pytest.mark.matrix
@pytest.mark.parametrize("args", TOPIC_PROJECTS, ids=lambda a: a[-1])
def test_aws_services_can_publish_to_the_topics(
    new_project: Callable[..., Path], args: tuple[str, ...]
) -> None:
    project = new_project(*args)
    resources = sam_translate(load_template(project / "template.yaml"))["Resources"]
    assert topic_problems(resources) == []
    keys = {n for n, r in resources.items() if r["Type"] == "AWS::KMS::Key"}
    assert keys
    # Functions that publish to the topic may use its key.
    publishers = [
        s
        for s in _iam_statements(resources)
        if any(s.get("Resource") == {"Fn::GetAtt": [k, "Arn"]} for k in keys)
    ]
    if "pub-sub" in args:
        assert publishers
        assert all(
            set(_listed(s["Action"])) == {"kms:GenerateDataKey*", "kms:Decrypt"} for s in publishers
        )

    for name, resource in resources.items():
        if resource["Type"] == "AWS::SNS::Topic":
            defect = copy.deepcopy(resources)
            defect[name]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
            assert topic_problems(defect)

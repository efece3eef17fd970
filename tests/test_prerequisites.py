"""Prerequisites: a placeholder default is refused before any resource is created.

A default is a *placeholder* when it (or, for list types, one of its items) is

- a name reserved for documentation: an ``example`` domain (``example.com``, ``.example``) or
  one under ``.invalid``, ``.test`` or ``.localhost`` (RFC 2606, RFC 6761), S3's
  ``amzn-s3-demo-`` bucket names;
- an AWS documentation account id (``123456789012``, ``111122223333``, ``000000000000``);
- an all-same-digit id (eight or more ``0``s in a row: ``00000000-0000-...``, ``vpc-0000...``);
- a marker (``REPLACE``, ``CHANGEME``, ``TODO``, ``FIXME``, ``PLACEHOLDER``, ``<...>``);
- empty while the parameter's own constraints refuse empty (empty-but-required). An empty
  default that the constraints admit (``^$|...``) or leave free is a choice, not a placeholder.

Such a parameter is *refused* when CloudFormation stops the stack before creating anything:
a template ``Rule`` assertion that names the parameter is false for the defaults (its
``RuleCondition``, if any, true); or the default breaks the parameter's own ``AllowedPattern``
/ ``AllowedValues``; or its type is AWS-specific (``AWS::EC2::VPC::Id``, ``List<AWS::...>``),
which CloudFormation looks up in the account first. Rules are evaluated here with the
functions CloudFormation allows in them; ``Fn::ValueOf`` and friends need the account and
count as unknown, never as a refusal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from gates import load_template
from matrix_projects import matrix_specs, rendered

SPECS = matrix_specs()
REGION = "us-east-1"
PLACEHOLDERS = [
    re.compile(r"(?:^|[^a-z0-9-])example\.(?:com|net|org)\b", re.I),
    re.compile(r"\.(?:example|invalid|test|localhost)(?:$|[^a-z0-9-])", re.I),
    re.compile(r"^amzn-s3-demo-", re.I),
    re.compile(r"(?<![0-9])(?:123456789012|111122223333|000000000000)(?![0-9])"),
    re.compile(r"0{8,}"),
    re.compile(r"(?<![a-z])(?:REPLACE|CHANGE_?ME|TODO|FIXME|PLACEHOLDER)(?![a-z])", re.I),
    re.compile(r"<[^<>]+>"),
]
UNKNOWN = object()


def _items(parameter: dict[str, Any]) -> list[str]:
    default = str(parameter["Default"])
    listed = parameter["Type"] == "CommaDelimitedList" or parameter["Type"].startswith("List<")
    return [item.strip() for item in default.split(",")] if listed else [default]


def _constraints_refuse(parameter: dict[str, Any], value: str) -> bool:
    allowed = parameter.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        return True
    pattern = parameter.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return True
    return len(value) < int(parameter.get("MinLength", 0))


def is_placeholder(parameter: dict[str, Any]) -> bool:
    """Whether a parameter's default only stands in for a value the deployer must give."""
    if "Default" not in parameter or parameter["Type"] == "Number":
        return False
    items = _items(parameter)
    if items == [""]:
        return _constraints_refuse(parameter, "")
    return any(p.search(item) for item in items for p in PLACEHOLDERS)


def _evaluate(node: Any, values: dict[str, Any]) -> Any:
    """A Rule condition or assertion, with the parameters' values; UNKNOWN where AWS decides."""
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return values.get(node["Ref"], UNKNOWN)
    ((function, args),) = node.items()
    if function in ("Fn::ValueOf", "Fn::ValueOfAll", "Fn::RefAll"):
        return UNKNOWN
    if function in ("Fn::And", "Fn::Or"):
        results = [_evaluate(arg, values) for arg in args]
        decisive = function == "Fn::Or"
        if decisive in results:
            return decisive
        return UNKNOWN if UNKNOWN in results else not decisive
    operands = [_evaluate(arg, values) for arg in (args if isinstance(args, list) else [args])]
    if any(op is UNKNOWN for op in operands):
        return UNKNOWN
    if function == "Fn::Not":
        return not operands[0]
    if function == "Fn::Equals":
        return str(operands[0]) == str(operands[1])
    if function == "Fn::Contains":
        return str(operands[1]) in [str(v) for v in operands[0]]
    if function == "Fn::EachMemberEquals":
        return all(str(v) == str(operands[1]) for v in operands[0])
    if function == "Fn::EachMemberIn":
        return all(str(v) in [str(w) for w in operands[1]] for v in operands[0])
    raise AssertionError(f"a Rule uses {function}, which CloudFormation does not allow in rules")


def _names(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["Ref"]} if set(node) == {"Ref"} and isinstance(node["Ref"], str) else set()
        return found.union(*(_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node))
    return set()


def _values(template: dict[str, Any], overrides: dict[str, str], region: str) -> dict[str, Any]:
    values: dict[str, Any] = {"AWS::Region": region, "AWS::Partition": "aws"}
    for name, parameter in template.get("Parameters", {}).items():
        if name in overrides or "Default" in parameter:
            value = overrides.get(name, str(parameter.get("Default")))
            listed = parameter["Type"] == "CommaDelimitedList" or parameter["Type"].startswith(
                "List<"
            )
            values[name] = [v.strip() for v in value.split(",")] if listed else value
    return values


def refusals(
    template: dict[str, Any], overrides: dict[str, str] | None = None, region: str = REGION
) -> dict[str, set[str]]:
    """Failed Rule assertions for these parameter values: description -> parameters named."""
    values = _values(template, overrides or {}, region)
    failed: dict[str, set[str]] = {}
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and _evaluate(rule["RuleCondition"], values) is not True:
            continue
        for assertion in rule["Assertions"]:
            if _evaluate(assertion["Assert"], values) is False:
                failed[assertion.get("AssertDescription", "")] = _names(assertion["Assert"])
    return failed


def placeholder_findings(template: dict[str, Any]) -> list[str]:
    """Parameters whose placeholder default nothing refuses before resources are created."""
    refused = set().union(*refusals(template).values())
    findings = []
    for name, parameter in template.get("Parameters", {}).items():
        if not is_placeholder(parameter) or name in refused:
            continue
        if parameter["Type"].startswith(("AWS::", "List<AWS::")):
            continue  # CloudFormation looks the ids up in the account before creating anything
        if any(_constraints_refuse(parameter, item) for item in _items(parameter)):
            continue  # CloudFormation refuses a value its own constraints do not allow
        findings.append(f"{name}: placeholder default {parameter['Default']!r}, no Rule refuses it")
    return findings


@pytest.mark.matrix
@pytest.mark.parametrize("args", [args for _, args in SPECS], ids=[spec for spec, _ in SPECS])
def test_placeholders_are_refused_before_anything_is_created(args: list[str]) -> None:
    findings = placeholder_findings(load_template(rendered(args) / "template.yaml"))
    assert not findings, "\n".join(findings)


# --- the definition, the evaluator and the check, on data with and without the defect ----


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ("inbound.example.com", True),
        ("https://profile.example.invalid/customers/{customer_id}", True),
        ("amzn-s3-demo-bucket", True),
        (
            "arn:aws:connect:us-east-1:123456789012:instance/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            True,
        ),
        ("amzn1.ask.skill.00000000-0000-0000-0000-000000000000", True),
        ("REPLACE_ME", True),
        ("<your bucket>", True),
        ("www.example-shop.com", False),
        ("demo-svc-pipeline", False),
        ("AWS::S3::Bucket", False),
        ("internet-facing", False),
    ],
)
def test_what_counts_as_a_placeholder(default: str, expected: bool) -> None:
    assert is_placeholder({"Type": "String", "Default": default}) is expected


def test_empty_is_a_placeholder_only_where_the_constraints_refuse_it() -> None:
    assert is_placeholder({"Type": "String", "Default": "", "AllowedPattern": "^[a-z]+$"})
    assert not is_placeholder({"Type": "String", "Default": "", "AllowedPattern": "^$|^[a-z]+$"})
    assert not is_placeholder({"Type": "String", "Default": "", "MaxLength": 1024})


def _param(default: str) -> dict[str, Any]:
    return {"Type": "String", "Default": default}


def test_a_placeholder_without_a_rule_is_found() -> None:
    template = {"Parameters": {"Origin": _param("example.com"), "Ok": _param("real.dev")}}
    assert placeholder_findings(template) == [
        "Origin: placeholder default 'example.com', no Rule refuses it"
    ]
    template["Rules"] = {
        "OriginSet": {
            "Assertions": [
                {"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Origin"}, "example.com"]}]}}
            ]
        }
    }
    assert placeholder_findings(template) == []


def test_a_rule_that_misses_the_default_does_not_count() -> None:
    """The Rule names the parameter, but another literal: it does not refuse the default."""
    template = {
        "Parameters": {"Origin": _param("example.com")},
        "Rules": {
            "OriginSet": {
                "Assertions": [
                    {"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Origin"}, "example.org"]}]}}
                ]
            }
        },
    }
    assert placeholder_findings(template)


def test_rules_with_a_false_condition_or_unknown_lookups_refuse_nothing() -> None:
    template = {
        "Parameters": {"Bucket": _param("amzn-s3-demo-bucket"), "On": _param("false")},
        "Rules": {
            "Off": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "On"}, "true"]},
                "Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "Bucket"}, "x"]}}],
            },
            "Lookup": {
                "Assertions": [
                    {"Assert": {"Fn::EachMemberEquals": [{"Fn::ValueOf": ["Bucket", "X"]}, "y"]}}
                ]
            },
        },
    }
    assert placeholder_findings(template) == [
        "Bucket: placeholder default 'amzn-s3-demo-bucket', no Rule refuses it"
    ]


def test_aws_specific_types_are_looked_up_by_cloudformation() -> None:
    template = {"Parameters": {"Vpc": {"Type": "AWS::EC2::VPC::Id", "Default": "vpc-00000000"}}}
    assert placeholder_findings(template) == []


# --- connect, config and ses stop before anything is created --------------------

# Values a deployer would give: with them the stack deploys, with the defaults it is refused.
REAL = {
    "connect": {
        "ConnectInstanceArn": "arn:aws:connect:us-east-1:210987654321:instance/"
        "4f1c2b8e-9d3a-4c5e-8f7a-1b2c3d4e5f60"
    },
    "config": {"ConfigRecorderReady": "true"},
    "ses": {"SesRecipient": "inbound.shop.dev"},
}


@pytest.fixture(scope="module")
def prerequisites(scaffold_home: Path) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRIGGER_SCAFFOLD_HOME", str(scaffold_home))
        project = rendered([a for kind in REAL for a in ("--trigger", kind)])
    return load_template(project / "template.yaml")


@pytest.mark.parametrize("kind", list(REAL))
def test_the_defaults_are_refused_and_real_values_pass(
    prerequisites: dict[str, Any], kind: str
) -> None:
    (parameter,) = REAL[kind]
    refused = set().union(*refusals(prerequisites).values())
    assert parameter in refused
    others = {k: v for values in REAL.values() for k, v in values.items()}
    assert refusals(prerequisites, others) == {}


@pytest.mark.parametrize(("region", "receives"), [("eu-west-1", True), ("eu-north-1", False)])
def test_ses_is_refused_where_it_receives_no_mail(
    prerequisites: dict[str, Any], region: str, receives: bool
) -> None:
    values = {k: v for values in REAL.values() for k, v in values.items()}
    assert (refusals(prerequisites, values, region) == {}) is receives


def _without(template: dict[str, Any], rule: str) -> dict[str, Any]:
    return {**template, "Rules": {k: v for k, v in template["Rules"].items() if k != rule}}


def test_dropping_a_rule_shows_the_placeholder(prerequisites: dict[str, Any]) -> None:
    assert placeholder_findings(prerequisites) == []
    assert placeholder_findings(_without(prerequisites, "ConnectInstanceIsSet")) == [
        "ConnectInstanceArn: placeholder default "
        "'arn:aws:connect:us-east-1:123456789012:instance/00000000-0000-0000-0000-000000000000'"
        ", no Rule refuses it"
    ]
    findings = placeholder_findings(_without(prerequisites, "SesRecipientIsSet"))
    assert [f.split(":")[0] for f in findings] == ["SesRecipient"]

"""Invocation path: every way a source reaches a function targets its alias ``live``.

Event source mappings, permissions, roles allowed ``lambda:InvokeFunction``, the target
groups, rules, distributions and custom resources that name a function, and every ARN or
name the README tells the user to paste or call (with the outputs it points at). A grant on
the alias refuses the function's plain ARN, and a call to the plain ARN runs ``$LATEST``
past the canary and its alarms, so both must name the alias. Lambda@Edge invokes the
published version instead (``tests/invocation_paths.yml``). Read from the translated
template, as CloudFormation gets it, and from the generated README.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from gates import load_template, sam_translate
from matrix_projects import matrix_specs, rendered

RULES = yaml.safe_load((Path(__file__).parent / "invocation_paths.yml").read_text())
SPECS = matrix_specs()
ALIAS = "live"
SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}(:[A-Za-z0-9$_-]+)?")
CODE_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Reference:
    """One place a resource or output names a function, one of its versions or its alias."""

    owner: str
    owner_type: str
    path: str
    target: str
    what: str  # "function", "version" or "alias"


class Stack:
    """The translated template's functions, their versions and aliases, and what names them."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.outputs: dict[str, Any] = template.get("Outputs", {})
        by_type: dict[str, list[str]] = {}
        for name, resource in self.resources.items():
            by_type.setdefault(resource["Type"], []).append(name)
        self.functions = set(by_type.get("AWS::Lambda::Function", []))
        self.versions = set(by_type.get("AWS::Lambda::Version", []))
        self.aliases = {
            name: self.resources[name]["Properties"]
            for name in by_type.get("AWS::Lambda::Alias", [])
        }

    def classify(self, name: str, qualifier: str | None) -> str | None:
        if name in self.aliases:
            return "alias"
        if name in self.versions:
            return "version"
        if name in self.functions:
            return "alias" if qualifier == f":{ALIAS}" else "function"
        return None

    def references(self, owner: str, node: Any, owner_type: str) -> Iterator[Reference]:
        """Every Ref, GetAtt and Sub name in ``node`` that points at a function."""
        yield from self._walk(owner, owner_type, node, [])

    def _walk(self, owner: str, owner_type: str, node: Any, path: list[str]) -> Iterator[Reference]:
        found: list[tuple[str, str | None]] = []
        if isinstance(node, dict):
            if set(node) == {"Ref"} and isinstance(node["Ref"], str):
                found.append((node["Ref"], None))
            elif set(node) == {"Fn::GetAtt"}:
                target = node["Fn::GetAtt"]
                found.append(
                    (target[0] if isinstance(target, list) else target.split(".")[0], None)
                )
            elif set(node) == {"Fn::Sub"}:
                text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
                found += [(m.group(1), m.group(3)) for m in SUB_NAME.finditer(text)]
            for key, value in node.items():
                yield from self._walk(owner, owner_type, value, [*path, key])
        elif isinstance(node, list):
            for value in node:
                yield from self._walk(owner, owner_type, value, path)
        for name, qualifier in found:
            what = self.classify(name, qualifier)
            if what is not None:
                yield Reference(owner, owner_type, "/".join(path), name, what)

    def is_alias(self, value: Any) -> bool:
        """Whether ``value`` is exactly the ARN of a function's alias ``live``."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return value["Ref"] in self.aliases
        if (
            isinstance(value, dict)
            and set(value) == {"Fn::Sub"}
            and isinstance(value["Fn::Sub"], str)
        ):
            match = SUB_NAME.fullmatch(value["Fn::Sub"])
            return bool(match) and self.classify(match.group(1), match.group(3)) == "alias"
        return False


def _allowed(table: dict[str, list[str]], ref: Reference) -> bool:
    prefixes = table.get(ref.owner_type, [])
    return any(
        ref.path == f"Properties/{p}" or ref.path.startswith(f"Properties/{p}/") for p in prefixes
    )


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else actions


def _invoking_statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Allow statements of an IAM role or policy that cover lambda:InvokeFunction."""
    props = resource.get("Properties", {})
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    if "PolicyDocument" in props:
        documents.append(props["PolicyDocument"])
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if statement.get("Effect") == "Allow" and any(
                fnmatch.fnmatch("lambda:invokefunction", action.lower())
                for action in _actions(statement)
                if isinstance(action, str)
            ):
                yield statement


def template_findings(stack: Stack) -> list[str]:
    """What in the translated template reaches a function other than through ``live``."""
    findings: list[str] = []
    for name, props in stack.aliases.items():
        if props.get("Name") != ALIAS:
            findings.append(f"{name}: alias named {props.get('Name')!r}, not {ALIAS!r}")
    aliased = {
        p["FunctionName"]["Ref"] for p in stack.aliases.values() if "Ref" in p["FunctionName"]
    }
    findings += [f"{fn}: no alias {ALIAS!r}" for fn in sorted(stack.functions - aliased)]
    for name, resource in stack.resources.items():
        props = resource.get("Properties", {})
        for ref in stack.references(name, resource, resource["Type"]):
            if ref.what == "function" and not _allowed(RULES["unqualified"], ref):
                findings.append(
                    f"{name} ({ref.owner_type}) {ref.path}: {ref.target}, not its alias"
                )
            if ref.what == "version" and not _allowed(RULES["version"], ref):
                findings.append(f"{name} ({ref.owner_type}) {ref.path}: version {ref.target}")
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and props.get("Qualifier") != ALIAS:
            findings.append(f"{name}: configures {props.get('Qualifier')!r}, not {ALIAS!r}")
        if resource["Type"] == "AWS::Lambda::Permission" and not stack.is_alias(
            props.get("FunctionName")
        ):
            findings.append(f"{name}: grants {props.get('FunctionName')}, not a function's alias")
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in _invoking_statements(resource):
                resources = statement.get("Resource", [])
                for target in resources if isinstance(resources, list) else [resources]:
                    if not stack.is_alias(target):
                        findings.append(f"{name}: may invoke {target}, not exactly an alias")
    return findings


def _output_names(text: str, outputs: dict[str, Any]) -> set[str]:
    return {name for name in outputs if re.search(rf"\b{re.escape(name)}\b", text)}


def _logical_lines(block: str) -> list[str]:
    return block.replace("\\\n", " ").splitlines()


def readme_findings(stack: Stack, readme: str) -> list[str]:
    """What the README tells the user to paste or call that is not a function's alias."""
    findings: list[str] = []
    edge = {
        ref.target
        for name, resource in stack.resources.items()
        for ref in stack.references(name, resource, resource["Type"])
        if ref.what == "version" and resource["Type"] != "AWS::Lambda::Alias"
    }
    for output in sorted(_output_names(readme, stack.outputs)):
        for ref in stack.references(output, stack.outputs[output]["Value"], "Output"):
            if ref.what == "function" or (ref.what == "version" and ref.target not in edge):
                findings.append(f"README points at output {output}: {ref.what} {ref.target}")

    alias_outputs = {
        name: output
        for name, output in stack.outputs.items()
        if {ref.what for ref in stack.references(name, output["Value"], "Output")} == {"alias"}
    }

    def names_an_alias(value: str, lines: list[str]) -> bool:
        value = value.strip().strip("'\"")
        if value.endswith(f":{ALIAS}") or _output_names(value, alias_outputs):
            return True
        variable = re.fullmatch(r"\$\{?(\w+)\}?", value)
        if variable:
            assigned = [line for line in lines if re.match(rf"\s*{variable.group(1)}=", line)]
            return bool(assigned) and all(names_an_alias(a.split("=", 1)[1], []) for a in assigned)
        return False

    keys = "|".join(RULES["readme_keys"])
    for block in CODE_BLOCK.findall(readme):
        lines = _logical_lines(block)
        for line in lines:
            if re.search(r"\blambda invoke\b|\bremote invoke\b", line):
                for value in re.findall(r"--function-name[ =](\S+)", line):
                    if not names_an_alias(value, lines):
                        findings.append(f"README invokes {value}, not a function's alias")
            for match in re.finditer(rf"[\"']?\b(?:{keys})\b[\"']?\s*[:=]\s*(.*)", line):
                value = re.split(r",\s*[\"']|\}", match.group(1), maxsplit=1)[0]
                if value and not names_an_alias(value, lines):
                    findings.append(f"README has the user paste {value.strip()!r}, not an alias")
    return findings


def invocation_findings(project: Path) -> list[str]:
    """Every invocation path of ``project`` that misses the alias ``live``."""
    stack = Stack(sam_translate(load_template(project / "template.yaml")))
    readme = (project / "README.md").read_text()
    return template_findings(stack) + readme_findings(stack, readme)


@pytest.mark.matrix
@pytest.mark.parametrize("args", [args for _, args in SPECS], ids=[spec for spec, _ in SPECS])
def test_every_source_reaches_the_live_alias(args: list[str]) -> None:
    findings = invocation_findings(rendered(args))
    assert not findings, "\n".join(findings)


# --- the check finds the defects it guards against ---------------------------------------

# One project with the kinds whose paths the review found wrong, and Lambda@Edge.
DEFECTS = ["alexa", "lex", "s3-batch", "codepipeline", "cloudfront"]


@pytest.fixture(scope="module")
def sample(scaffold_home: Path) -> Path:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRIGGER_SCAFFOLD_HOME", str(scaffold_home))
        return rendered([a for kind in DEFECTS for a in ("--trigger", kind)])


def _mutated(sample: Path, tmp_path: Path, file: str, old: str, new: str) -> Path:
    copy = tmp_path / "mutated"
    copy.mkdir()
    for name in ("template.yaml", "README.md"):
        shutil.copy(sample / name, copy / name)
    text = (copy / file).read_text()
    assert old in text, f"{file} no longer holds {old!r}: update the mutation"
    (copy / file).write_text(text.replace(old, new, 1))
    return copy


def test_the_sample_has_no_findings(sample: Path) -> None:
    assert invocation_findings(sample) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param(
            "template.yaml",
            "Value: !Ref AlexaFunction.Alias",
            "Value: !GetAtt AlexaFunction.Arn",
            "README points at output AlexaFunctionArn: function AlexaFunction",
            id="output-back-to-the-plain-arn",
        ),
        pytest.param(
            "template.yaml",
            "FunctionName: !Ref LexFunction.Alias",
            "FunctionName: !Ref LexFunction",
            "LexInvokePermission: grants {'Ref': 'LexFunction'}",
            id="permission-on-the-plain-function",
        ),
        pytest.param(
            "template.yaml",
            "Resource: !Ref S3BatchFunction.Alias",
            "Resource: !GetAtt S3BatchFunction.Arn",
            "S3BatchBatchOperationsRole: may invoke {'Fn::GetAtt': ['S3BatchFunction', 'Arn']}",
            id="job-role-on-the-plain-function",
        ),
        pytest.param(
            "template.yaml",
            "Resource: !Ref S3BatchFunction.Alias",
            'Resource: "*"',
            "S3BatchBatchOperationsRole: may invoke *, not exactly an alias",
            id="job-role-on-every-function",
        ),
        pytest.param(
            "template.yaml",
            "Value: !Sub ${CodepipelineFunction}:live",
            "Value: !Ref CodepipelineFunction",
            "README points at output CodepipelineFunctionName: function CodepipelineFunction",
            id="pipeline-function-name-unqualified",
        ),
        pytest.param(
            "template.yaml",
            "AutoPublishAlias: live",
            "AutoPublishAlias: prod",
            "alias named 'prod'",
            id="alias-not-live",
        ),
        pytest.param(
            "README.md",
            "--output text):live",
            "--output text)",
            'README invokes "$FUNCTION", not',
            id="direct-invocation-of-latest",
        ),
        pytest.param(
            "README.md",
            '"FunctionArn": "\'"$(out S3BatchFunctionArn)"\'"',
            '"FunctionArn": "\'"$(out S3BatchReportBucketName)"\'"',
            "README has the user paste",
            id="readme-pastes-another-output",
        ),
        pytest.param(
            "README.md",
            '"lambdaARN":"<output LexFunctionArn>"',
            '"lambdaARN":"<function ARN>"',
            "README has the user paste '\"<function ARN>\"'",
            id="readme-placeholder-without-the-alias",
        ),
    ],
)
def test_the_check_finds_a_path_around_the_alias(
    sample: Path, tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    findings = invocation_findings(_mutated(sample, tmp_path, file, old, new))
    assert any(expected in finding for finding in findings), findings


def test_only_lambda_at_edge_may_invoke_a_version(sample: Path, tmp_path: Path) -> None:
    """A version is its own rule for CloudFront only; anywhere else it bypasses the alias."""
    copy = _mutated(
        sample,
        tmp_path,
        "template.yaml",
        "FunctionName: !Ref LexFunction.Alias",
        "FunctionName: !Ref LexFunction.Version",
    )
    findings = invocation_findings(copy)
    assert any("LexInvokePermission (AWS::Lambda::Permission)" in f for f in findings), findings
    assert not any("Distribution" in f for f in findings), findings

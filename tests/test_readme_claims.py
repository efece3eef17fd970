"""README claims: the parameters, alarms and features a README names exist in its template.

A README written for another project (cloudfront's once named `TracingMode`, CodeDeploy canaries,
reserved concurrency and arm64) passes every template gate; this reads both and compares. Which
words are parameter names is learnt from the whole projects of the matrix, so a parameter of any
kind or pattern that a README names without the template having it is caught.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from functools import cache
from typing import Any

import pytest
import yaml
from conftest import whole_projects
from stages import Project, matrix_specs, render

pytestmark = pytest.mark.matrix

SPECS = matrix_specs()
TOKEN = re.compile(r"`([^`\s]+)`")
PLACEHOLDER = re.compile(r"<\w+>(\w+)")
NAME = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")
INTRO = re.compile(r"Lambda functions? \((python[\d.]+), ([\w]+)(?:; Lambda@Edge on (x86_64))?\)")
# Features a README may name, and the template property that must back the claim.
FEATURES = {
    r"\bCodeDeploy\b|\bcanary\b": "DeploymentPreference",
    r"`<Trigger>ReservedConcurrency`|reserved concurrency": "ReservedConcurrentExecutions",
}


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _prefixes(project: Project) -> list[str]:
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    return [pascal(t["name"]) for t in answers["triggers"]]


@cache
def vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """Parameter names of the whole projects: (project-wide names, per-trigger suffixes)."""
    names: set[str] = set()
    suffixes: set[str] = set()
    for _, args in whole_projects():
        project = render(tuple(args))
        prefixes = _prefixes(project)
        for parameter in project.template["Parameters"]:
            owner = [p for p in prefixes if parameter.startswith(p) and parameter != p]
            if owner:
                suffixes.add(parameter[len(max(owner, key=len)) :])
            else:
                names.add(parameter)
    return frozenset(names), frozenset(suffixes)


def claim_problems(project: Project) -> list[str]:
    """What the README names that the project's template does not have."""
    names, suffixes = vocabulary()
    parameters = set(project.template["Parameters"])
    resources = set(project.translated["Resources"])
    prefixes = _prefixes(project)
    problems = []
    for token in sorted(set(TOKEN.findall(project.readme))):
        placeholder = PLACEHOLDER.fullmatch(token)
        suffix = placeholder.group(1) if placeholder else None
        if suffix and suffix.endswith("Alarm"):
            if not any(r.endswith(suffix) and r != suffix for r in resources):
                problems.append(f"README names alarms {token}; the template has none")
        elif suffix in suffixes:
            if not any(p.endswith(suffix) and p != suffix for p in parameters):
                problems.append(f"README names parameters {token}; the template has none")
        elif NAME.fullmatch(token):
            owned = [p for p in prefixes if token.startswith(p) and token[len(p) :] in suffixes]
            # `ServerErrorsAlarm` alone stands for the alarms whose ids end with it.
            if token.endswith("Alarm") and not any(r.endswith(token) for r in resources):
                problems.append(
                    f"README names the alarm {token}; the template has no such resource"
                )
            elif (token in names or owned) and token not in parameters:
                problems.append(
                    f"README names the parameter {token}; the template has no such parameter"
                )
    functions = [
        r["Properties"]
        for r in project.translated["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    # DeploymentPreference and the like exist before the transform only.
    declared = [
        {**project.template.get("Globals", {}).get("Function", {}), **r["Properties"]}
        for r in project.template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    # The delivery pipeline's section lists what its roles may manage, the same in every project.
    described = re.sub(
        r"^## Delivery pipeline\n.*?(?=^## |\Z)", "", project.readme, flags=re.M | re.S
    )
    for pattern, needed in FEATURES.items():
        if re.search(pattern, described) and not any(needed in f for f in declared):
            problems.append(f"README claims {pattern!r}; no function has {needed}")
    intro = INTRO.search(project.readme)
    if not intro:
        problems.append("README does not say the functions' runtime and architecture")
    else:
        runtime, main, edge = intro.groups()
        architectures = {a for f in functions for a in f.get("Architectures", ["x86_64"])}
        runtimes = {f["Runtime"] for f in functions}
        if runtimes != {runtime}:
            problems.append(f"README says {runtime}; the functions run {sorted(runtimes)}")
        if architectures != {main, edge or main}:
            said = f"{main}/{edge}" if edge else main
            problems.append(f"README says {said}; the functions run {sorted(architectures)}")
    return problems


@pytest.fixture(scope="module", params=[args for _, args in SPECS], ids=[spec for spec, _ in SPECS])
def project(request: pytest.FixtureRequest) -> Project:
    return render(request.param)


def mutated(project: Project, **changes: Any) -> Project:
    return dataclasses.replace(copy.deepcopy(project), **changes)


def test_readme_names_only_what_the_template_has(project: Project) -> None:
    assert claim_problems(project) == []


def test_a_parameter_the_template_lost_is_reported(project: Project) -> None:
    template = copy.deepcopy(project.template)
    del template["Parameters"]["LogRetentionInDays"]
    problems = claim_problems(mutated(project, template=template))
    assert (
        "README names the parameter LogRetentionInDays; the template has no such parameter"
        in problems
    )


def test_another_projects_parameters_and_alarms_are_reported(project: Project) -> None:
    # What cloudfront's README said of a template without them.
    names, _ = vocabulary()
    foreign = sorted(n for n in names if n not in project.template["Parameters"])
    readme = (
        project.readme
        + "\n`<Queue>NoSuchAlarm`, `NoSuchFunctionAlarm`"
        + "".join(f" `{n}`" for n in foreign)
    )
    problems = claim_problems(mutated(project, readme=readme))
    assert "README names alarms <Queue>NoSuchAlarm; the template has none" in problems
    assert (
        "README names the alarm NoSuchFunctionAlarm; the template has no such resource" in problems
    )
    for name in foreign:
        assert f"README names the parameter {name}; the template has no such parameter" in problems


def test_canaries_and_reserved_concurrency_without_them_are_reported(project: Project) -> None:
    template = copy.deepcopy(project.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"].pop("ReservedConcurrentExecutions", None)
            resource["Properties"].pop("DeploymentPreference", None)
    readme = (
        project.readme + "\nCodeDeploy shifts traffic; `<Trigger>ReservedConcurrency` caps it.\n"
    )
    problems = claim_problems(mutated(project, template=template, readme=readme))
    assert any("CodeDeploy" in p for p in problems), problems
    assert any("ReservedConcurrentExecutions" in p for p in problems), problems


def test_a_wrong_architecture_is_reported(project: Project) -> None:
    intro = INTRO.search(project.readme)
    assert intro
    other = "x86_64" if intro.group(2) == "arm64" else "arm64"
    readme = project.readme.replace(
        intro.group(0), intro.group(0).replace(intro.group(2), other, 1)
    )
    problems = claim_problems(mutated(project, readme=readme))
    assert any(p.startswith(f"README says {other}") for p in problems), problems

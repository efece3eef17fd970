"""Stages: the prod and dev environments of every generated project, as AWS would deploy them.

Each check runs over the render matrix (every kind alone, every pattern with each entry kind,
the whole projects) and, on a copy mutated to carry the defect, is shown to report it.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import shlex
from typing import Any

import pytest
import yaml
from conftest import available_kinds
from stages import (
    STATEFUL,
    UNTOLD,
    Project,
    environments,
    matrix_specs,
    overrides,
    render,
    required_parameters,
    retention_problems,
    setting,
    shared_between_stages,
    stack_for,
    stage_of,
    sync_problems,
    unprompted_deploy_problems,
)

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix

KINDS = available_kinds()
SPECS = matrix_specs()
TAGS = ("project", "stage", "managed-by")


@pytest.fixture(scope="module", params=[args for _, args in SPECS], ids=[spec for spec, _ in SPECS])
def project(request: pytest.FixtureRequest) -> Project:
    """Each project of the matrix, rendered and translated once for every check."""
    return render(request.param)


def mutated(project: Project, **changes: Any) -> Project:
    """A copy of ``project`` with some of its data replaced (deep-copied first)."""
    return dataclasses.replace(copy.deepcopy(project), **changes)


def _with_overrides(project: Project, env: str, given: dict[str, str]) -> Project:
    samconfig = copy.deepcopy(project.samconfig)
    text = " ".join(f"{k}={shlex.quote(v)}" for k, v in given.items())
    samconfig[env]["deploy"]["parameters"]["parameter_overrides"] = text
    return mutated(project, samconfig=samconfig)


def tag_problems(project: Project) -> list[str]:
    """Every environment tags its stack (CloudFormation copies the tags to its resources)."""
    problems = []
    answers_name = project.path.name
    for env in environments(project.samconfig):
        tags = dict(
            w.split("=", 1)
            for w in shlex.split(setting(project.samconfig, env, "deploy", "tags") or "")
        )
        missing = [t for t in TAGS if t not in tags]
        if missing:
            problems.append(f"[{env}] does not tag {missing}")
        elif tags["stage"] != stage_of(project.template, project.samconfig, env):
            problems.append(f"[{env}] tags stage={tags['stage']} but deploys another Stage")
        elif not tags["project"] or answers_name not in setting(
            project.samconfig, env, "deploy", "stack_name"
        ):
            problems.append(f"[{env}] project tag or stack name does not name the project")
    return problems


# --- class 1 ---------------------------------------------------------------------------------


def test_every_environment_deploys_without_prompting(project: Project) -> None:
    assert unprompted_deploy_problems(project) == []


def test_a_parameter_nobody_sets_is_reported(project: Project) -> None:
    template = copy.deepcopy(project.template)
    template["Parameters"]["UnsetValue"] = {"Type": "String", "Description": "No default."}
    problems = unprompted_deploy_problems(mutated(project, template=template))
    assert f"[default] cannot deploy: UnsetValue {UNTOLD}" in problems
    assert f"[dev] cannot deploy: UnsetValue {UNTOLD}" in problems
    # What the strangler's dev environment did: a required parameter with no value and no
    # README line that says to add one.
    readme = project.readme.replace("### Before the first deploy", "### Before deploying")
    problems = unprompted_deploy_problems(mutated(project, readme=readme))
    for name in required_parameters(project.template):
        assert f"[dev] cannot deploy: {name} {UNTOLD}" in problems


def test_an_override_of_a_parameter_the_template_lacks_is_reported(project: Project) -> None:
    # cloudfront's dev environment passed TracingMode to a template without it.
    given = {**overrides(project.samconfig, "dev"), "NotInTheTemplate": "x"}
    problems = unprompted_deploy_problems(_with_overrides(project, "dev", given))
    assert "[dev] overrides NotInTheTemplate, which template.yaml does not have" in problems


# --- class 4 ---------------------------------------------------------------------------------


def test_stages_share_no_name_series_or_alarm(project: Project) -> None:
    assert shared_between_stages(project) == []
    assert tag_problems(project) == []


def test_a_name_without_the_stack_is_reported(project: Project) -> None:
    translated = copy.deepcopy(project.translated)
    logs = [n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]
    translated["Resources"][logs[0]]["Properties"]["LogGroupName"] = "/aws/lambda/fixed-name"
    problems = shared_between_stages(mutated(project, translated=translated))
    assert f"{logs[0]}.LogGroupName is '/aws/lambda/fixed-name' in both stages" in problems


def test_a_namespace_of_the_project_name_is_reported(project: Project) -> None:
    # The defect: POWERTOOLS_METRICS_NAMESPACE was the project name in every stage.
    translated = copy.deepcopy(project.translated)
    functions = [
        r
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "Environment" in r["Properties"]
    ]
    if not functions:  # Lambda@Edge: give it the variables the defect set
        functions = [
            r for r in translated["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
        ]
        for function in functions:
            function["Properties"]["Environment"] = {}
    for function in functions:
        variables = function["Properties"]["Environment"].setdefault("Variables", {})
        variables["POWERTOOLS_METRICS_NAMESPACE"] = variables["POWERTOOLS_SERVICE_NAME"] = "svc"
    problems = shared_between_stages(mutated(project, translated=translated))
    assert any("same series in both stages" in p for p in problems), problems


def test_a_business_alarm_on_a_fixed_namespace_is_reported(project: Project) -> None:
    translated = copy.deepcopy(project.translated)
    # A single-metric alarm (the rollback alarms read metric math instead).
    alarms = {
        n: r
        for n, r in translated["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and "Namespace" in r["Properties"]
    }
    name, alarm = next(iter(alarms.items()))
    alarm["Properties"].update(Namespace="svc", Dimensions=[{"Name": "service", "Value": "svc"}])
    problems = shared_between_stages(mutated(project, translated=translated))
    assert any(p.startswith(f"alarm {name} reads/writes the same series") for p in problems), (
        problems
    )


def test_a_stage_without_tags_is_reported(project: Project) -> None:
    samconfig = copy.deepcopy(project.samconfig)
    del samconfig["dev"]["deploy"]["parameters"]["tags"]
    assert tag_problems(mutated(project, samconfig=samconfig)) == [
        f"[dev] does not tag {list(TAGS)}"
    ]


# --- class 5 ---------------------------------------------------------------------------------


def test_sync_is_configured_on_dev_only(project: Project) -> None:
    assert sync_problems(project) == []
    assert setting(project.samconfig, "dev", "sync", "watch") is True


def test_sync_on_production_is_reported(project: Project) -> None:
    samconfig = copy.deepcopy(project.samconfig)
    samconfig["default"]["sync"] = {"parameters": {"watch": True}}
    problems = sync_problems(mutated(project, samconfig=samconfig))
    assert problems == ["[default.sync] configures sam sync on the production stage"]


def test_sync_without_the_stages_parameters_is_reported(project: Project) -> None:
    samconfig = copy.deepcopy(project.samconfig)
    del samconfig["dev"]["sync"]["parameters"]["parameter_overrides"]
    problems = sync_problems(mutated(project, samconfig=samconfig))
    assert problems == ["[dev.sync] parameter_overrides differ from [dev.deploy]"]


# --- class 11 --------------------------------------------------------------------------------


def test_production_keeps_data_and_dev_deletes_it(project: Project) -> None:
    assert retention_problems(project) == []


KEPT_IN_PROD = {"Fn::If": ["IsProduction", "Retain", "Delete"]}


def _with_store(project: Project, **resource: Any) -> tuple[Project, str]:
    """``project`` with a data store of its own, or an added bucket where it has none."""
    translated = copy.deepcopy(project.translated)
    template = copy.deepcopy(project.template)
    names = [n for n, r in translated["Resources"].items() if r["Type"] in STATEFUL]
    if not names:
        names = ["AddedBucket"]
        for data in (translated, template):
            data["Resources"]["AddedBucket"] = {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": KEPT_IN_PROD,
                "UpdateReplacePolicy": KEPT_IN_PROD,
            }
            data.setdefault("Conditions", {})["IsProduction"] = {
                "Fn::Equals": [{"Ref": "Stage"}, "prod"]
            }
    translated["Resources"][names[0]].update(resource)
    return mutated(project, translated=translated, template=template), names[0]


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_one_policy_for_every_stage_is_reported(project: Project, policy: str) -> None:
    # The defect: Retain on every stage (and its opposite, Delete in production).
    changed, name = _with_store(project, DeletionPolicy=policy)
    problems = retention_problems(changed)
    expected = (
        "Retain in prod and Retain in dev"
        if policy == "Retain"
        else "Delete in prod and Delete in dev"
    )
    assert any(p.startswith(name) and expected in p for p in problems), problems


def test_an_intrinsic_policy_without_language_extensions_is_reported(project: Project) -> None:
    changed, _ = _with_store(project)
    changed.template["Transform"] = "AWS::Serverless-2016-10-31"
    problems = retention_problems(changed)
    assert problems == [
        "intrinsic DeletionPolicy needs AWS::LanguageExtensions as the first transform"
    ]


def test_a_protected_dev_user_pool_is_reported(project: Project) -> None:
    changed, _ = _with_store(project)
    pool = {
        "Type": "AWS::Cognito::UserPool",
        "DeletionPolicy": KEPT_IN_PROD,
        "UpdateReplacePolicy": KEPT_IN_PROD,
    }
    changed.translated["Resources"]["ProtectedPool"] = {
        **pool,
        "Properties": {"DeletionProtection": "ACTIVE"},
    }
    problems = retention_problems(changed)
    assert "ProtectedPool: DeletionProtection ACTIVE stops the dev stack's deletion" in problems


# --- the README says what each stage costs and asks -----------------------------------------


def test_readme_states_each_triggers_fixed_cost(project: Project) -> None:
    kinds = {k.id: k for k in load_catalog().triggers}
    rows = dict(re.findall(r"(?m)^\| `([\w-]+)` \(.*?\) \| ([\d.]+) \| [\d.]+ \|", project.readme))
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    for kind, name in ((t["kind"], t["name"]) for t in answers["triggers"]):
        assert float(rows[name]) == kinds[kind].fixed_monthly_cost_usd, name


def test_readme_lists_every_unauthenticated_route_question(project: Project) -> None:
    """`sam deploy --guided` asks once per Api/HttpApi event without Auth on it or its API,
    and once per function URL whose AuthType is NONE.

    SAM CLI's rule (samcli/commands/deploy/auth_utils.py): the event's Auth, else the named
    API's Auth or any `security` in its DefinitionBody.
    """
    resources = project.template["Resources"]

    def guarded(api_id: object) -> bool:
        api = resources.get(api_id, {}) if isinstance(api_id, str) else {}
        properties = api.get("Properties", {})
        body = properties.get("DefinitionBody") or {}
        operations = [o for p in body.get("paths", {}).values() for o in p.values()]
        return bool(properties.get("Auth")) or any(
            isinstance(o, dict) and o.get("security") for o in operations
        )

    expected: dict[str, int] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            properties = event.get("Properties", {})
            api = properties.get("RestApiId", properties.get("ApiId", {}))
            api_id = api.get("Ref") if isinstance(api, dict) else api
            open_route = not properties.get("Auth") and not guarded(api_id)
            if event["Type"] in {"Api", "HttpApi"} and open_route:
                expected[name] = expected.get(name, 0) + 1
        if resource["Properties"].get("FunctionUrlConfig", {}).get("AuthType") == "NONE":
            expected[f"{name} Function Url"] = 1
    said = dict(
        re.findall(
            r"`(\w+(?: Function Url)?)` \((\d+)\)",
            project.readme.split("### `sam deploy --guided`")[1],
        )
    )
    assert {k: int(v) for k, v in said.items()} == expected
    if expected:
        assert "has no authentication. Is this okay? [y/N]" in project.readme


def test_kinesis_costs_less_in_dev() -> None:
    if "kinesis" not in KINDS:
        pytest.skip("kinesis is not in the narrowed matrix")
    project = render(("--trigger", "kinesis"))
    stream = project.translated["Resources"]["KinesisStream"]
    for env, mode, shards in (("default", "ON_DEMAND", None), ("dev", "PROVISIONED", "1")):
        properties = stack_for(project, env).resolve(stream["Properties"])
        assert properties["StreamModeDetails"] == {"StreamMode": mode}
        assert properties.get("ShardCount") == shards

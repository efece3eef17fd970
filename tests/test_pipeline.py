"""The delivery pipeline a project ships with ``ci=github``: GitHub Actions workflows and the
AWS bootstrap stack they deploy with.

The workflow and bootstrap files do not depend on the triggers or the pattern: one test renders
every kind alone and every pattern and checks the files are the same, so the heavier gates
(check-jsonschema, zizmor, cfn-lint, checkov, the IAM and trust-policy checks) run on a few
representative projects. Each gate is also run on a mutated copy, to show it reports the defect.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import available_kinds, run_cli, whole_projects
from gates import load_template
from test_first_hour import code_blocks
from test_lifecycle import commit_all, status
from test_security import run_checkov, wildcard_grants

from trigger_scaffold._template import git, sync_template_repo, template_root

pytestmark = pytest.mark.matrix
BIN = Path(sys.executable).parent
WORKFLOWS = (".github/workflows/checks.yml", ".github/workflows/deploy.yml")
BOOTSTRAP = "pipeline/bootstrap.yaml"
PIPELINE_FILES = (*WORKFLOWS, BOOTSTRAP)
REPRESENTATIVE = {
    "default": [],
    "sqs": ["--trigger", "sqs:orders"],
    "pub-sub": ["--pattern", "pub-sub", "--trigger", "sqs", "--trigger", "s3"],
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


# --- gates --------------------------------------------------------------------------------


def workflow_problems(project: Path) -> list[str]:
    """check-jsonschema's and zizmor's (offline, regular persona) findings on the workflows."""
    files = [str(project / w) for w in WORKFLOWS]
    problems = []
    schema = _run(
        str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files,
        cwd=project,
    )  # fmt: skip
    if schema.returncode != 0:
        problems.append(f"check-jsonschema: {schema.stdout}{schema.stderr}")
    audit = _run(str(BIN / "zizmor"), "--offline", "--no-progress", *files, cwd=project)
    if audit.returncode != 0 or "No findings to report" not in audit.stdout + audit.stderr:
        problems.append(f"zizmor: {audit.stdout}{audit.stderr}")
    return problems


def credential_problems(project: Path) -> list[str]:
    """How deploy.yml could reach AWS other than by its stage's role through OIDC: access keys
    or secrets, a job signing in without ``role-to-assume``, or a job whose token the role of
    its stage would refuse (production outside the environment ``production``, dev outside
    the main branch or inside an environment)."""
    problems = []
    for workflow in WORKFLOWS:
        text = (project / workflow).read_text()
        for word in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token", "secrets."):
            if word in text:
                problems.append(f"{workflow}: {word}")
    jobs = yaml.safe_load((project / WORKFLOWS[1]).read_text())["jobs"]
    for name, job in jobs.items():
        signs_in = [
            step.get("with", {})
            for step in job.get("steps", [])
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        if job.get("permissions", {}).get("id-token") == "write" and not signs_in:
            problems.append(f"deploy.yml {name}: id-token: write without signing in to AWS")
        for given in signs_in:
            role = str(given.get("role-to-assume", ""))
            if "AWS_DEPLOY_ROLE_ARN_PROD" in role:
                if job.get("environment") != "production":
                    problems.append(f"deploy.yml {name}: prod role outside environment production")
            elif "AWS_DEPLOY_ROLE_ARN_DEV" in role:
                if "environment" in job or job.get("if") != "github.ref == 'refs/heads/main'":
                    problems.append(f"deploy.yml {name}: dev role outside the main branch")
            else:
                problems.append(f"deploy.yml {name}: signs in without a deploy role")
    return problems


# The roles whose statements may grant every action of a service, and why: CloudFormation
# creates, updates, tags and deletes the stack's resources of those services, with whatever
# action each resource type needs; the statements name only resources named after the stack.
# The deploy roles GitHub assumes have no such exception.
SERVICE_WIDE = {
    "DevCloudFormationRole": "CloudFormation deploys the dev stack's resources with it",
    "ProdCloudFormationRole": "CloudFormation deploys the production stack's resources with it",
}


def iam_problems(template: dict[str, Any]) -> list[str]:
    """The least-privilege check of generated templates (test_security.wildcard_grants), less
    the service-wide actions of the roles in SERVICE_WIDE."""
    return [
        line
        for line in wildcard_grants(template)
        if not (
            line.split(" ", 1)[0] in SERVICE_WIDE
            and line.endswith(" allows every action of a service")
        )
    ]


def bootstrap_problems(project: Path) -> list[str]:
    """cfn-lint, checkov (0 failed) and the least-privilege check on pipeline/bootstrap.yaml."""
    path = project / BOOTSTRAP
    problems = []
    lint = _run(str(BIN / "cfn-lint"), str(path), cwd=project)
    if lint.returncode != 0:
        problems.append(f"cfn-lint: {lint.stdout}{lint.stderr}")
    report = run_checkov(path)
    failed = report["results"].get("failed_checks", [])
    problems += [f"checkov {c['check_id']} {c['resource']}" for c in failed]
    if report["summary"]["parsing_errors"]:
        problems.append("checkov could not parse the template")
    problems += iam_problems(load_template(path))
    return problems


def stack_problems(project: Path) -> list[str]:
    """Jobs of deploy.yml whose ``sam deploy`` names a stack (by its samconfig.toml
    environment) that the deploy role the job assumes may not change."""
    samconfig = tomllib.loads((project / "samconfig.toml").read_text())
    resources = load_template(project / BOOTSTRAP)["Resources"]
    problems = []
    for name, job in yaml.safe_load((project / WORKFLOWS[1]).read_text())["jobs"].items():
        steps = job.get("steps", [])
        roles = [
            str(step.get("with", {}).get("role-to-assume"))
            for step in steps
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        for command in (
            " ".join(s["run"].split()) for s in steps if "sam deploy" in s.get("run", "")
        ):
            env = re.search(r"--config-env (\S+)", command)
            stack = samconfig[env.group(1) if env else "default"]["global"]["parameters"]
            role = "ProdDeployRole" if any("_PROD" in r for r in roles) else "DevDeployRole"
            policies = str(resources[role]["Properties"]["Policies"])
            if f":stack/{stack['stack_name']}/*" not in policies:
                problems.append(f"deploy.yml {name}: {role} may not deploy {stack['stack_name']}")
    return problems


# --- the trust policy, evaluated --------------------------------------------------------------


def _sub(value: Any, parameters: dict[str, str]) -> str:
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return re.sub(r"\$\{([\w:]+)\}", lambda m: parameters[m.group(1)], str(text))


def may_assume(template: dict[str, Any], role: str, claims: dict[str, str], **params: str) -> bool:
    """Whether a GitHub OIDC token with ``claims`` may assume ``role``. Only exact
    ``StringEquals`` conditions on the token's claims are understood; any other operator (a
    wildcard) makes the role refuse every token, so a loosened policy fails the tests."""
    parameters = {"GitHubRepository": "acme/svc", "MainBranch": "main", **params}
    props = template["Resources"][role]["Properties"]
    for statement in props["AssumeRolePolicyDocument"]["Statement"]:
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        conditions = statement.get("Condition", {})
        if set(conditions) != {"StringEquals"}:
            return False
        wanted = {
            key.removeprefix("token.actions.githubusercontent.com:"): _sub(value, parameters)
            for key, value in conditions["StringEquals"].items()
        }
        if set(wanted) != {"aud", "sub"}:
            return False
        if all(claims.get(key) == value for key, value in wanted.items()):
            return True
    return False


AUD = "sts.amazonaws.com"
TOKENS = {
    "main": {"aud": AUD, "sub": "repo:acme/svc:ref:refs/heads/main"},
    "production": {"aud": AUD, "sub": "repo:acme/svc:environment:production"},
    "other branch": {"aud": AUD, "sub": "repo:acme/svc:ref:refs/heads/feature"},
    "tag without environment": {"aud": AUD, "sub": "repo:acme/svc:ref:refs/tags/v1.0.0"},
    "pull request": {"aud": AUD, "sub": "repo:acme/svc:pull_request"},
    "other environment": {"aud": AUD, "sub": "repo:acme/svc:environment:staging"},
    "other repository": {"aud": AUD, "sub": "repo:evil/svc:ref:refs/heads/main"},
    "prefix repository": {"aud": AUD, "sub": "repo:acme/svc-fork:ref:refs/heads/main"},
    "other repository prod": {"aud": AUD, "sub": "repo:evil/svc:environment:production"},
    "other audience": {
        "aud": "https://github.com/acme",
        "sub": "repo:acme/svc:ref:refs/heads/main",
    },
}
ACCEPTED = {"DevDeployRole": {"main"}, "ProdDeployRole": {"production"}}


def trust_problems(template: dict[str, Any]) -> list[str]:
    """Tokens a deploy role accepts or refuses against its stage's rule, one line each."""
    problems = []
    for role, accepted in ACCEPTED.items():
        for name, claims in TOKENS.items():
            if may_assume(template, role, claims) != (name in accepted):
                verb = "refuses" if name in accepted else "accepts"
                problems.append(f"{role} {verb} a token of {name}: {claims['sub']}")
    return problems


# --- the workflow runs what the README says ---------------------------------------------------


def workflow_commands(path: Path) -> list[str]:
    """The ``run:`` commands of every step of checks.yml, whitespace folded."""
    data = yaml.safe_load(path.read_text())
    return [
        " ".join(step["run"].split())
        for job in data["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


# The step of checks.yml that stands for README's venv line: each step runs in a new shell, so
# the venv goes on PATH instead of being activated.
VENV_STEP = 'python3 -m venv .venv && echo "$PWD/.venv/bin" >> "$GITHUB_PATH"'
VENV_LINE = "python3 -m venv .venv && . .venv/bin/activate"


def command_differences(project: Path) -> list[str]:
    """How checks.yml's commands differ from README's "Develop and test" commands followed
    by the ones "Delivery pipeline" says the checks add; empty when they are the same."""
    readme = (project / "README.md").read_text()
    develop = [line.split("  #")[0].strip() for line in code_blocks(readme, "Develop and test")[0]]
    added = code_blocks(readme, "Delivery pipeline")[0]
    said = [VENV_STEP if line == VENV_LINE else line for line in develop + added]
    run = workflow_commands(project / WORKFLOWS[0])
    if said == run:
        return []
    return [f"README says {said}", f"checks.yml runs {run}"]


# --- tests ------------------------------------------------------------------------------------


def _digest(project: Path) -> dict[str, str]:
    return {f: hashlib.sha256((project / f).read_bytes()).hexdigest() for f in PIPELINE_FILES}


def digest_differences(reference: dict[str, str], project: Path) -> list[str]:
    """The pipeline files of ``project`` that differ from the reference digests."""
    digest = _digest(project)
    return [f for f in PIPELINE_FILES if digest[f] != reference[f]]


def test_pipeline_files_do_not_depend_on_triggers_or_pattern(
    new_project: Callable[..., Path],
) -> None:
    specs = [(k, ["--trigger", k]) for k in available_kinds()] + whole_projects()[1:]
    first = new_project(*specs[0][1], name="svc")
    reference = _digest(first)
    shutil.rmtree(first)
    for spec, args in specs[1:]:
        project = new_project(*args, name="svc")
        assert not digest_differences(reference, project), spec
        shutil.rmtree(project)
    none = new_project("--ci", "none", name="plain")
    assert not (none / ".github").exists()
    assert not (none / "pipeline").exists()
    assert "## Delivery pipeline" not in (none / "README.md").read_text()
    assert "ci: none" in (none / ".copier-answers.yml").read_text()


@pytest.mark.parametrize("args", REPRESENTATIVE.values(), ids=REPRESENTATIVE.keys())
def test_pipeline_passes_its_gates(new_project: Callable[..., Path], args: list[str]) -> None:
    project = new_project(*args)
    problems = workflow_problems(project) + bootstrap_problems(project)
    problems += trust_problems(load_template(project / BOOTSTRAP))
    problems += command_differences(project) + credential_problems(project)
    problems += stack_problems(project)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rendered project that the mutation tests copy."""
    from trigger_scaffold._cli import main

    dest = tmp_path_factory.mktemp("pipeline") / "svc"
    assert main(["new", str(dest), "--no-input", "--quiet", "--trigger", "sqs:orders"]) == 0
    return dest


def _mutated(sample: Path, tmp_path: Path, path: str, old: str, new: str) -> Path:
    project = tmp_path / "svc"
    shutil.copytree(sample, project)
    text = (project / path).read_text()
    assert old in text, old
    (project / path).write_text(text.replace(old, new, 1))
    return project


WORKFLOW_DEFECTS = {
    "tag instead of a commit": (
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
        "actions/checkout@v7",
        "unpinned-uses",
    ),
    "runs forks with secrets": (
        "  pull_request:\n", "  pull_request_target:\n", "dangerous-triggers",
    ),
    "every permission": ("    permissions:\n      contents: read\n    # A newer",
                         "    permissions: write-all\n    # A newer", "excessive-permissions"),
    "expression in a script": (
        "run: pytest", "run: pytest -k '${{ github.head_ref }}'", "template-injection",
    ),
    "unknown key": ("timeout-minutes: 30", "timeout-minute: 30", "check-jsonschema"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "finding"), WORKFLOW_DEFECTS.values(), ids=WORKFLOW_DEFECTS.keys()
)
def test_workflow_gates_report_a_defect(
    sample: Path, tmp_path: Path, old: str, new: str, finding: str
) -> None:
    project = _mutated(sample, tmp_path, WORKFLOWS[0], old, new)
    problems = "\n".join(workflow_problems(project))
    assert finding in problems


DEPLOY_DEFECTS = {
    "workspace-relative reusable workflow": (
        "uses: $/.github/workflows/checks.yml", "uses: ./.github/workflows/checks.yml",
        "self-repository",
    ),
    "access keys": (
        "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN_DEV }}",
        "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}",
        "deploy.yml dev: signs in without a deploy role",
    ),
    "production without reviewers": (
        "    environment: production\n", "", "prod role outside environment production",
    ),
    "dev from any branch": (
        "if: github.ref == 'refs/heads/main'", "if: github.ref_type == 'branch'",
        "dev role outside the main branch",
    ),
    "token for a job that does not sign in": (
        "  checks:\n    permissions:\n      contents: read\n",
        "  checks:\n    permissions:\n      contents: read\n      id-token: write\n",
        "deploy.yml checks: id-token: write without signing in",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "finding"), DEPLOY_DEFECTS.values(), ids=DEPLOY_DEFECTS.keys()
)
def test_deploy_gates_report_a_defect(
    sample: Path, tmp_path: Path, old: str, new: str, finding: str
) -> None:
    project = _mutated(sample, tmp_path, WORKFLOWS[1], old, new)
    problems = "\n".join(workflow_problems(project) + credential_problems(project))
    assert finding in problems


STACK_DEFECTS = {
    "dev stack renamed": ("samconfig.toml", 'stack_name = "svc-dev"', 'stack_name = "svc-staging"',
                          "dev: DevDeployRole may not deploy svc-staging"),
    "dev job deploys production": (
        WORKFLOWS[1], "sam deploy --config-env dev --no", "sam deploy --no",
        "dev: DevDeployRole may not deploy svc",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "old", "new", "finding"), STACK_DEFECTS.values(), ids=STACK_DEFECTS.keys()
)
def test_stack_check_reports_a_stack_the_role_may_not_deploy(
    sample: Path, tmp_path: Path, path: str, old: str, new: str, finding: str
) -> None:
    project = _mutated(sample, tmp_path, path, old, new)
    assert finding in "\n".join(stack_problems(project))


BOOTSTRAP_DEFECTS = {
    "public bucket": ("BlockPublicPolicy: true", "BlockPublicPolicy: false", "checkov CKV_AWS_54"),
    "no versions": ("Status: Enabled\n      # A deploy", "Status: Suspended\n      # A deploy",
                    "checkov CKV_AWS_21"),
    "unknown action": ("iam:PassRole\n                Resource: !GetAtt DevCloud",
                       "iam:PassRoles\n                Resource: !GetAtt DevCloud", "cfn-lint"),
    "pass any role": ("Resource: !GetAtt DevCloudFormationRole.Arn", 'Resource: "*"',
                      "iam:PassRole on Resource '*'"),
    "deploy role with a service": ("- cloudformation:CreateChangeSet\n", "- cloudformation:*\n",
                                   "DevDeployRole (deploy-dev): cloudformation:* allows every"),
    "stack role on every role": (
        "Resource: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/svc-dev-*",
        'Resource: "*"', "DevCloudFormationRole (stack-dev): iam:AttachRolePolicy",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "finding"), BOOTSTRAP_DEFECTS.values(), ids=BOOTSTRAP_DEFECTS.keys()
)
def test_bootstrap_gates_report_a_defect(
    sample: Path, tmp_path: Path, old: str, new: str, finding: str
) -> None:
    project = _mutated(sample, tmp_path, BOOTSTRAP, old, new)
    problems = "\n".join(bootstrap_problems(project))
    assert finding in problems


TRUST_DEFECTS = {
    "any branch": (
        "repo:${GitHubRepository}:ref:refs/heads/${MainBranch}",
        "repo:${GitHubRepository}:ref:refs/heads/*",
        "DevDeployRole refuses a token of main",
    ),
    "prod by branch": (
        "repo:${GitHubRepository}:environment:production",
        "repo:${GitHubRepository}:ref:refs/heads/${MainBranch}",
        "ProdDeployRole accepts a token of main",
    ),
}


@pytest.mark.parametrize(
    ("old", "new", "finding"), TRUST_DEFECTS.values(), ids=TRUST_DEFECTS.keys()
)
def test_trust_check_reports_a_loosened_policy(
    sample: Path, tmp_path: Path, old: str, new: str, finding: str
) -> None:
    project = _mutated(sample, tmp_path, BOOTSTRAP, old, new)
    assert finding in "\n".join(trust_problems(load_template(project / BOOTSTRAP)))


def test_trust_check_refuses_wildcard_operators(sample: Path, tmp_path: Path) -> None:
    exact, like = "StringEquals:\n                token", "StringLike:\n                token"
    project = _mutated(sample, tmp_path, BOOTSTRAP, exact, like)
    problems = "\n".join(trust_problems(load_template(project / BOOTSTRAP)))
    assert "DevDeployRole refuses a token of main" in problems


def test_digest_comparison_reports_a_file_that_depends_on_the_project(
    sample: Path, tmp_path: Path
) -> None:
    reference = _digest(sample)
    assert not digest_differences(reference, sample)
    project = _mutated(sample, tmp_path, BOOTSTRAP, "ProdDeployRole:", "ProdDeployRole:  # sqs")
    assert digest_differences(reference, project) == [BOOTSTRAP]


def test_command_comparison_reports_a_dropped_step(sample: Path, tmp_path: Path) -> None:
    project = _mutated(sample, tmp_path, WORKFLOWS[0], "      - run: pytest\n", "")
    assert command_differences(project)
    project = _mutated(sample, tmp_path / "b", "README.md", "cfn-lint template.yaml\n",
                       "cfn-lint template.yaml\nmypy .\n")  # fmt: skip
    assert command_differences(project)


def test_update_from_a_project_without_a_pipeline_adds_it(tmp_path: Path) -> None:
    repo = tmp_path / "template"
    sync_template_repo(template_root(), repo, "v1")
    # The template as it was before the `ci` question: no pipeline files, no README section.
    for folder in repo.glob("templates/project/{{ '*' if ci == 'github' else '' }}"):
        shutil.rmtree(folder)
    copier_yml = repo / "copier.yml"
    copier_yml.write_text(re.sub(r"(?ms)^ci:\n.*?\n\n", "", copier_yml.read_text(), count=1))
    readme = repo / "templates/project/README.md.jinja"
    readme.write_text(
        re.sub(r"(?s)\{%- if ci == 'github' %\}\n## Delivery pipeline.*?\{% endif -%\}\n", "",
               readme.read_text(), count=1)
    )  # fmt: skip
    assert "ci ==" not in readme.read_text()
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "--message", "v1 without ci", cwd=repo)
    git("tag", "v1.0.0", cwd=repo)
    result = run_cli("new", str(tmp_path / "svc"), "--no-input", "-q", "--trigger", "sqs:orders",
                     "--template", str(repo), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    project = tmp_path / "svc"
    assert not (project / ".github").exists()
    assert "ci:" not in (project / ".copier-answers.yml").read_text()
    commit_all(project, "Generated")

    (repo / ".git" / "trigger-scaffold-source").unlink()  # the sync skips unchanged sources
    sync_template_repo(template_root(), repo, "v2")
    git("tag", "v2.0.0", cwd=repo)
    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    changed = status(project)
    assert "U" not in {line[:2].strip() for line in changed.splitlines()}, changed
    assert not list(project.rglob("*.rej"))
    for path in PIPELINE_FILES:
        assert (project / path).is_file(), path
    assert "## Delivery pipeline" in (project / "README.md").read_text()
    assert "ci: github" in (project / ".copier-answers.yml").read_text()
    assert not workflow_problems(project)
    assert not command_differences(project)

"""Who may call an API: no route is reachable without credentials unless `none` was answered.

Judged on the translated template, as API Gateway and Elastic Load Balancing will run it: a REST
method or HTTP API route (an ``AWS::ApiGateway::Method`` or ``AWS::ApiGatewayV2::Route``
resource, or an operation of an API's OpenAPI body) and a function URL are open when they name no
credential; a load balancer's listener or rule is open when it forwards to a Lambda target group
with no ``jwt-validation`` action before the forward. Strangler's routes
to the legacy system are the one exception: they pass callers through to the legacy system's
own authentication, so its clients keep working. A CORS preflight (OPTIONS) is never guarded:
browsers send it without credentials, and the resolver answers it without running a route.

With a mode, a route must be guarded by that mode's mechanism: a SigV4 check (iam), a JWT or
Cognito user pool authorizer (jwt), an API key of a usage plan tied to the API's stage (api-key).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import available_kinds, run_cli
from copier_rules import copier_message
from gates import _clean_env, gate_failures, load_template, sam_translate
from stages import Project, render
from test_security import run_checkov

from trigger_scaffold import Trigger, load_catalog
from trigger_scaffold._answers import check_auth
from trigger_scaffold._errors import TriggerScaffoldError

pytestmark = pytest.mark.matrix
CATALOG = load_catalog()
AUTH_KINDS = [k for k in available_kinds() if CATALOG.trigger(k).auth_modes]
# The kinds whose routes API Gateway serves (an OpenAPI body); alb's are listener rules.
GATEWAY_KINDS = [k for k in AUTH_KINDS if k in {"api", "http-api"}]
# Kinds whose front door is the function's own URL (an AWS::Lambda::Url), not an API.
URL_KINDS = [k for k in AUTH_KINDS if CATALOG.trigger(k).wiring == "SAM FunctionUrlConfig"]
ENTRIES = [("none", k) for k in AUTH_KINDS] + [
    (p.id, k)
    for p in CATALOG.patterns
    if p.id != "none" and p.available
    for k in AUTH_KINDS
    if p.accepts(k)
]
CASES = [(p, k, mode) for p, k in ENTRIES for mode in CATALOG.trigger(k).auth_modes]
CASE_IDS = [f"{p}-{k}-{mode}" for p, k, mode in CASES]
# Integrations that forward to an HTTP back end rather than a function: strangler's legacy routes.
PASS_THROUGH = {"http", "http_proxy"}
# The modes that guard routes, and the AuthorizationType of a method or route each one sets.
GUARDED_MODES = sorted({m for k in AUTH_KINDS for m in CATALOG.trigger(k).auth_modes} - {"none"})
AUTHORIZATION_TYPES = {"iam": {"AWS_IAM"}, "jwt": {"JWT", "COGNITO_USER_POOLS"}, "api-key": set()}


def _args(pattern: str, kind: str, mode: str) -> tuple[str, ...]:
    return ("--pattern", pattern, "--trigger", f"{kind}:front", "--auth", f"front={mode}")


def _scheme_mode(scheme: Any) -> str | None:
    """The auth mode a security scheme enforces: SigV4, a JWT/Cognito authorizer, an API key."""
    if not isinstance(scheme, dict):
        return None
    authorizer = scheme.get("x-amazon-apigateway-authorizer")
    if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
        return "iam"
    if isinstance(authorizer, dict) and authorizer.get("type") in {"jwt", "cognito_user_pools"}:
        return "jwt"
    if authorizer is not None:
        return "authorizer"  # a Lambda authorizer: credentials, but of no mode generated here
    if scheme.get("type") == "apiKey" and scheme.get("name", "").lower() == "x-api-key":
        return "api-key"
    return None


def _requires_credentials(scheme: Any, mode: str | None = None) -> bool:
    """A security scheme API Gateway enforces (of ``mode``, when given)."""
    found = _scheme_mode(scheme)
    return found is not None and (mode is None or found == mode)


def _method_is_open(props: dict[str, Any], mode: str | None) -> bool:
    if props.get("HttpMethod") == "OPTIONS":
        return False
    if mode == "api-key":
        return not props.get("ApiKeyRequired")
    authorization = props.get("AuthorizationType", "NONE")
    if mode is not None:
        return authorization not in AUTHORIZATION_TYPES[mode]
    return authorization == "NONE" and not props.get("ApiKeyRequired")


def open_routes(
    translated: dict[str, Any], *, pass_through_allowed: bool = False, mode: str | None = None
) -> list[str]:
    """Every route of the translated template that a caller without credentials reaches.

    With ``mode``, also every route that credentials of another kind than ``mode`` reach.
    """
    found: list[str] = []
    for rid, resource in translated["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::ApiGateway::Method":
            if _method_is_open(props, mode):
                found.append(f"{rid}: method {props.get('HttpMethod')}")
        elif kind == "AWS::ApiGatewayV2::Route":
            key = str(props.get("RouteKey", ""))
            allowed = AUTHORIZATION_TYPES[mode] if mode else None
            authorization = props.get("AuthorizationType", "NONE")
            is_open = authorization == "NONE" if allowed is None else authorization not in allowed
            if is_open and not key.startswith("OPTIONS "):
                found.append(f"{rid}: route {key}")
        elif kind == "AWS::Lambda::Url":
            if props.get("AuthType") != "AWS_IAM":
                found.append(f"{rid}: function URL with AuthType {props.get('AuthType')}")
        elif kind in {"AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"}:
            found += _open_operations(rid, props.get("Body") or {}, pass_through_allowed, mode)
        elif kind in LISTENERS:
            found += _open_forwards(translated["Resources"], rid, props, pass_through_allowed, mode)
    return found


# A listener's default actions and a listener rule's actions: ELB runs them in Order.
LISTENERS = {
    "AWS::ElasticLoadBalancingV2::Listener": "DefaultActions",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "Actions",
}


def _only_preflight(props: dict[str, Any]) -> bool:
    """A rule that matches only OPTIONS requests: browsers send those without credentials."""
    methods = [
        c.get("HttpRequestMethodConfig", {}).get("Values")
        for c in props.get("Conditions", [])
        if c.get("Field") == "http-request-method"
    ]
    return bool(methods) and all(values == ["OPTIONS"] for values in methods)


def _open_forwards(
    resources: dict[str, Any],
    rid: str,
    props: dict[str, Any],
    pass_through_allowed: bool,
    mode: str | None = None,
) -> list[str]:
    """The forwards of a listener or rule that a request without a verified token reaches.

    A ``jwt-validation`` action ordered before the forward guards it (an ALB listener has no
    SigV4 or API key check); without ``mode``, so does an ``authenticate-oidc`` or
    ``authenticate-cognito`` action (a browser sign-in). A forward to targets other than
    functions (strangler's legacy servers) is a pass-through.
    """
    guards = {"jwt-validation"} | (set() if mode else {"authenticate-oidc", "authenticate-cognito"})
    if _only_preflight(props):
        return []
    actions = sorted(
        enumerate(props.get(LISTENERS[resources[rid]["Type"]], [])),
        key=lambda item: (item[1].get("Order", 50001), item[0]),
    )
    found, verified = [], False
    for _, action in actions:
        if action.get("Type") in guards:
            verified = True
        elif action.get("Type") == "forward" and not verified:
            groups = [action.get("TargetGroupArn")] + [
                g.get("TargetGroupArn")
                for g in action.get("ForwardConfig", {}).get("TargetGroups", [])
            ]
            for group in filter(None, groups):
                target = resources.get(_ref(group) or "", {}).get("Properties", {})
                if target.get("TargetType") != "lambda" and pass_through_allowed:
                    continue
                found.append(f"{rid}: forward to {_ref(group) or group} without a verified token")
    return found


def _open_operations(
    rid: str, body: dict[str, Any], pass_through_allowed: bool, mode: str | None = None
) -> list[str]:
    schemes = (body.get("components") or {}).get("securitySchemes") or body.get(
        "securityDefinitions", {}
    )
    found = []
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method in {"parameters", "options"}:
                continue
            integration = operation.get("x-amazon-apigateway-integration", {})
            if pass_through_allowed and integration.get("type") in PASS_THROUGH:
                continue
            # OR of requirements, each an AND of schemes: an empty one ({}) lets anyone in.
            requirements = operation.get("security", body.get("security")) or []
            guarded = bool(requirements) and all(
                requirement
                and all(_requires_credentials(schemes.get(n), mode) for n in requirement)
                for requirement in requirements
            )
            if not guarded:
                found.append(f"{rid}: {method} {path}")
    return found


def _ref(value: Any) -> Any:
    return value.get("Ref") if isinstance(value, dict) else None


def usage_plan_problems(translated: dict[str, Any]) -> list[str]:
    """What keeps a REST API's keys from being metered: each API needs a usage plan with a
    quota and a throttle on its stage, and an enabled key of that plan."""
    resources = translated["Resources"]
    of_type = {
        t: {rid: r.get("Properties", {}) for rid, r in resources.items() if r["Type"] == t}
        for t in (
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
            "AWS::ApiGateway::UsagePlan",
            "AWS::ApiGateway::UsagePlanKey",
            "AWS::ApiGateway::ApiKey",
        )
    }
    problems = []
    for api in of_type["AWS::ApiGateway::RestApi"]:
        stages = {
            sid
            for sid, s in of_type["AWS::ApiGateway::Stage"].items()
            if _ref(s.get("RestApiId")) == api
        }
        plans = [
            pid
            for pid, plan in of_type["AWS::ApiGateway::UsagePlan"].items()
            if plan.get("Quota", {}).get("Limit")
            and plan.get("Throttle", {}).get("RateLimit")
            and any(
                _ref(s.get("ApiId")) == api and _ref(s.get("Stage")) in stages
                for s in plan.get("ApiStages", [])
            )
        ]
        keys = [
            k
            for k in of_type["AWS::ApiGateway::UsagePlanKey"].values()
            if _ref(k.get("UsagePlanId")) in plans
            and of_type["AWS::ApiGateway::ApiKey"].get(_ref(k.get("KeyId")), {}).get("Enabled")
        ]
        if not plans:
            problems.append(f"{api}: no usage plan with quota and throttle on its stage")
        elif not keys:
            problems.append(f"{api}: no enabled API key in its usage plan")
    return problems


# What a README says of a public front door, by kind (an API unless named here).
PUBLIC_SAYS = {
    "function-url": "**The function URL is public**",
    "alb": "**The load balancer is open to whoever reaches it**",
}
# What each mode's README shows: how to get the credentials and a call that sends them (a
# function URL signs for the service lambda, not execute-api).
URL_README_CALLS = {"iam": ["awscurl --service lambda"]}
README_CALLS = {
    "iam": ["awscurl --service execute-api"],
    "jwt": [
        "--auth-flow USER_PASSWORD_AUTH",
        "AuthenticationResult.IdToken",
        'curl -s -H "Authorization: Bearer $TOKEN"',
        "CorsOrigins",
    ],
    "api-key": [
        "aws apigateway get-api-key",
        "--include-value",
        'curl -s -H "x-api-key: $API_KEY"',
        "it is not authentication",
    ],
}


@pytest.mark.parametrize(("pattern", "kind", "mode"), CASES, ids=CASE_IDS)
def test_no_route_is_reachable_without_credentials_unless_none(
    pattern: str, kind: str, mode: str
) -> None:
    project = render(_args(pattern, kind, mode))
    allowed = pattern == "strangler"
    routes = open_routes(project.translated, pass_through_allowed=allowed)
    public = PUBLIC_SAYS.get(kind, "**The API is public**")
    if mode == "none":
        assert routes, "auth none must leave the API public (else the check cannot see it)"
        assert public in project.readme
        if kind in URL_KINDS:
            # `sam deploy --guided` asks about it (samcli/commands/deploy/auth_utils.py).
            assert "`FrontFunction Function Url` (1)" in project.readme
    else:
        assert routes == [], "\n".join(routes)
        guarded_otherwise = open_routes(project.translated, pass_through_allowed=allowed, mode=mode)
        assert guarded_otherwise == [], "\n".join(guarded_otherwise)
        assert public not in project.readme
        for said in (URL_README_CALLS if kind in URL_KINDS else README_CALLS)[mode]:
            assert said in project.readme, said
    if mode == "api-key":
        assert usage_plan_problems(project.translated) == []
    if allowed:
        # The legacy routes stay reachable for the legacy system's own clients.
        assert open_routes(project.translated) != []


@pytest.mark.parametrize(("pattern", "kind", "mode"), CASES, ids=CASE_IDS)
def test_sam_invokes_the_function_with_its_resource_policy(
    pattern: str, kind: str, mode: str
) -> None:
    """SAM's AWS_IAM default (caller credentials) would need lambda:InvokeFunction per caller."""
    assert not invokes_with_caller_credentials(render(_args(pattern, kind, mode)).translated)


def invokes_with_caller_credentials(translated: dict[str, Any]) -> bool:
    """An integration that calls Lambda with the caller's credentials (SAM's CALLER_CREDENTIALS)."""
    return "arn:aws:iam::*:user/*" in json.dumps(translated)


def test_caller_credentials_are_reported() -> None:
    if not GATEWAY_KINDS:
        pytest.skip("no API kind in the narrowed matrix")
    translated = copy.deepcopy(render(_args("none", GATEWAY_KINDS[0], "iam")).translated)
    body = _first_body(translated)
    _function_operation(body)["x-amazon-apigateway-integration"]["credentials"] = (
        "arn:aws:iam::*:user/*"
    )
    assert invokes_with_caller_credentials(translated)


def _first_body(translated: dict[str, Any]) -> dict[str, Any]:
    return next(
        r["Properties"]["Body"]
        for r in translated["Resources"].values()
        if r["Type"] in {"AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"}
    )


def _function_operation(body: dict[str, Any]) -> dict[str, Any]:
    """The first operation that reaches the function, other than a CORS preflight."""
    return next(
        op
        for ops in body["paths"].values()
        for method, op in ops.items()
        if isinstance(op, dict)
        and method != "options"
        and op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    )


MUTATIONS = {
    "operation without security": lambda op, body: op.pop("security"),
    "optional security ({})": lambda op, body: op.__setitem__("security", [{}]),
    "security naming an unknown scheme": lambda op, body: op.__setitem__(
        "security", [{"nobody": []}]
    ),
    "scheme that enforces nothing": lambda op, body: body["components"]["securitySchemes"][
        next(iter(op["security"][0]))
    ].pop("x-amazon-apigateway-authtype"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
@pytest.mark.parametrize(
    ("pattern", "kind"),
    [e for e in ENTRIES if e[0] in {"none", "strangler"} and e[1] in GATEWAY_KINDS],
    ids=lambda v: str(v),
)
def test_an_open_route_is_reported(pattern: str, kind: str, mutation: str) -> None:
    translated = copy.deepcopy(
        render(_args(pattern, kind, CATALOG.trigger(kind).auth_modes[0])).translated
    )
    body = _first_body(translated)
    MUTATIONS[mutation](_function_operation(body), body)
    assert open_routes(translated, pass_through_allowed=pattern == "strangler")


GUARDED_CASES = [
    (p, k, m)
    for p, k in ENTRIES
    if p in {"none", "strangler"}
    for m in CATALOG.trigger(k).auth_modes
    if m != "none"
]
GATEWAY_GUARDED = [c for c in GUARDED_CASES if c[1] in GATEWAY_KINDS]


@pytest.mark.parametrize(
    ("pattern", "kind", "mode"),
    GATEWAY_GUARDED,
    ids=[f"{p}-{k}-{m}" for p, k, m in GATEWAY_GUARDED],
)
def test_a_route_that_loses_its_authorizer_is_reported(pattern: str, kind: str, mode: str) -> None:
    """One route without the mode's guard, or guarded by another mode, is reported."""
    passes = pattern == "strangler"
    translated = render(_args(pattern, kind, mode)).translated
    assert open_routes(translated, pass_through_allowed=passes, mode=mode) == []
    for security, scheme in (
        ([{"NONE": []}], None),  # what SAM writes for Auth: {Authorizer: NONE}
        ([{"other": []}], OTHER_SCHEMES[mode]),
    ):
        mutated = copy.deepcopy(translated)
        body = _first_body(mutated)
        _function_operation(body)["security"] = security
        if scheme is not None:
            body.setdefault("components", {}).setdefault("securitySchemes", {})["other"] = scheme
        assert len(open_routes(mutated, pass_through_allowed=passes, mode=mode)) == 1
        assert bool(open_routes(mutated, pass_through_allowed=passes)) == (scheme is None)


def _listener_parts(translated: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The actions of every HTTPS listener and listener rule, by resource id."""
    return {
        rid: r["Properties"][LISTENERS[r["Type"]]]
        for rid, r in translated["Resources"].items()
        if r["Type"] in LISTENERS and r["Properties"].get("Protocol") != "HTTP"
    }


def _drop_check(actions: list[dict[str, Any]]) -> None:
    actions[:] = [a for a in actions if a["Type"] != "jwt-validation"]


def _check_after_forward(actions: list[dict[str, Any]]) -> None:
    for action in actions:
        action["Order"] = 1 if action["Type"] == "forward" else 2


def _swap_for_fixed_response(actions: list[dict[str, Any]]) -> None:
    """The token check replaced by an action that guards nothing (any other type)."""
    for action in actions:
        if action["Type"] == "jwt-validation":
            action.clear()
            action.update(Type="fixed-response", Order=1, FixedResponseConfig={"StatusCode": "200"})


ALB_MUTATIONS = {
    "no token check": _drop_check,
    "token check after the forward": _check_after_forward,
    "another action instead of the check": _swap_for_fixed_response,
}
ALB_GUARDED = [(p, k) for p, k, m in GUARDED_CASES if k == "alb"]


@pytest.mark.parametrize("mutation", list(ALB_MUTATIONS))
@pytest.mark.parametrize(("pattern", "kind"), ALB_GUARDED, ids=[p for p, _ in ALB_GUARDED])
def test_a_load_balancer_forward_without_a_token_check_is_reported(
    pattern: str, kind: str, mutation: str
) -> None:
    """Each listener or rule that forwards to the function, one at a time, loses its guard."""
    passes = pattern == "strangler"
    translated = render(_args(pattern, kind, "jwt")).translated
    assert open_routes(translated, pass_through_allowed=passes, mode="jwt") == []
    guarded = [rid for rid, actions in _listener_parts(translated).items() if len(actions) > 1]
    assert guarded, "no listener or rule checks a token: is auth jwt rendered?"
    for rid in guarded:
        mutated = copy.deepcopy(translated)
        ALB_MUTATIONS[mutation](_listener_parts(mutated)[rid])
        assert [r.split(":")[0] for r in open_routes(mutated, pass_through_allowed=passes)] == [rid]


def test_a_preflight_rule_that_matches_other_methods_is_reported() -> None:
    """The one forward without a token check matches OPTIONS and nothing else."""
    if "alb" not in AUTH_KINDS:
        pytest.skip("alb is not in the narrowed matrix")
    translated = copy.deepcopy(render(_args("none", "alb", "jwt")).translated)
    rule = translated["Resources"]["FrontHttpsRulePreflight"]["Properties"]
    assert open_routes(translated) == []
    rule["Conditions"][0]["HttpRequestMethodConfig"]["Values"] = ["OPTIONS", "GET"]
    assert open_routes(translated) == [
        "FrontHttpsRulePreflight: forward to FrontTargetGroup without a verified token"
    ]


URL_MUTATIONS = {
    "AuthType NONE": lambda props: props.__setitem__("AuthType", "NONE"),
    "no AuthType": lambda props: props.pop("AuthType"),
    "AuthType of no mode": lambda props: props.__setitem__("AuthType", "aws_iam"),
}


@pytest.mark.parametrize("mutation", list(URL_MUTATIONS))
@pytest.mark.parametrize(
    ("pattern", "kind", "mode"),
    [c for c in GUARDED_CASES if c[1] in URL_KINDS],
    ids=lambda v: str(v),
)
def test_a_function_url_that_loses_its_auth_type_is_reported(
    pattern: str, kind: str, mode: str, mutation: str
) -> None:
    """A function URL is a route too: one whose AuthType is not AWS_IAM is reported."""
    translated = copy.deepcopy(render(_args(pattern, kind, mode)).translated)
    assert open_routes(translated) == []
    [url] = [r for r in translated["Resources"].values() if r["Type"] == "AWS::Lambda::Url"]
    URL_MUTATIONS[mutation](url["Properties"])
    [found] = open_routes(translated)
    assert "function URL with AuthType" in found


# A scheme of another mode than the key's: it guards the route, but not as answered.
OTHER_SCHEMES = {
    "iam": {"type": "apiKey", "name": "x-api-key", "in": "header"},
    "jwt": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
    "api-key": {
        "type": "oauth2",
        "x-amazon-apigateway-authorizer": {"type": "jwt", "jwtConfiguration": {}},
    },
}

USAGE_PLAN_MUTATIONS = {
    "plan on no stage": lambda r, plan, key: r[plan]["Properties"]["ApiStages"].clear(),
    "plan without quota": lambda r, plan, key: r[plan]["Properties"].pop("Quota"),
    "plan without throttle": lambda r, plan, key: r[plan]["Properties"].pop("Throttle"),
    "key not in the plan": lambda r, plan, key: r.pop(key),
    "disabled key": lambda r, plan, key: r[r[key]["Properties"]["KeyId"]["Ref"]][
        "Properties"
    ].__setitem__("Enabled", False),
}


@pytest.mark.parametrize("mutation", list(USAGE_PLAN_MUTATIONS))
@pytest.mark.parametrize(
    "pattern", sorted({p for p, k, m in GUARDED_CASES if m == "api-key"}), ids=str
)
def test_an_unmetered_api_key_is_reported(pattern: str, mutation: str) -> None:
    translated = copy.deepcopy(render(_args(pattern, "api", "api-key")).translated)
    resources = translated["Resources"]
    plan = next(r for r, v in resources.items() if v["Type"] == "AWS::ApiGateway::UsagePlan")
    key = next(r for r, v in resources.items() if v["Type"] == "AWS::ApiGateway::UsagePlanKey")
    USAGE_PLAN_MUTATIONS[mutation](resources, plan, key)
    assert usage_plan_problems(translated)


@pytest.mark.parametrize(
    ("resource", "open_props"),
    [
        ("AWS::ApiGateway::Method", {"HttpMethod": "GET", "AuthorizationType": "NONE"}),
        ("AWS::ApiGatewayV2::Route", {"RouteKey": "GET /x", "AuthorizationType": "NONE"}),
        ("AWS::Lambda::Url", {"AuthType": "NONE", "TargetFunctionArn": "x"}),
    ],
)
def test_an_open_route_resource_is_reported(resource: str, open_props: dict[str, Any]) -> None:
    if not AUTH_KINDS:
        pytest.skip("no API kind in the narrowed matrix")
    kind = AUTH_KINDS[0]
    translated = copy.deepcopy(
        render(_args("none", kind, CATALOG.trigger(kind).auth_modes[0])).translated
    )
    translated["Resources"]["Extra"] = {"Type": resource, "Properties": open_props}
    assert open_routes(translated) == [
        next(r for r in open_routes(translated) if r.startswith("Extra:"))
    ]


def test_a_migrated_route_gets_no_pass_through_exemption() -> None:
    """Only integrations to an HTTP back end are exempt, not a migrated route to the function."""
    kinds = [k for p, k in ENTRIES if p == "strangler" and k in GATEWAY_KINDS]
    if not kinds:
        pytest.skip("no strangler API Gateway entry in the narrowed matrix")
    translated = copy.deepcopy(render(_args("strangler", kinds[0], "iam")).translated)
    body = _first_body(translated)
    _function_operation(body).pop("security")
    assert open_routes(translated, pass_through_allowed=True)


@pytest.mark.parametrize(("pattern", "kind", "mode"), CASES, ids=CASE_IDS)
def test_each_mode_passes_the_gates_and_checkov(pattern: str, kind: str, mode: str) -> None:
    """The default mode's projects already pass them in the render matrix; the others here."""
    if mode == CATALOG.trigger(kind).auth_modes[0]:
        pytest.skip("the default mode is gated with every matrix project")
    project: Project = render(_args(pattern, kind, mode))
    assert gate_failures(project.path) == []
    report = run_checkov(project.path / "template.yaml")
    failed = report["results"].get("failed_checks", [])
    assert report["summary"]["parsing_errors"] == 0
    assert failed == [], [f"{c['check_id']} {c['resource']}" for c in failed]


@pytest.mark.parametrize("kind", AUTH_KINDS)
def test_the_answer_is_stored_and_refused_where_it_does_not_apply(
    kind: str, tmp_path: Path
) -> None:
    import yaml

    project = render(("--trigger", f"{kind}:front"))
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    assert answers["triggers"] == [
        {"name": "front", "kind": kind, "auth": CATALOG.trigger(kind).auth_modes[0]}
    ]
    bad = run_cli(
        "new", str(tmp_path / "x"), "--no-input", "--trigger", kind, "--auth", f"{kind}=open"
    )
    assert bad.returncode != 0
    assert f"unknown auth mode 'open' for trigger '{kind}'; choose one of: " in bad.stderr
    unknown = run_cli(
        "new", str(tmp_path / "y"), "--no-input", "--trigger", kind, "--auth", "x=iam"
    )
    assert unknown.returncode != 0
    assert f"--auth 'x=iam': no trigger named 'x'; triggers: {kind}" in unknown.stderr
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "y").exists()


def _cli_message(trigger: Trigger) -> str:
    try:
        check_auth(trigger, CATALOG)
    except TriggerScaffoldError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("kind", available_kinds())
def test_auth_answers_agree_with_copier(kind: str) -> None:
    """copier.yml refuses exactly what the CLI refuses, in the same words."""
    for mode in ("iam", "jwt", "api-key", "none", "open"):
        trigger = Trigger("front", kind, mode)
        expected = _cli_message(trigger)
        said = copier_message("triggers", triggers=[trigger.as_data()])
        assert said == expected, (kind, mode)
        assert (expected == "") == (mode in CATALOG.trigger(kind).auth_modes)


def test_http_api_refuses_api_key_saying_why() -> None:
    if "http-api" not in available_kinds():
        pytest.skip("http-api is not in the narrowed matrix")
    message = _cli_message(Trigger("front", "http-api", "api-key"))
    assert message.startswith("auth mode 'api-key' does not apply to trigger 'front' (http-api): ")
    assert "HTTP APIs have no API keys or usage plans" in message
    assert "\n" not in message


def test_alb_refuses_iam_naming_the_alternatives() -> None:
    if "alb" not in available_kinds():
        pytest.skip("alb is not in the narrowed matrix")
    message = _cli_message(Trigger("front", "alb", "iam"))
    assert message.startswith("auth mode 'iam' does not apply to trigger 'front' (alb): ")
    assert "cannot check SigV4 signatures; use jwt" in message
    assert "\n" not in message


CALLER_LINE = re.compile(r"(?m)^    logger\.append_keys\(caller=caller\(event\)\)\n")


# The generated contract test that asserts the handler logs the caller, per mode.
CALLER_TESTS = {
    "iam": "test_logs_name_the_caller_that_signed_the_request",
    "jwt": "test_logs_name_the_caller_the_token_was_issued_to",
    "api-key": "test_logs_name_the_caller_by_api_key",
}


@pytest.mark.parametrize(
    ("pattern", "kind", "mode"), GUARDED_CASES, ids=[f"{p}-{k}-{m}" for p, k, m in GUARDED_CASES]
)
def test_a_handler_that_ignores_the_caller_fails_its_contract_tests(
    pattern: str, kind: str, mode: str
) -> None:
    """The contract test that asserts the handler reads the principal/claims fails without it."""
    project = render(_args(pattern, kind, mode))
    handler = project.path / "functions" / "front" / "handler.py"
    text = handler.read_text()
    assert CALLER_LINE.search(text)

    def contract(source: str) -> subprocess.CompletedProcess[str]:
        handler.write_text(source)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        return subprocess.run(
            [*cmd, "tests/contract", "-k", "caller"],
            cwd=project.path,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )

    try:
        assert contract(text).returncode == 0
        broken = contract(CALLER_LINE.sub("", text))
        assert broken.returncode == 1, broken.stdout
        assert CALLER_TESTS[mode] in broken.stdout
    finally:
        handler.write_text(text)


JWT_CASES = [c for c in CASES if c[2] == "jwt"]


@pytest.mark.parametrize(
    ("pattern", "kind", "mode"), JWT_CASES, ids=[f"{p}-{k}" for p, k, m in JWT_CASES]
)
def test_jwt_sample_events_carry_the_claims_the_handler_reads(
    pattern: str, kind: str, mode: str
) -> None:
    """Every sample event of a jwt API has the verified claims where API Gateway puts them."""
    project = render(_args(pattern, kind, mode))
    events = sorted((project.path / "events").glob("front-*.json"))
    assert events
    for path in events:
        event = json.loads(path.read_text())
        if kind == "alb":
            claims = _bearer_claims(event["headers"]["authorization"])
        else:
            authorizer = event["requestContext"]["authorizer"]
            claims = authorizer["claims"] if kind == "api" else authorizer["jwt"]["claims"]
        assert {"sub", "email", "cognito:username", "iss"} <= set(claims), path.name
    handler = (project.path / "functions" / "front" / "handler.py").read_text()
    assert 'claims(event).get("sub")' in handler
    assert CALLER_LINE.search(handler)


def _bearer_claims(header: str) -> dict[str, Any]:
    """The payload of the JSON Web Token in an ``Authorization: Bearer`` header."""
    scheme, token = header.split(" ")
    assert scheme == "Bearer"
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_add_trigger_keeps_every_auth_answer(new_project: Any) -> None:
    """add-trigger rewrites the triggers answer: a public API must stay public."""
    import yaml

    from trigger_scaffold._cli import main
    from trigger_scaffold._template import git

    if not AUTH_KINDS:
        pytest.skip("no API kind in the narrowed matrix")
    kind = AUTH_KINDS[0]
    project = new_project("--trigger", f"{kind}:front", "--auth", "front=none")
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Generated", cwd=project)
    assert main(["add-trigger", kind, "--name", "back", "-C", str(project), "-q"]) == 0
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert [(t["name"], t.get("auth")) for t in answers["triggers"]] == [
        ("front", "none"),
        ("back", CATALOG.trigger(kind).auth_modes[0]),
    ]
    translated = sam_translate(load_template(project / "template.yaml"))
    assert [r for r in open_routes(translated) if r.startswith("Front")]
    assert not [r for r in open_routes(translated) if r.startswith("Back")]


def _project_pytest(project: Path, selection: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    return subprocess.run(
        [*cmd, "tests/contract", "-k", selection],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )


# Each mode's generated access test, and the edit of template.yaml that must make it fail.
ACCESS_TESTS = {
    "iam": ("test_the_api_requires_signed_requests", "DefaultAuthorizer: AWS_IAM"),
    "jwt": ("test_the_api_requires_a_token", "DefaultAuthorizer: "),
    "api-key": ("test_the_api_requires_an_api_key", "ApiKeyRequired: true"),
}


@pytest.mark.parametrize(
    ("kind", "mode"), [(k, m) for k in AUTH_KINDS for m in CATALOG.trigger(k).auth_modes]
)
def test_the_generated_access_test_fails_when_the_template_disagrees(kind: str, mode: str) -> None:
    """The project's own test says whether its API is public, and fails if that changes."""
    project = render(_args("none", kind, mode))
    template = project.path / "template.yaml"
    text = template.read_text()
    if kind == "alb":
        name, changed = _alb_access_edit(text, mode)
        _assert_fails_after(project.path, template, name, changed)
        return
    if kind in URL_KINDS:
        _check_url_access_test(project.path, template, text, mode)
        return
    api = re.search(r"\n  FrontApi:\n    Type: \S+\n(?:    .*\n)*?    Properties:\n", text)
    assert api is not None
    if mode in ACCESS_TESTS:
        name, guard = ACCESS_TESTS[mode]
        changed = re.sub(re.escape(guard) + r"\S*", "DefaultAuthorizer: NONE", text)
    else:
        auth = "      Auth:\n        DefaultAuthorizer: AWS_IAM\n"
        changed = text[: api.end()] + auth + text[api.end() :]
        name = "test_the_api_is_public_as_answered"
    _assert_fails_after(project.path, template, name, changed)


def _alb_access_edit(text: str, mode: str) -> tuple[str, str]:
    """The generated access test of an alb entry, and the template edit that contradicts it."""
    if mode == "jwt":
        return "test_the_api_requires_a_token", text.replace("Type: jwt-validation", "Type: x", 1)
    listener = "\n  FrontHttpsListener:\n"
    head, tail = text.split(listener, 1)
    tail = tail.replace(
        "      DefaultActions:\n", "      DefaultActions:\n        - Type: jwt-validation\n", 1
    )
    return "test_the_api_is_public_as_answered", head + listener + tail


def _assert_fails_after(project: Path, template: Path, name: str, changed: str) -> None:
    """The project's test ``name`` passes on its template and fails on ``changed``."""
    text = template.read_text()
    assert changed != text
    try:
        assert _project_pytest(project, name).returncode == 0
        template.write_text(changed)
        broken = _project_pytest(project, name)
        assert broken.returncode == 1, broken.stdout
        assert name in broken.stdout
    finally:
        template.write_text(text)


def _check_url_access_test(project: Path, template: Path, text: str, mode: str) -> None:
    """The function URL's access test fails when its AuthType is not the answered one."""
    answered, other = ("AWS_IAM", "NONE") if mode == "iam" else ("NONE", "AWS_IAM")
    name = "test_the_url_requires_signed_requests" if mode == "iam" else "test_the_url_is_public"
    guard = f"\n        AuthType: {answered}\n"
    assert text.count(guard) == 1
    try:
        assert _project_pytest(project, name).returncode == 0
        template.write_text(text.replace(guard, f"\n        AuthType: {other}\n"))
        broken = _project_pytest(project, name)
        assert broken.returncode == 1, broken.stdout
        assert name in broken.stdout
    finally:
        template.write_text(text)


@pytest.mark.parametrize("kind", [k for k in AUTH_KINDS if "jwt" in CATALOG.trigger(k).auth_modes])
def test_the_generated_cors_test_fails_without_the_cors_answer(kind: str) -> None:
    """A resolver without the CORS configuration leaves browsers' preflights unanswered."""
    project = render(_args("none", kind, "jwt"))
    handler = project.path / "functions" / "front" / "handler.py"
    text = handler.read_text()
    assert "cors=CORS)" in text
    try:
        assert _project_pytest(project.path, "cors").returncode == 0
        handler.write_text(text.replace(", cors=CORS)", ")").replace("(cors=CORS)", "()"))
        broken = _project_pytest(project.path, "cors")
        assert broken.returncode == 1, broken.stdout
        assert "test_cors_answers_name_only_the_allowed_origins" in broken.stdout
    finally:
        handler.write_text(text)


@pytest.mark.parametrize(
    ("auth", "public"), [("", False), ("default", False), (", auth: none", True)]
)
@pytest.mark.parametrize("kind", sorted({AUTH_KINDS[0], *AUTH_KINDS[-1:]}) if AUTH_KINDS else [])
def test_plain_copier_copy_requires_credentials_unless_none(
    tmp_path: Path, template_repo: Path, kind: str, auth: str, public: bool
) -> None:
    """`copier copy` without the CLI: a trigger with no auth answer gets the kind's default
    (iam; jwt for alb, whose listener cannot check SigV4)."""
    from copier import run_copy

    if auth == "default":
        auth = f", auth: {CATALOG.trigger(kind).auth_modes[0]}"
    dest = tmp_path / "out"
    run_copy(
        str(template_repo),
        dest,
        data={"project_name": "demo", "triggers": f"[{{name: web, kind: {kind}{auth}}}]"},
        defaults=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    translated = sam_translate(load_template(dest / "template.yaml"))
    assert bool(open_routes(translated)) == public


@pytest.mark.parametrize("mode", ["jwt", "api-key"])
def test_function_url_refuses_tokens_and_keys_saying_why(mode: str) -> None:
    if "function-url" not in available_kinds():
        pytest.skip("function-url is not in the narrowed matrix")
    message = _cli_message(Trigger("front", "function-url", mode))
    assert message.startswith(
        f"auth mode '{mode}' does not apply to trigger 'front' (function-url): "
    )
    assert "AuthType is AWS_IAM or NONE" in message
    assert "\n" not in message


@pytest.mark.parametrize("kind", URL_KINDS)
def test_the_generated_contract_fails_on_a_wrong_function_url_response(kind: str) -> None:
    """A handler that answers with anything but the function URL response object (here the
    resolver's answer serialised once more, which Lambda would send as a 200 text body) fails
    the project's own contract tests."""
    project = render(_args("none", kind, "iam"))
    handler = project.path / "functions" / "front" / "handler.py"
    text = handler.read_text()
    answer = "    return app.resolve(event, context)\n"
    assert text.count(answer) == 1
    try:
        assert _project_pytest(project.path, "health").returncode == 0
        handler.write_text(
            text.replace(answer, answer.replace("return ", "return json.dumps(")[:-1] + ")\n")
        )
        broken = _project_pytest(project.path, "health")
        assert broken.returncode == 1, broken.stdout
        assert "test_health_is_ok" in broken.stdout
    finally:
        handler.write_text(text)

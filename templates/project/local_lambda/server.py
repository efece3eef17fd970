"""Serve the API functions over HTTP on loopback, in the event formats of their AWS front door.

REST APIs send version 1.0 proxy events, HTTP APIs version 2.0 events and Application Load
Balancers their own; each answer is turned back into an HTTP response the same way.
DOCS https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
DOCS https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
DOCS https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .runtime import LocalFunction
from .template import Template, mentions

_OPENAPI_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Route:
    """A method and path that reach the function: ``ANY /{proxy+}``, ``GET /health``..."""

    method: str
    path: str

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when the request takes this route, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = re.escape(self.path)
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", pattern)  # {proxy+}: greedy
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        pattern = pattern.replace(r"\*", ".*")  # ALB path patterns
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None

    @property
    def specificity(self) -> tuple[bool, int, bool]:
        """API Gateway prefers exact paths, then longer ones, then a method over ANY."""
        return ("{" not in self.path and "*" not in self.path, len(self.path), self.method != "ANY")


@dataclass(frozen=True)
class Api:
    """How requests reach a function: ``rest`` (v1 proxy), ``http`` (v2), ``url`` (its function
    URL, v2 on every path) or ``alb``."""

    kind: str
    routes: tuple[Route, ...]
    stage: str = "$default"

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route a request takes and its path parameters, else None."""
        for route in sorted(self.routes, key=lambda r: r.specificity, reverse=True):
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None


def api_of(template: Template, logical_id: str) -> Api | None:
    """The API in front of a function, from its events, OpenAPI bodies, function URL or ALB
    rules."""
    props = template.resources[logical_id].get("Properties", {})
    routes: dict[str, list[Route]] = {}
    stage = "$default"
    if props.get("FunctionUrlConfig"):
        # A function URL passes every method and path to the function.
        routes["url"] = [Route("ANY", "*")]
    for event in (props.get("Events") or {}).values():
        event_props = event.get("Properties", {})
        kind = {"Api": "rest", "HttpApi": "http"}.get(event.get("Type", ""))
        if kind:
            method = str(event_props.get("Method", "ANY")).upper()
            routes.setdefault(kind, []).append(Route(method, event_props.get("Path", "/")))
            api_id = event_props.get("RestApiId") or event_props.get("ApiId")
            if kind == "rest" and api_id:
                stage = str(
                    template.resources[api_id["Ref"]]["Properties"].get("StageName", "Prod")
                )
    for other_id, resource in template.resources.items():
        other_props = resource.get("Properties", {})
        body = other_props.get("DefinitionBody")
        if resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi") and body:
            kind = "rest" if resource["Type"] == "AWS::Serverless::Api" else "http"
            for path, operations in body.get("paths", {}).items():
                for verb, operation in operations.items():
                    integration = (
                        operation.get("x-amazon-apigateway-integration", {})
                        if isinstance(operation, dict)
                        else {}
                    )
                    if integration.get("type") == "aws_proxy" and mentions(integration, logical_id):
                        method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
                        routes.setdefault(kind, []).append(Route(method, path))
                        if kind == "rest":
                            stage = str(other_props.get("StageName", "Prod"))
        if resource.get("Type") == "AWS::ElasticLoadBalancingV2::TargetGroup" and mentions(
            other_props.get("Targets"), logical_id
        ):
            routes.setdefault("alb", []).extend(_alb_routes(template, other_id))
    for kind, found in routes.items():
        return Api(kind, tuple(found), stage if kind == "rest" else "$default")
    return None


def _alb_routes(template: Template, target_group: str) -> list[Route]:
    """Routes of the listener rules that forward to the target group; the default action
    forwards every other request."""
    routes = []
    for resource in template.resources.values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::ElasticLoadBalancingV2::Listener" and mentions(
            props.get("DefaultActions"), target_group
        ):
            routes.append(Route("ANY", "*"))
        if resource.get("Type") == "AWS::ElasticLoadBalancingV2::ListenerRule" and mentions(
            props.get("Actions"), target_group
        ):
            conditions = {c["Field"]: c for c in props.get("Conditions", [])}
            paths = (
                conditions.get("path-pattern", {}).get("PathPatternConfig", {}).get("Values", ["*"])
            )
            methods = (
                conditions.get("http-request-method", {})
                .get("HttpRequestMethodConfig", {})
                .get("Values", ["ANY"])
            )
            routes.extend(Route(m, p) for p in paths for m in methods)
    return routes


@dataclass
class Request:
    """An HTTP request as the server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path) or "/"

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    def body_field(self, by_content_type: bool) -> tuple[str | None, bool]:
        """The body as the event carries it, and whether it is base64-encoded: by its content
        type (HTTP APIs, load balancers), else text whenever it is UTF-8 (a REST API without
        binary media types)."""
        if not self.body:
            return None, False
        content_type = {k.lower(): v for k, v in self.headers}.get("content-type", "")
        if not by_content_type or content_type.startswith(_TEXT_TYPES):
            try:
                return self.body.decode(), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(self.body).decode(), True


def rest_event(
    request: Request, route: Route, parameters: dict[str, str], stage: str, template: Template
) -> dict[str, Any]:
    """A REST API (payload 1.0) proxy event."""
    body, encoded = request.body_field(by_content_type=False)
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query:
        multi_query.setdefault(name, []).append(value)
    now = datetime.now(UTC)
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{request.path}",
            "accountId": template.account,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": multi_headers.get("User-Agent", [None])[-1],
            },
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def http_event(
    request: Request, route: Route, parameters: dict[str, str], template: Template
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event: lower-case headers, repeated values joined by commas."""
    body, encoded = request.body_field(by_content_type=True)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in request.query:
        query[name] = f"{query[name]},{value}" if name in query else value
    route_key = f"{route.method} {route.path}"
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": urlsplit(request.target).query,
        "headers": headers,
        "requestContext": {
            "accountId": template.account,
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body is not None:
        event["body"] = body
    return event


def alb_event(request: Request, template: Template, target_group_arn: str) -> dict[str, Any]:
    """An Application Load Balancer event (multi-value headers off, the generated default):
    query values stay URL-encoded, as the load balancer sends them."""
    body, encoded = request.body_field(by_content_type=True)
    raw_query = urlsplit(request.target).query
    query = dict(part.partition("=")[::2] for part in raw_query.split("&") if part)
    return {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": request.method,
        "path": request.path,
        "queryStringParameters": query,
        "headers": {name.lower(): value for name, value in request.headers},
        "body": body or "",
        "isBase64Encoded": encoded,
    }


def http_response(api: Api, answer: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body that the front door makes of a handler's answer."""
    if api.kind in ("http", "url") and not (isinstance(answer, dict) and "statusCode" in answer):
        # Payload 2.0 lets a handler return any JSON value: a 200 with that body.
        return 200, [("Content-Type", "application/json")], json.dumps(answer).encode()
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
    headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers = [h for h in headers if h[0].lower() != name.lower()]
        headers.extend((name, str(v)) for v in values)
    headers.extend(("Set-Cookie", cookie) for cookie in answer.get("cookies") or [])
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    return int(answer["statusCode"]), headers, data


class LocalApi:
    """One API function behind an HTTP server bound to 127.0.0.1."""

    def __init__(self, template: Template, function: LocalFunction, api: Api):
        self.template = template
        self.function = function
        self.api = api

    def handle(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request as the API and the function would."""
        found = self.api.route(request.method, request.path)
        if found is None:
            message = (
                "No local route: in AWS this request takes a route that is not this function's"
            )
            return (
                404,
                [("Content-Type", "application/json")],
                json.dumps({"message": message}).encode(),
            )
        route, parameters = found
        if self.api.kind == "rest":
            event = rest_event(request, route, parameters, self.api.stage, self.template)
        elif self.api.kind == "http":
            event = http_event(request, route, parameters, self.template)
        elif self.api.kind == "url":
            event = http_event(request, route, {}, self.template)
            # DOCS https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-request-payload
            event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
        else:
            where = f"{self.template.region}:{self.template.account}"
            arn = f"arn:aws:elasticloadbalancing:{where}:targetgroup/local/0"
            event = alb_event(request, self.template, arn)
        outcome = self.function.invoke(event)
        if outcome.error is not None:
            print(json.dumps(outcome.error), file=sys.stderr)
            # API Gateway answers 502 when the integration fails; a load balancer too.
            return (
                502,
                [("Content-Type", "application/json")],
                b'{"message": "Internal server error"}',
            )
        return http_response(self.api, outcome.response)

    def serve(self, port: int, max_requests: int | None) -> None:
        """Answer requests on 127.0.0.1 (never another interface) until interrupted, or until
        ``max_requests`` were answered."""
        local_api = self
        answered = 0

        class RequestHandler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                nonlocal answered
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    target=self.path,
                    headers=list(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                    source_ip=self.client_address[0],
                )
                status, headers, body = local_api.handle(request)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                answered += 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                print(f"{self.address_string()} {format % args}", file=sys.stderr)

        with HTTPServer(("127.0.0.1", port), RequestHandler) as server:
            host, bound = server.server_address[:2]
            kind = {
                "rest": "REST API",
                "http": "HTTP API",
                "url": "function URL",
                "alb": "load balancer",
            }[self.api.kind]
            print(
                f"Serving {self.function.function.name} ({kind}) on http://{host!s}:{bound}",
                file=sys.stderr,
                flush=True,
            )
            try:
                while max_requests is None or answered < max_requests:
                    server.handle_request()
            except KeyboardInterrupt:
                pass

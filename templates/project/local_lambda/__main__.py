"""Command line: ``python -m local_lambda list | invoke | serve`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import deployed_resources, fake_aws
from .runtime import LocalFunction
from .server import LocalApi, api_of
from .standins import (
    custom_resource_listener,
    seed_config_resource,
    seed_idempotency_table,
    seed_rotation_secret,
    seed_s3_objects,
)
from .template import Function, Template, stack_name

ROOT = Path.cwd()


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit code (1 when the handler failed, 2 on bad usage)."""
    args = _parser().parse_args(argv)
    try:
        template, aws = _template(args)
        with aws:
            result: int = args.command(template, args)
            return result
    except (LookupError, OSError, ValueError, BotoCoreError, ClientError) as error:
        print(f"local_lambda: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_lambda",
        description="Run the functions of template.yaml on this machine, without Docker.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="the functions, their sample events and APIs")
    listing.set_defaults(command=_list)
    invoke = commands.add_parser("invoke", help="invoke a function once, in this process")
    invoke.add_argument("function", help="folder name (orders) or logical id (OrdersFunction)")
    invoke.add_argument(
        "event",
        nargs="?",
        help="a sample event (post-message, events/orders-post-message.json), a JSON file, "
        "or - for stdin; optional when the function has one sample event",
    )
    invoke.set_defaults(command=_invoke)
    serve = commands.add_parser("serve", help="answer HTTP requests with an API function")
    serve.add_argument("function", nargs="?", help="the API function (optional when only one)")
    serve.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0: any free one)")
    serve.add_argument("--max-requests", type=int, help="stop after answering this many requests")
    serve.set_defaults(command=_serve)
    for command in (invoke, serve):
        command.add_argument(
            "--aws",
            action="store_true",
            help="call real AWS (the deployed stack's resources) instead of moto",
        )
        command.add_argument("--profile", help="AWS profile for --aws")
        command.add_argument("--stack", help="deployed stack for --aws (default: samconfig.toml's)")
        command.add_argument("--region", help="region (default: AWS_REGION, else us-east-1)")
    return parser


def _template(args: argparse.Namespace) -> tuple[Template, AbstractContextManager[Any]]:
    if not (ROOT / "template.yaml").exists():
        raise LookupError("no template.yaml here: run this from the project's root folder")
    region = (
        getattr(args, "region", None)
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    if not getattr(args, "aws", False):
        if getattr(args, "profile", None):
            raise ValueError("--profile needs --aws: without it, AWS calls go to moto")
        template = Template(ROOT, region)
        return template, fake_aws(template) if args.command is not _list else nullcontext()
    ids, account, session_region = deployed_resources(args.stack or stack_name(ROOT), args.profile)
    template = Template(ROOT, args.region or session_region, physical_ids=ids)
    template.account = account
    return template, nullcontext()


def _list(template: Template, args: argparse.Namespace) -> int:
    for function in template.functions():
        api = api_of(template, function.logical_id)
        served = f"  serve: {api.kind}" if api else ""
        print(f"{function.name} ({function.logical_id}, timeout {function.timeout} s){served}")
        for event in function.sample_events(ROOT, [f.name for f in template.functions()]):
            print(f"    {event.stem.removeprefix(function.name + '-')}")
    return 0


def _event(template: Template, function: Function, name: str | None) -> Any:
    samples = function.sample_events(ROOT, [f.name for f in template.functions()])
    if name == "-":
        return json.load(sys.stdin)
    if name is None:
        if len(samples) != 1:
            stems = ", ".join(s.stem.removeprefix(function.name + "-") for s in samples)
            raise LookupError(f"name the event: the samples of {function.name} are {stems}")
        return json.loads(samples[0].read_text())
    for candidate in (
        Path(name),
        ROOT / "events" / f"{function.name}-{name}.json",
        ROOT / "events" / f"{name}.json",
    ):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    raise LookupError(f"no event file '{name}' (nor events/{function.name}-{name}.json)")


def _invoke(template: Template, args: argparse.Namespace) -> int:
    function = template.function(args.function)
    event = _event(template, function, args.event)
    if args.aws:
        outcome = LocalFunction(template, function).invoke(event)
    else:
        seed_s3_objects(event)
        seed_config_resource(event)
        seed_idempotency_table(template.environment(function))
        seed_rotation_secret(event)
        with custom_resource_listener(event):
            outcome = LocalFunction(template, function).invoke(event)
    print(json.dumps(outcome.error if outcome.error else outcome.response, indent=2, default=str))
    return 1 if outcome.error else 0


def _serve(template: Template, args: argparse.Namespace) -> int:
    apis = {
        f.name: (f, api) for f in template.functions() if (api := api_of(template, f.logical_id))
    }
    if args.function is None and len(apis) != 1:
        raise LookupError(f"name the function to serve: {', '.join(apis) or 'none has an API'}")
    name = args.function or next(iter(apis))
    function = template.function(name)
    if function.name not in apis:
        raise LookupError(f"{name} has no API, load balancer or HTTP route; try: {', '.join(apis)}")
    LocalApi(template, LocalFunction(template, function), apis[function.name][1]).serve(
        args.port, args.max_requests
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

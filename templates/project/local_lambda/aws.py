"""Where the functions' AWS calls go: moto with the template's resources, or a real account."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from typing import Any

import boto3

from .standins import placeholder_answers
from .template import Template

# A state machine that only records its executions: the workflow itself does not run here.
_RECORDING_STATE_MACHINE = json.dumps(
    {"StartAt": "Recorded", "States": {"Recorded": {"Type": "Succeed"}}}
)


def fake_aws(template: Template) -> ExitStack:
    """moto for every AWS call, with fake credentials and the template's data resources."""
    from moto import mock_aws

    stack = ExitStack()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": template.region,
        }
    )
    stack.enter_context(mock_aws())
    stack.enter_context(placeholder_answers())
    create_resources(template)
    return stack


def create_resources(template: Template) -> list[str]:
    """Create in moto the tables, queues, buckets, topics, streams, buses and state machines
    that template.yaml declares, under the names the functions are given; return their ids."""
    created = []
    for logical_id, resource in template.resources.items():
        create = _CREATORS.get(resource.get("Type", ""))
        if create is not None:
            create(template, logical_id, template.resolve(resource.get("Properties", {})))
            created.append(logical_id)
    return created


def _table(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    if "PrimaryKey" in props or not props:  # AWS::Serverless::SimpleTable
        key = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
        props = {
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": key["Name"], "AttributeType": key["Type"][0]}
            ],
        }
    table: dict[str, Any] = {
        "TableName": template.name_of(logical_id),
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            table[key] = [
                {k: v for k, v in index.items() if k != "ProvisionedThroughput"}
                for index in props[key]
            ]
    if "StreamSpecification" in props:
        view = props["StreamSpecification"]["StreamViewType"]
        table["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    boto3.client("dynamodb").create_table(**table)


def _queue(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    attributes = {"FifoQueue": "true"} if props.get("FifoQueue") in (True, "true") else {}
    boto3.client("sqs").create_queue(QueueName=template.name_of(logical_id), Attributes=attributes)


def _bucket(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    options: dict[str, Any] = {}
    if template.region != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": template.region}
    boto3.client("s3").create_bucket(Bucket=template.name_of(logical_id), **options)


def _topic(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    attributes = {"FifoTopic": "true"} if props.get("FifoTopic") in (True, "true") else {}
    boto3.client("sns").create_topic(Name=template.name_of(logical_id), Attributes=attributes)


def _stream(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    boto3.client("kinesis").create_stream(StreamName=template.name_of(logical_id), ShardCount=1)


def _bus(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    if template.name_of(logical_id) != "default":
        boto3.client("events").create_event_bus(Name=template.name_of(logical_id))


def _state_machine(template: Template, logical_id: str, props: dict[str, Any]) -> None:
    boto3.client("stepfunctions").create_state_machine(
        name=template.name_of(logical_id),
        definition=_RECORDING_STATE_MACHINE,
        roleArn=f"arn:aws:iam::{template.account}:role/local-state-machine",
    )


_CREATORS = {
    "AWS::DynamoDB::Table": _table,
    "AWS::Serverless::SimpleTable": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::S3::Bucket": _bucket,
    "AWS::SNS::Topic": _topic,
    "AWS::Kinesis::Stream": _stream,
    "AWS::Events::EventBus": _bus,
    "AWS::Serverless::StateMachine": _state_machine,
    "AWS::StepFunctions::StateMachine": _state_machine,
}


def deployed_resources(stack: str, profile: str | None) -> tuple[dict[str, str], str, str]:
    """The physical ids of a deployed stack's resources, its account and its region."""
    session = boto3.Session(profile_name=profile)
    if profile:
        os.environ["AWS_PROFILE"] = profile
    cloudformation = session.client("cloudformation")
    ids = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page["StackResourceSummaries"]:
            if "PhysicalResourceId" in summary:
                ids[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    account = session.client("sts").get_caller_identity()["Account"]
    return ids, account, str(session.region_name)

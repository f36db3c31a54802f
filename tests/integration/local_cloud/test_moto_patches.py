"""The local cloud's DynamoDB applies concurrent writes to one item one at a time, as AWS does."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3


def test_concurrent_counter_updates_are_not_lost(moto_endpoint, local_cloud):
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = f"counter-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def bump(_: int) -> None:
        client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
        for _ in range(25):
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "c"}},
                UpdateExpression="ADD n :one, seen :me",
                ExpressionAttributeValues={":one": {"N": "1"}, ":me": {"SS": [uuid.uuid4().hex]}},
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(8)))
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]
    assert int(item["n"]["N"]) == 200
    assert len(item["seen"]["SS"]) == 200

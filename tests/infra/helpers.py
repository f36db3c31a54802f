"""Lookups in a synthesized template shared by the infrastructure tests."""

from __future__ import annotations

from infra.resources import physical_name


def function_id(synth, name: str) -> str:
    """The logical id of the function `name` (found by its physical name)."""
    wanted = physical_name(synth.env_name, name)
    (logical,) = [
        k
        for k, v in synth.of_type("AWS::Lambda::Function").items()
        if v["Properties"].get("FunctionName") == wanted
    ]
    return logical


def table_id(synth, logical: str) -> str:
    wanted = physical_name(synth.env_name, logical)
    (found,) = [
        k for k, v in synth.of_type("AWS::DynamoDB::Table").items() if v["Properties"]["TableName"] == wanted
    ]
    return found


def bucket_id(synth, logical: str) -> str:
    """The logical id of the bucket whose name starts with `ingestplane-<env>-<logical>-`."""
    prefix = physical_name(synth.env_name, logical) + "-"
    found = []
    for k, v in synth.of_type("AWS::S3::Bucket").items():
        name = v["Properties"]["BucketName"]
        first = name["Fn::Join"][1][0] if isinstance(name, dict) else name
        if first.startswith(prefix):
            found.append(k)
    (only,) = found
    return only


def role_statements(synth, function: str) -> list[dict]:
    """Every policy statement attached to the role of function `function`."""
    role = synth.resources[function_id(synth, function)]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def mentions(value, needle: str) -> bool:
    """Whether `needle` appears anywhere in a (possibly intrinsic) CloudFormation value."""
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(mentions(k, needle) or mentions(v, needle) for k, v in value.items())
    if isinstance(value, list):
        return any(mentions(v, needle) for v in value)
    return False

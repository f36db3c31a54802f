"""Provisioning: idempotent, the environment the functions read, and the resources behaving as used."""

from __future__ import annotations

import os

import boto3
import requests

from functions.core.settings import get_settings
from infra.local.provision import Provisioner, load_config, render_asl
from infra.resources import TABLES


def test_env_is_exported_and_settings_read_it(local_cloud):
    env = local_cloud.env
    for key in (
        "ENV_NAME",
        "AWS_ENDPOINT_URL",
        "DATA_BUCKET",
        "USER_POOL_ID",
        "USER_POOL_CLIENT_ID",
        "JWKS_URL",
        "STATE_MACHINE_ARN",
        "SCHEDULER_GROUP",
        "SCHEDULER_ROLE_ARN",
        "COOKIE_SECURE",
        "POWERTOOLS_TRACE_DISABLED",
        *(t.env_var for t in TABLES),
    ):
        assert env[key], key
        assert os.environ[key] == env[key], key
    assert env["ENV_NAME"] == "local" and env["COOKIE_SECURE"] == "false"
    assert env["AWS_ENDPOINT_URL"] == local_cloud.aws_endpoint
    settings = get_settings()
    assert settings.endpoint_url == local_cloud.aws_endpoint
    assert settings.data_bucket == local_cloud.bucket == "ingestplane-local-data"
    assert settings.cookie_secure is False
    assert settings.jobs_table == "ingestplane-local-jobs"


def test_jwks_url_serves_the_pool_keys(local_cloud):
    keys = requests.get(local_cloud.env["JWKS_URL"], timeout=10).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"


def test_app_client_allows_user_password_auth(local_cloud):
    idp = boto3.client("cognito-idp", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    idp.sign_up(
        ClientId=local_cloud.client_id,
        Username="prov",
        Password="Str0ng-Passw0rd",
        UserAttributes=[{"Name": "email", "Value": "prov@example.com"}],
    )
    idp.admin_confirm_sign_up(UserPoolId=local_cloud.user_pool_id, Username="prov")
    auth = idp.initiate_auth(
        ClientId=local_cloud.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "prov", "PASSWORD": "Str0ng-Passw0rd"},
    )
    assert auth["AuthenticationResult"]["IdToken"]


def test_provisioning_again_is_idempotent(local_cloud):
    again = Provisioner(local_cloud.aws_endpoint, "local", asl_path=None).run()
    assert again.user_pool_id == local_cloud.user_pool_id
    assert again.client_id == local_cloud.client_id
    assert again.queue_url == local_cloud.queue_url
    assert again.bucket == local_cloud.bucket
    s3 = boto3.client("s3", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    notifications = s3.get_bucket_notification_configuration(Bucket=local_cloud.bucket)
    assert len(notifications["QueueConfigurations"]) == 1


def test_state_machine_definition_has_local_arns(local_cloud):
    sfn = boto3.client("stepfunctions", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    definition = sfn.describe_state_machine(stateMachineArn=local_cloud.state_machine_arn)["definition"]
    assert "${" not in definition
    assert "arn:aws:lambda:us-east-1:123456789012:function:ingestplane-local-workflow" in definition


def test_render_asl_and_config():
    asl = '{"a": "${WorkflowFunctionArn}", "b": ${MapConcurrency}}'
    assert (
        render_asl(asl, {"WorkflowFunctionArn": "arn:x", "MapConcurrency": "4"}) == '{"a": "arn:x", "b": 4}'
    )
    config = load_config("local")
    assert "http://localhost:8000" in config.cors_origins and "*" not in config.cors_origins

"""The HTTP API (payload 2.0): one route per infra.routes entry, each to its family's function."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.families import FAMILIES
from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.routes import all_routes
from infra.stacks.config import EnvConfig

CORS_METHODS = (
    apigw.CorsHttpMethod.GET,
    apigw.CorsHttpMethod.POST,
    apigw.CorsHttpMethod.PUT,
    apigw.CorsHttpMethod.DELETE,
    apigw.CorsHttpMethod.OPTIONS,
)
# docs/api.md: the credential and dialect headers a browser client sends (API keys, idempotent uploads, the
# ingest-job dialect's tenant and version); the local gateway allows the same (infra/local/gateway.py).
CORS_HEADERS = (
    "Origin",
    "Content-Type",
    "Accept",
    "Authorization",
    "x-api-key",
    "Idempotency-Key",
    "amperity-tenant",
    "api-version",
)

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "error": "$context.error.message",
}


class HttpApi(Construct):
    """The API with its throttled, access-logged `$default` stage and CORS from the environment's config."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        config.validate()  # never a wildcard origin with credentials
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=physical_name(config.name, "api"),
            create_default_stage=False,  # the stage below carries throttling and access logs
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=list(config.cors_origins),
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_HEADERS),
                allow_credentials=True,
                max_age=Duration.hours(1),
            ),
        )
        self.access_logs, self.stage = self._stage(config)
        self.routes = self._routes(functions)
        suppress(
            self.api,
            "APIG4",
            "Authentication happens in each family's function (docs/security.md): session cookie, Cognito "
            "JWT, or project API key in a header, the body or the query; an API Gateway JWT authorizer "
            "cannot accept cookies or API keys, and /signup, /login, /health, /openapi.json are public.",
        )

    def _stage(self, config: EnvConfig) -> tuple[logs.LogGroup, apigw.HttpStage]:
        """The `$default` stage, throttled, with its access log group."""
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{physical_name(config.name, 'api')}",
            retention=config.log_retention,
            removal_policy=config.removal,
        )
        stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=config.rate_limit, burst_limit=config.burst_limit),
        )
        cfn_stage: apigw.CfnStage = stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        return access_logs, stage

    def _routes(self, functions: Mapping[str, lambda_.IFunction]) -> dict[str, apigw.HttpRoute]:
        """One route per route table entry (infra/routes.py), each to its family's function, by route key."""
        integration = {
            family: integrations.HttpLambdaIntegration(
                f"{family.title()}Integration",
                functions[family],
                payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0,
            )
            for family in FAMILIES
        }
        routes: dict[str, apigw.HttpRoute] = {}
        for route in all_routes():
            (created,) = self.api.add_routes(
                path=route.path, methods=[apigw.HttpMethod.ANY], integration=integration[route.family]
            )
            routes[route.route_key] = created
        return routes

    @property
    def url(self) -> str:
        return self.api.api_endpoint

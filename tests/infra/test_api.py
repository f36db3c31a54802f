"""The HTTP API: one route per infra.routes entry to its family's function, CORS, throttling, access logs."""

from __future__ import annotations

import pytest

from infra.routes import all_routes
from infra.stacks.config import EnvConfig
from tests.infra.helpers import function_id


def test_http_api_with_credentialed_cors_and_no_wildcard(dev):
    (api,) = dev.of_type("AWS::ApiGatewayV2::Api").values()
    props = api["Properties"]
    assert props["ProtocolType"] == "HTTP"
    cors = props["CorsConfiguration"]
    assert cors["AllowCredentials"] is True
    assert cors["AllowOrigins"] == ["http://localhost:8000", "http://localhost:3000"]
    assert "*" not in cors["AllowOrigins"]
    assert set(cors["AllowMethods"]) == {"GET", "POST", "PUT", "DELETE", "OPTIONS"}
    # docs/api.md: browsers may send API keys, idempotency keys and the ingest-job dialect's headers
    assert set(cors["AllowHeaders"]) == {
        "Origin",
        "Content-Type",
        "Accept",
        "Authorization",
        "x-api-key",
        "Idempotency-Key",
        "amperity-tenant",
        "api-version",
    }


def test_prod_cors_has_no_localhost_and_no_wildcard(prod):
    (api,) = prod.of_type("AWS::ApiGatewayV2::Api").values()
    origins = api["Properties"]["CorsConfiguration"]["AllowOrigins"]
    assert origins and all(o.startswith("https://") and "*" not in o for o in origins)


def test_wildcard_origin_is_refused_at_synth():
    environments = {"x": _env(cors_origins=["*"])}
    with pytest.raises(ValueError, match="wildcard"):
        EnvConfig.from_context("x", environments)
    environments = {"x": _env(cors_origins=["https://*.example.com"])}
    with pytest.raises(ValueError, match="wildcard"):
        EnvConfig.from_context("x", environments)


def _env(**overrides):
    from infra.app import cdk_json_context

    return {**cdk_json_context()["environments"]["dev"], **overrides}


def test_one_route_per_route_table_entry_to_its_family(dev):
    routes = dev.of_type("AWS::ApiGatewayV2::Route")
    integrations = dev.of_type("AWS::ApiGatewayV2::Integration")
    by_key = {r["Properties"]["RouteKey"]: r["Properties"] for r in routes.values()}
    expected = all_routes()
    assert sorted(by_key) == sorted(r.route_key for r in expected)
    assert len(routes) == len(expected)
    for route in expected:
        target = by_key[route.route_key]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = integrations[target]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [function_id(dev, route.family), "Arn"]}, route


def test_default_stage_throttled_and_access_logged(dev, prod):
    for synth, (rate, burst) in ((dev, (50, 100)), (prod, (200, 400))):
        (stage,) = synth.of_type("AWS::ApiGatewayV2::Stage").values()
        props = stage["Properties"]
        assert props["StageName"] == "$default" and props["AutoDeploy"] is True
        assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == rate
        assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == burst
        destination = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"]
        assert synth.resources[destination[0]]["Type"] == "AWS::Logs::LogGroup"
        assert "$context.requestId" in props["AccessLogSettings"]["Format"]

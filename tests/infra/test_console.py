"""The console as deployed: S3 behind CloudFront with origin access control, the API on the same domain
(so the session cookie is first-party), /config.json written at deploy time, the data bucket's CORS
open to the console's origin for presigned uploads, and the SPA's viewer-request function."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess

import pytest

from infra.constructs.console import SPA_FUNCTION, api_path_patterns
from infra.routes import all_routes
from tests.infra.helpers import mentions

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CONSOLE_PATHS = ("/", "/index.html", "/config.json", "/assets/index-Ab1.js", "/sign-in", "/projects/p1/jobs")


def _distribution(synth) -> dict:
    (dist,) = synth.of_type("AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def _first_match(patterns: list[str], path: str) -> str | None:
    """CloudFront's choice: the first behavior whose pattern matches (`*` spans slashes), else default."""
    return next((p for p in patterns if fnmatch.fnmatchcase(path, p)), None)


def test_every_api_route_goes_to_the_api_and_console_paths_to_the_bucket(dev):
    config = _distribution(dev)
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert patterns == api_path_patterns()
    for route in all_routes():
        sample = route.path.replace("{proxy+}", "a/b").replace("{projectid}", "p1")
        assert _first_match(patterns, sample), route.path
    for path in CONSOLE_PATHS:
        assert _first_match(patterns, path) is None, path
    (api_origin,) = {b["TargetOriginId"] for b in config["CacheBehaviors"]}
    for behavior in config["CacheBehaviors"]:
        assert behavior["CachePolicyId"] == CACHING_DISABLED  # never a cached API answer
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST  # cookies and headers go along
        assert {"POST", "PUT", "DELETE"} <= set(behavior["AllowedMethods"])
        assert behavior["ViewerProtocolPolicy"] == "https-only"
    (origin,) = [o for o in config["Origins"] if o["Id"] == api_origin]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert mentions(origin["DomainName"], "HttpApi")


def test_console_bucket_is_private_and_read_only_by_its_distribution(dev):
    config = _distribution(dev)
    default = config["DefaultCacheBehavior"]
    (s3_origin,) = [o for o in config["Origins"] if o["Id"] == default["TargetOriginId"]]
    assert s3_origin["OriginAccessControlId"] and s3_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert default["ViewerProtocolPolicy"] == "redirect-to-https" and default["Compress"] is True
    assert [f["EventType"] for f in default["FunctionAssociations"]] == ["viewer-request"]
    assert config["DefaultRootObject"] == "index.html"
    assert "CustomErrorResponses" not in config  # the API's 4xx must reach the console as they are
    assert config["Logging"]["Bucket"]
    (site_id,) = [k for k in dev.of_type("AWS::S3::Bucket") if k.startswith("ConsoleSite")]
    site = dev.resources[site_id]["Properties"]
    assert all(site["PublicAccessBlockConfiguration"].values())
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in dev.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": site_id}
    ]
    readers = [s for s in policy["Statement"] if s["Effect"] == "Allow" and s["Action"] == "s3:GetObject"]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    assert mentions(readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"], "ConsoleCdn")


def test_config_json_carries_the_api_url_and_user_pool_at_deploy_time(dev):
    pages = [
        v["Properties"]
        for k, v in dev.resources.items()
        if v["Type"] == "Custom::CDKBucketDeployment" and k.startswith("ConsolePages")
    ]
    (props,) = pages
    markers = json.dumps(props["SourceMarkers"])
    assert "ConsoleCdn" in markers and "DomainName" in markers  # apiUrl: the console's own origin
    assert "UsersPool" in markers and "UsersPoolApiClient" in markers
    assert props["SystemMetadata"]["cache-control"] == "no-cache"
    assert set(props["DistributionPaths"]) >= {"/index.html", "/config.json"}


def test_data_bucket_cors_takes_presigned_uploads_from_the_console(dev):
    buckets = dev.of_type("AWS::S3::Bucket").values()
    rules = [r for b in buckets for r in b["Properties"].get("CorsConfiguration", {}).get("CorsRules", [])]
    console_rules = [r for r in rules if mentions(r["AllowedOrigins"], "ConsoleCdn")]
    assert len(console_rules) == 1
    assert "PUT" in console_rules[0]["AllowedMethods"] and console_rules[0]["ExposedHeaders"] == ["ETag"]


def test_response_headers_keep_the_page_to_itself_the_api_and_s3(dev):
    (policy,) = dev.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp and "ingestplane-dev-data" in csp
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000


def test_a_console_domain_needs_its_certificate_and_a_cors_origin():
    from infra.app import cdk_json_context
    from infra.stacks.config import EnvConfig

    envs = cdk_json_context()["environments"]
    good = {**envs["prod"], "console": {"domain": "app.ingestplane.example.com", "certificate_arn": "arn:x"}}
    assert EnvConfig.from_context("prod", {"prod": good}).console_domain == "app.ingestplane.example.com"
    with pytest.raises(ValueError, match="go together"):
        EnvConfig.from_context(
            "prod", {"prod": {**good, "console": {"domain": "app.ingestplane.example.com"}}}
        )
    elsewhere = {**good, "console": {"domain": "ui.example.org", "certificate_arn": "arn:x"}}
    with pytest.raises(ValueError, match="must include the console"):
        EnvConfig.from_context("prod", {"prod": elsewhere})


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the CloudFront function's code")
def test_spa_function_sends_console_paths_to_index_html():
    """The viewer-request function's own code, run by node on CloudFront-shaped events."""
    script = (
        SPA_FUNCTION.read_text()
        + "\nconst uris = JSON.parse(process.argv[1]);"
        + "\nconsole.log(JSON.stringify(uris.map((uri) => handler({request: {uri}}).uri)));"
    )
    uris = [
        "/",
        "/sign-in",
        "/projects/p1/runs/isj-1",
        "/assets/index-Ab1.js",
        "/config.json",
        "/favicon.svg",
    ]
    out = subprocess.run(["node", "-e", script, json.dumps(uris)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        "/index.html",
        "/index.html",
        "/index.html",
        "/assets/index-Ab1.js",
        "/config.json",
        "/favicon.svg",
    ]

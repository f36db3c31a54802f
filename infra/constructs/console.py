"""The web console as deployed (docs/architecture.md): an S3 bucket behind CloudFront with origin access control,
and the API on the same domain.

One domain, not two: CloudFront serves the console from the bucket and forwards the API's paths
(infra/routes.py) to the HTTP API, uncached, with the viewer's cookies and headers. The session
cookie the auth function sets (`__Host-session`, Secure, HttpOnly, SameSite=Lax) is then first-party
to the console's own origin, so no browser's third-party-cookie rules can drop it. The API URL and
the user pool reach the console as /config.json, written at deploy time. Presigned uploads go
straight to the data bucket, whose CORS allows the console's origin.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.console_headers import security_headers
from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.routes import all_routes
from infra.stacks.config import EnvConfig

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIST = ROOT / "console" / "dist"
SPA_FUNCTION = Path(__file__).with_name("console_spa.js")
NO_CACHE = [s3deploy.CacheControl.no_cache()]
IMMUTABLE = [
    s3deploy.CacheControl.set_public(),
    s3deploy.CacheControl.max_age(Duration.days(365)),
    s3deploy.CacheControl.immutable(),
]


def api_path_patterns() -> list[str]:
    """CloudFront path patterns that send every API route to the API: `/api/*` and the other routes."""
    patterns: list[str] = []
    for route in all_routes():
        path = route.path
        if path.startswith("/api/"):
            pattern = "/api/*"
        elif "{" in path:
            pattern = path[: path.index("{")] + "*"
        else:
            pattern = path
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


class ConsoleSite(Construct):
    """The console's bucket, its CloudFront distribution (console + API) and its deployment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        api_endpoint: str,
        data_bucket: s3.Bucket,
        data_bucket_name: str,
        access_logs: s3.IBucket,
        user_pool_id: str,
        user_pool_client_id: str,
        dist: Path = CONSOLE_DIST,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (dist / "index.html").is_file():
            raise FileNotFoundError(f"the console is not built ({dist}): run `make console` first")
        self.config = config
        self.bucket = self._site_bucket(config, access_logs)
        self.distribution = self._distribution(config, api_endpoint, data_bucket_name)
        domain = config.console_domain or self.distribution.distribution_domain_name
        self.url = f"https://{domain}"
        data_bucket.add_cors_rule(  # presigned PUTs of file parts from the console; the ETag completes them
            allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
            allowed_origins=[self.url],
            allowed_headers=["*"],
            exposed_headers=["ETag"],
            max_age=3000,
        )
        self._deploy(dist, user_pool_id, user_pool_client_id)
        CfnOutput(Stack.of(self), "ConsoleUrl", value=self.url)

    def _site_bucket(self, config: EnvConfig, access_logs: s3.IBucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Site",
            bucket_name=f"{physical_name(config.name, 'console')}-{Aws.ACCOUNT_ID}-{Aws.REGION}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="console-bucket/",
            removal_policy=config.removal,
            auto_delete_objects=config.auto_delete_objects,
        )

    def _log_bucket(self, config: EnvConfig) -> s3.Bucket:
        """CloudFront's standard logs: that delivery writes with ACLs, so this bucket keeps them on."""
        bucket = s3.Bucket(
            self,
            "CdnLogs",
            bucket_name=f"{physical_name(config.name, 'cdn-logs')}-{Aws.ACCOUNT_ID}-{Aws.REGION}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-cdn-logs", expiration=Duration.days(config.access_log_expiration_days)
                )
            ],
            removal_policy=config.removal,
            auto_delete_objects=config.auto_delete_objects,
        )
        suppress(
            bucket, "S1", "This bucket receives CloudFront's access logs; logging it in turn would loop."
        )
        return bucket

    def _headers(self, data_bucket_name: str) -> cloudfront.ResponseHeadersPolicy:
        """The same security headers as the local console server; the page may reach itself and S3."""
        s3_hosts = [
            f"https://{data_bucket_name}.s3.{Aws.REGION}.{Aws.URL_SUFFIX}",
            f"https://{data_bucket_name}.s3.{Aws.URL_SUFFIX}",
        ]
        headers = security_headers(s3_hosts)
        return cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=headers["Content-Security-Policy"], override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )

    def _distribution(
        self, config: EnvConfig, api_endpoint: str, data_bucket_name: str
    ) -> cloudfront.Distribution:
        spa = cloudfront.Function(
            self,
            "SpaPaths",
            code=cloudfront.FunctionCode.from_file(file_path=str(SPA_FUNCTION)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="console paths without a file are answered with index.html",
        )
        api_origin = origins.HttpOrigin(
            Fn.select(2, Fn.split("/", api_endpoint)),  # https://<id>.execute-api.<region>.amazonaws.com
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            read_timeout=Duration.seconds(30),  # the API's own integration timeout
        )
        api = cloudfront.BehaviorOptions(
            origin=api_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        )
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.console_certificate_arn)
            if config.console_certificate_arn
            else None
        )
        distribution = cloudfront.Distribution(
            self,
            "Cdn",
            comment=f"{physical_name(config.name, 'console')}: the web console and its API",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._headers(data_bucket_name),
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=spa, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={pattern: api for pattern in api_path_patterns()},
            domain_names=[config.console_domain] if config.console_domain else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self._log_bucket(config),
            log_file_prefix="console/",
        )
        self._suppress_distribution(distribution, certificate is not None)
        return distribution

    def _suppress_distribution(self, distribution: cloudfront.Distribution, custom_domain: bool) -> None:
        suppress(
            distribution,
            "CFR1",
            "The console serves people of any country; the API behind it authenticates every request.",
        )
        suppress(
            distribution,
            "CFR2",
            "No WAF web ACL yet: the API throttles per stage and authenticates in its functions (docs/security.md); "
            "a web ACL is per account and region and is attached when an environment has one.",
        )
        if not custom_domain:
            suppress(
                distribution,
                "CFR4",
                "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose "
                "viewer TLS policy cannot be raised; environments with console.domain set use TLS 1.2+.",
            )

    def _deploy(self, dist: Path, user_pool_id: str, user_pool_client_id: str) -> None:
        """The built files (hashed assets cached for good, the rest revalidated) and /config.json."""
        config_json = {
            "apiUrl": self.url,  # the API is on the console's own domain (the behaviors above)
            "region": Aws.REGION,
            "userPoolId": user_pool_id,
            "userPoolClientId": user_pool_client_id,
            "environment": self.config.name,
        }
        s3deploy.BucketDeployment(
            self,
            "Assets",
            sources=[s3deploy.Source.asset(str(dist / "assets"))],
            destination_bucket=self.bucket,
            destination_key_prefix="assets/",
            cache_control=IMMUTABLE,
            prune=False,  # pages still open keep loading the assets of the version they started with
        )
        s3deploy.BucketDeployment(
            self,
            "Pages",
            sources=[
                s3deploy.Source.asset(str(dist), exclude=["assets", "assets/*", ".build-hash"]),
                s3deploy.Source.json_data("config.json", config_json),
            ],
            destination_bucket=self.bucket,
            cache_control=NO_CACHE,
            prune=False,
            distribution=self.distribution,
            distribution_paths=["/", "/index.html", "/config.json"],
        )
        self._suppress_deployment_handler()

    def _suppress_deployment_handler(self) -> None:
        """CDK's BucketDeployment handler (a singleton of the stack) is CDK's to shape, not ours."""
        for child in Stack.of(self).node.children:
            if not child.node.id.startswith("Custom::CDKBucketDeployment"):
                continue
            suppress(
                child,
                "IAM4",
                "CDK's BucketDeployment handler uses AWSLambdaBasicExecutionRole; CDK creates its role.",
                applies_to=[
                    r"^Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole$"
                ],
            )
            suppress(
                child,
                "IAM5",
                "CDK's BucketDeployment handler reads the asset bucket's objects and writes the console "
                "bucket's objects (object wildcards of those two buckets only, granted by CDK).",
            )
            suppress(child, "L1", "CDK chooses the runtime of its BucketDeployment handler (aws-cdk-lib).")

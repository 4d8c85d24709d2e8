"""CloudFront in front of everything: the page and images from the private bucket through
Origin Access Control, /text2image and /text2image/* to the REST API (the behaviours of
text2image/routes.py), HTTPS only, security headers, and on the API's behaviours the CORS
headers for the pages of text2image:corsOrigins."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.nag import acknowledge
from infra.storage import SITE_PREFIX
from text2image.discovery import CONFIG_FILE
from text2image.paths import WEB
from text2image.routes import (
    ALL_METHODS,
    BEHAVIORS,
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_SECONDS,
    DEFAULT_BEHAVIOR,
    READ_METHODS,
    Behavior,
    Origin,
)
from text2image.site import DEFAULT_PAGE, GENERATED, invalidation_paths

ALLOWED_METHODS = {ALL_METHODS: cloudfront.AllowedMethods.ALLOW_ALL, READ_METHODS: cloudfront.AllowedMethods.ALLOW_GET_HEAD}


def behavior_options(behavior: Behavior, cors_headers: cloudfront.IResponseHeadersPolicy) -> dict[str, Any]:
    """A behaviour of text2image/routes.py as CloudFront behaviour options (all but the origin).
    ``cors_headers``: the response headers policy of the behaviours that answer other origins."""
    found: dict[str, Any] = {
        "allowed_methods": ALLOWED_METHODS[behavior.methods],
        "cache_policy": cloudfront.CachePolicy.CACHING_OPTIMIZED if behavior.cached else cloudfront.CachePolicy.CACHING_DISABLED,
        "response_headers_policy": cors_headers if behavior.cors else cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        # A redirect would lose a POST's body: the API refuses plain HTTP instead.
        "viewer_protocol_policy": cloudfront.ViewerProtocolPolicy.HTTPS_ONLY
        if behavior.origin is Origin.API
        else cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    }
    if behavior.origin is Origin.API:
        # API Gateway routes on its own Host name: the viewer's must not reach it. Every other
        # viewer header goes through, Authorization (the ID token) included: an origin request
        # policy may forward Authorization only where caching is off, as on these behaviours
        # (CACHING_DISABLED; otherwise it would have to be part of the cache key).
        found["origin_request_policy"] = cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
    return found


def cors_headers_policy(scope: Construct, cors_origins: tuple[str, ...]) -> cloudfront.IResponseHeadersPolicy:
    """The security headers everywhere; for listed origins, the CORS headers on the answers of the
    behaviours marked ``cors`` (the API's, and /config.json: where a page on another origin signs in).

    CloudFront adds a response headers policy's headers to every answer it forwards from the
    origin, errors included (API Gateway's 401, 400, 429, 502, 504), and its CORS headers only
    when the request's Origin is listed (echoing that origin, with ``Vary: Origin``); the
    preflight's Allow-Methods, -Headers and Max-Age go on the answer to OPTIONS, which the API
    answers itself (infra/api.py)."""
    if not cors_origins:
        return cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "ApiHeaders",
        comment="text2image API: security headers, CORS for the pages of text2image:corsOrigins",
        cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
            access_control_allow_origins=list(cors_origins),
            access_control_allow_methods=[method.strip() for method in CORS_ALLOW_METHODS.split(",")],
            access_control_allow_headers=[header.strip() for header in CORS_ALLOW_HEADERS.split(",")],
            access_control_max_age=Duration.seconds(CORS_MAX_AGE_SECONDS),
            access_control_expose_headers=[header.strip() for header in CORS_EXPOSE_HEADERS.split(",")],
            access_control_allow_credentials=False,  # the token travels in a header, never a cookie
            origin_override=True,
        ),
        # What the managed SecurityHeadersPolicy of the other behaviours sets, the same values.
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=False),
            frame_options=cloudfront.ResponseHeadersFrameOptions(frame_option=cloudfront.HeadersFrameOption.SAMEORIGIN, override=False),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=False
            ),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(access_control_max_age=Duration.days(365), override=False),
            xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=False),
        ),
    )


class Cdn(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        logs_bucket: s3.IBucket,
        api: apigw.RestApi,
        api_stage: str,
        public_base_url_parameter: str,
        discovery: dict[str, Any],
        cors_origins: tuple[str, ...],
    ) -> None:
        """``discovery``: the document served as /config.json (text2image/discovery.py)."""
        super().__init__(scope, construct_id)
        origin_of = self._build_origins(bucket, api, api_stage)
        self.distribution = self._build_distribution(origin_of, logs_bucket, cors_headers_policy(self, cors_origins))
        self._build_list_bucket_grant(bucket)
        self.url = f"https://{self.distribution.distribution_domain_name}"
        self._build_public_base_url(public_base_url_parameter)
        self._build_site_deployment(bucket, discovery)
        self._acknowledge_findings()

    def _build_origins(self, bucket: s3.IBucket, api: apigw.RestApi, api_stage: str) -> dict[Origin, cloudfront.IOrigin]:
        site = origins.S3BucketOrigin.with_origin_access_control(bucket, origin_path="/" + SITE_PREFIX.rstrip("/"))
        objects = origins.S3BucketOrigin.with_origin_access_control(bucket)
        # The API's regional domain and stage path, built from the REST API's id alone: unlike
        # RestApiOrigin (which refers to the stage), this lets the stage refer back to the
        # distribution (its publicBaseUrl variable) without a dependency cycle.
        stack = Stack.of(self)
        api_origin = origins.HttpOrigin(
            f"{api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}",
            origin_path=f"/{api_stage}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            read_timeout=Duration.seconds(30),
        )
        return {Origin.API: api_origin, Origin.SITE: site, Origin.OBJECTS: objects}

    def _build_distribution(
        self, origin_of: dict[Origin, cloudfront.IOrigin], logs_bucket: s3.IBucket, cors_headers: cloudfront.IResponseHeadersPolicy
    ) -> cloudfront.Distribution:
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="text2image: page, images, manifests and API",
            default_root_object=DEFAULT_PAGE,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
            default_behavior=cloudfront.BehaviorOptions(origin=origin_of[DEFAULT_BEHAVIOR.origin], **behavior_options(DEFAULT_BEHAVIOR, cors_headers)),
            # "Not there yet" must not be cached: a job's images and manifest appear later.
            error_responses=[
                cloudfront.ErrorResponse(http_status=403, ttl=Duration.seconds(0)),
                cloudfront.ErrorResponse(http_status=404, ttl=Duration.seconds(0)),
            ],
        )
        # One at a time, in the declaration's order: CloudFront applies the first that matches.
        for behavior in BEHAVIORS:
            distribution.add_behavior(behavior.path_pattern, origin_of[behavior.origin], **behavior_options(behavior, cors_headers))
        return distribution

    def _build_list_bucket_grant(self, bucket: s3.IBucket) -> None:
        """With ListBucket, S3 answers a missing key with 404 instead of 403: a client polling
        a job's status_url or a planned image URL is told "not there yet", as documented."""
        stack = Stack.of(self)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontTellsMissingObjects",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                conditions={
                    "StringEquals": {"AWS:SourceArn": f"arn:{stack.partition}:cloudfront::{stack.account}:distribution/{self.distribution.distribution_id}"}
                },
            )
        )

    def _build_public_base_url(self, parameter_name: str) -> ssm.StringParameter:
        # Read by the collector at run time (see functions/collect/collect.py for why).
        return ssm.StringParameter(
            self,
            "PublicBaseUrl",
            parameter_name=parameter_name,
            string_value=self.url,
            description="text2image: base URL of the images (the CloudFront distribution)",
        )

    def _build_site_deployment(self, bucket: s3.IBucket, discovery: dict[str, Any]) -> None:
        # /config.json holds CloudFormation's values (the pool's and the client's ids), which
        # the deployment fills in when it writes the file. Serialized here, not by json_data:
        # jsii passes a None as undefined, so the document's nulls ("warm": null) would vanish.
        # The values filled in (region, URL suffix, pool and client ids) have no character JSON
        # escapes, so they go into the text as they are.
        config = s3deploy.Source.data(CONFIG_FILE, json.dumps(discovery))
        s3deploy.BucketDeployment(
            self,
            "Site",
            sources=[s3deploy.Source.asset(str(WEB)), *(s3deploy.Source.data(name, make().decode()) for name, make in GENERATED.items()), config],
            destination_bucket=bucket,
            # Its own prefix: a BucketDeployment prunes its destination, and at the bucket
            # root it would delete every image on each deploy.
            destination_key_prefix=SITE_PREFIX,
            distribution=self.distribution,
            # Every file it uploads (scripts and styles too, or they stay stale for a day).
            distribution_paths=[*invalidation_paths(), f"/{CONFIG_FILE}"],
        )

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: the service is meant to be reachable worldwide, like the original demo.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF web ACL by default (its fixed monthly cost would exceed this demo-sized stack); the API stage throttles.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate does not allow choosing a TLS policy; attach a custom domain to set TLSv1.2_2021.",
        )

"""CloudFront in front of everything: the page and images from the private bucket through
Origin Access Control, /text2image* to the REST API, HTTPS only, security headers."""

from __future__ import annotations

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
from infra.storage import IMAGES_PREFIX, REQUESTS_PREFIX, SITE_PREFIX
from text2image.paths import WEB

DEFAULT_PAGE = "text2image.html"


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
    ) -> None:
        super().__init__(scope, construct_id)
        site = origins.S3BucketOrigin.with_origin_access_control(bucket, origin_path="/" + SITE_PREFIX.rstrip("/"))
        objects = origins.S3BucketOrigin.with_origin_access_control(bucket)
        security_headers = cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS
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
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="text2image: page, images, manifests and API",
            default_root_object=DEFAULT_PAGE,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
            default_behavior=cloudfront.BehaviorOptions(
                origin=site,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=security_headers,
            ),
            additional_behaviors={
                "/text2image*": cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # API Gateway routes on its own Host name: the viewer's must not reach it.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=security_headers,
                ),
                f"/{IMAGES_PREFIX}*": cloudfront.BehaviorOptions(
                    origin=objects,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                    response_headers_policy=security_headers,
                ),
                # A manifest is polled until it exists: never cache it, nor its absence.
                f"/{REQUESTS_PREFIX}*": cloudfront.BehaviorOptions(
                    origin=objects,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    response_headers_policy=security_headers,
                ),
            },
            # "Not there yet" must not be cached: a job's images and manifest appear later.
            error_responses=[
                cloudfront.ErrorResponse(http_status=403, ttl=Duration.seconds(0)),
                cloudfront.ErrorResponse(http_status=404, ttl=Duration.seconds(0)),
            ],
        )
        # With ListBucket, S3 answers a missing key with 404 instead of 403: a client polling
        # a job's status_url or a planned image URL is told "not there yet", as documented.
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
        self.url = f"https://{self.distribution.distribution_domain_name}"
        # Read by the collector at run time (see functions/collect/collect.py for why).
        self.public_base_url = ssm.StringParameter(
            self,
            "PublicBaseUrl",
            parameter_name=public_base_url_parameter,
            string_value=self.url,
            description="text2image: base URL of the images (the CloudFront distribution)",
        )
        s3deploy.BucketDeployment(
            self,
            "Site",
            sources=[s3deploy.Source.asset(str(WEB))],
            destination_bucket=bucket,
            # Its own prefix: a BucketDeployment prunes its destination, and at the bucket
            # root it would delete every image on each deploy.
            destination_key_prefix=SITE_PREFIX,
            distribution=self.distribution,
            distribution_paths=["/", f"/{DEFAULT_PAGE}"],
        )
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

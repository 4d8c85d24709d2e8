"""One private bucket for the site, the images, the manifests and the prompt drop folder,
and a bucket for access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

SITE_PREFIX = "site/"
IMAGES_PREFIX = "images/"
REQUESTS_PREFIX = "requests/"
PROMPTS_PREFIX = "prompts/"


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, image_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # CloudFront standard logging writes with ACLs; S3 server access logs need none.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            event_bridge_enabled=True,  # prompts/*.json -> EventBridge -> the workflow
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="s3/",
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireImages", prefix=IMAGES_PREFIX, expiration=Duration.days(image_retention_days)),
                s3.LifecycleRule(id="ExpireManifests", prefix=REQUESTS_PREFIX, expiration=Duration.days(image_retention_days)),
                s3.LifecycleRule(id="AbortUploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

"""One private bucket for the site, the images, the manifests, the prompt drop folder and the
batches, and a bucket for access logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

SITE_PREFIX = "site/"
IMAGES_PREFIX = "images/"
REQUESTS_PREFIX = "requests/"
PROMPTS_PREFIX = "prompts/"
# Bulk batches: batches/inbox/ (the S3 drop), batches/<batch_id>/ (input.jsonl, status.json, results/).
BATCHES_PREFIX = "batches/"


def private_bucket(scope: Construct, construct_id: str, **props: Any) -> s3.Bucket:
    """The baseline of every bucket of this stack: no public access, SSE-S3, TLS only, kept
    when the stack is deleted."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.RETAIN,
        **props,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, image_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.logs = private_bucket(
            self,
            "AccessLogs",
            # CloudFront standard logging writes with ACLs; S3 server access logs need none.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            event_bridge_enabled=True,  # prompts/*.json -> EventBridge -> the workflow
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="s3/",
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireImages", prefix=IMAGES_PREFIX, expiration=Duration.days(image_retention_days)),
                s3.LifecycleRule(id="ExpireManifests", prefix=REQUESTS_PREFIX, expiration=Duration.days(image_retention_days)),
                # A batch's status lists its images' URLs: it goes with them, its input and results too.
                s3.LifecycleRule(id="ExpireBatches", prefix=BATCHES_PREFIX, expiration=Duration.days(image_retention_days)),
                s3.LifecycleRule(id="AbortUploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
        )

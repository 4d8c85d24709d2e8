"""Where the stack can work, told at synth for a stack with a region.

The page and the API are served through CloudFront with Origin Access Control to the bucket:
outside the commercial partition that cannot deploy or cannot serve. Per-region gaps inside it
(a resource type a region lacks) are CDK's CloudFormation Validate findings, made errors by
cdk.json's ``@aws-cdk/core:validateAgainstDefaultRules``; the Powertools layer
(infra/powertools.py) and the Hugging Face image (infra/endpoints.py) check their own regions.
An environment-agnostic stack learns its region at deploy, where CloudFormation refuses what a
region lacks before creating anything.
"""

from __future__ import annotations

from aws_cdk import Stack, Token
from aws_cdk.region_info import RegionInfo

# Why the CDN cannot work outside the commercial partition (AWS's China and GovCloud guides).
CDN_GAPS = {
    "aws-cn": "CloudFront in China has no Origin Access Control and cannot serve from its default *.cloudfront.cn domain "
    "(an ICP-registered alternate domain name is required)",
    "aws-us-gov": "CloudFront is not offered in AWS GovCloud (US)",
}


def check_region(stack: Stack) -> None:
    if Token.is_unresolved(stack.region):
        return
    partition = RegionInfo.get(stack.region).partition
    if partition is None:
        raise ValueError(f"region {stack.region!r} is unknown to this CDK version: it cannot tell whether the stack can work there")
    if partition != "aws":
        gap = CDN_GAPS.get(partition, f"CloudFront is not offered in the {partition} partition")
        raise ValueError(
            f"the stack cannot work in {stack.region} ({partition}): it serves its page and API through CloudFront with Origin Access Control, and {gap}"
        )

"""The public Powertools for AWS Lambda (Python) layer for the stack's partition and region.

Where Powertools publishes it (its docs, getting-started/install.md, "Lambda Layer"):

- every commercial region, from account 017000801446, with one version number per release
  for every runtime (version 36 carries 3.31.1, the release pinned in pyproject.toml);
- China (cn-north-1 only) and GovCloud from other accounts, GovCloud with numbers of its own.

The stack works only in the commercial partition (CloudFront with Origin Access Control:
infra/regions.py refuses the others at synth), so only the commercial account is used.
Anywhere it publishes nothing, synth fails and says how to name a layer
(``powertoolsLayerArn``) rather than guess one: a guessed ARN fails at CreateFunction, or runs
another Powertools than the tests.
"""

from __future__ import annotations

from aws_cdk import CfnMapping, Stack, Token
from aws_cdk.region_info import RegionInfo

from text2image.manifest import LAMBDA_PYTHON

COMMERCIAL_ACCOUNT = "017000801446"
LAYER_NAME = f"AWSLambdaPowertoolsPythonV3-python{LAMBDA_PYTHON.replace('.', '')}-arm64"


def layer_account(region: str) -> str | None:
    """The account that publishes the layer in ``region`` with the commercial version numbers."""
    return COMMERCIAL_ACCOUNT if RegionInfo.get(region).partition == "aws" else None


def layer_arn(stack: Stack, version: int, override: str = "") -> str:
    if override:
        return override
    if Token.is_unresolved(stack.region):
        account = _deploy_time_account(stack)
    else:
        found = layer_account(stack.region)
        if found is None:
            raise ValueError(
                f"Powertools publishes no {LAYER_NAME} layer with the commercial version numbers in {stack.region}: "
                "pass -c text2image:powertoolsLayerArn=<the ARN of a layer of the aws-lambda-powertools release pinned in pyproject.toml, "
                f"for Python {LAMBDA_PYTHON} on arm64, in {stack.region}>"
            )
        account = found
    return f"arn:{stack.partition}:lambda:{stack.region}:{account}:layer:{LAYER_NAME}:{version}"


def _deploy_time_account(stack: Stack) -> str:
    """An environment-agnostic stack learns its region at deploy: a mapping holds the account of
    each region with a layer, as CDK's own regional facts do. In any other region (China,
    GovCloud) CloudFormation refuses the template before creating anything
    (``Unable to get mapping for PowertoolsLayer::<region>::account``)."""
    published = {info.name: {"account": account} for info in RegionInfo.regions if (account := layer_account(info.name))}
    return CfnMapping(stack, "PowertoolsLayer", mapping=published).find_in_map(stack.region, "account")

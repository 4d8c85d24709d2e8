"""The public Powertools for AWS Lambda (Python) layer for the stack's partition and region.

Where Powertools publishes it (its docs, getting-started/install.md, "Lambda Layer"):

- every commercial region, from account 017000801446, with one version number per release
  for every runtime (version 36 carries 3.31.1, the release pinned in pyproject.toml);
- China: cn-north-1 only, from account 498634801083, with the same version numbers;
- GovCloud: copies made by a manual workflow in one account per region (us-gov-east-1
  165087284144, us-gov-west-1 165093116878), numbered on their own: the commercial number
  names nothing certain there.

Anywhere else synth fails and says how to name a layer (``powertoolsLayerArn``) rather than
guess one: a guessed ARN fails at CreateFunction, or runs another Powertools than the tests.
(The stack as a whole works only in the commercial partition: infra/regions.py.)
"""

from __future__ import annotations

from collections.abc import Iterator

from aws_cdk import CfnMapping, Stack, Token
from aws_cdk.region_info import RegionInfo

from text2image.manifest import LAMBDA_PYTHON

COMMERCIAL_ACCOUNT = "017000801446"
CHINA_ACCOUNTS = {"cn-north-1": "498634801083"}
LAYER_NAME = f"AWSLambdaPowertoolsPythonV3-python{LAMBDA_PYTHON.replace('.', '')}-arm64"
# The context key CDK reads for the partitions an environment-agnostic app may deploy to.
TARGET_PARTITIONS = "@aws-cdk/core:target-partitions"


def layer_account(region: str) -> str | None:
    """The account that publishes the layer in ``region`` with the commercial version numbers."""
    partition = RegionInfo.get(region).partition
    if partition == "aws":
        return COMMERCIAL_ACCOUNT
    if partition == "aws-cn":
        return CHINA_ACCOUNTS.get(region)
    return None


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
    each region with a layer, in the app's target partitions (cdk.json), as CDK's own regional
    facts do. In any other region CloudFormation refuses the template before creating anything
    (``Unable to get mapping for PowertoolsLayer::<region>::account``)."""
    mapping = CfnMapping(stack, "PowertoolsLayer", mapping={region: {"account": account} for region, account in _published(stack)})
    return mapping.find_in_map(stack.region, "account")


def _published(stack: Stack) -> Iterator[tuple[str, str]]:
    partitions = stack.node.try_get_context(TARGET_PARTITIONS)
    for info in RegionInfo.regions:
        account = layer_account(info.name)
        if account is not None and (partitions is None or info.partition in partitions):
            yield info.name, account

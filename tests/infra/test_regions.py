"""Partitions and regions: what the synthesized templates name, and where synth refuses,
saying why, a region the stack cannot work in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, Environment, Stack
from aws_cdk.assertions import Template
from infra_synth import Synth

from infra.config import StackConfig
from infra.powertools import COMMERCIAL_ACCOUNT, LAYER_NAME, layer_arn
from infra.stack import Text2ImageStack
from text2image.deploy_settings import cdk_context

CREATED = {"createEndpoints": "true", "endpointModelDataUrl": "s3://my-models/sd/model.tar.gz"}


def cli_app(**context: object) -> App:
    """An app as `cdk synth` builds it: cdk.json's whole context (feature flags and target
    partitions included), then the text2image:* overrides."""
    return App(context=cdk_context() | {f"text2image:{key}": value for key, value in context.items()})


def synth_in(region: str | None, **context: object) -> Template:
    app = cli_app(**context)
    stack = Text2ImageStack(app, "Text2Image", config=StackConfig.from_context(app.node), env=Environment(region=region) if region else None)
    app.synth()
    return Template.from_stack(stack)


def functions(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for n, r in template.to_json()["Resources"].items() if r["Type"] == "AWS::Lambda::Function" and n.startswith("Functions")]


@pytest.mark.parametrize(
    ("region", "why"),
    [
        ("cn-north-1", "CloudFront in China has no Origin Access Control"),
        ("cn-northwest-1", "CloudFront in China has no Origin Access Control"),
        ("us-gov-west-1", "CloudFront is not offered in AWS GovCloud"),
        ("us-gov-east-1", "CloudFront is not offered in AWS GovCloud"),
    ],
)
def test_synth_refuses_china_and_govcloud_saying_why(region: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"cannot work in {region} .*{why}"):
        synth_in(region)


def test_synth_refuses_a_region_this_cdk_does_not_know() -> None:
    with pytest.raises(ValueError, match="'xx-nowhere-1' is unknown"):
        synth_in("xx-nowhere-1")


def test_an_environment_agnostic_template_learns_partition_and_layer_account_at_deploy(synth: Synth) -> None:
    template = synth.template(synth.default).to_json()
    accounts = {region: entry["account"] for region, entry in template["Mappings"]["PowertoolsLayer"].items()}
    assert accounts["us-east-1"] == accounts["eu-west-1"] == COMMERCIAL_ACCOUNT
    # Outside the commercial partition: CloudFormation refuses the template there.
    assert not {"cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1"} & set(accounts)
    for props in functions(synth.template(synth.default)):
        (layer,) = props["Layers"]
        assert layer == {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":lambda:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Fn::FindInMap": ["PowertoolsLayer", {"Ref": "AWS::Region"}, "account"]},
                    f":layer:{LAYER_NAME}:36",
                ],
            ]
        }


@pytest.mark.parametrize(("region", "account"), [("us-west-2", COMMERCIAL_ACCOUNT), ("ap-southeast-2", COMMERCIAL_ACCOUNT)])
def test_the_layer_account_is_the_publisher_in_the_regions_partition(region: str, account: str) -> None:
    stack = Stack(App(), "Probe", env=Environment(region=region))
    assert stack.resolve(layer_arn(stack, 36)) == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":lambda:{region}:{account}:layer:{LAYER_NAME}:36"]]}


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "us-iso-east-1"])
def test_no_layer_is_guessed_where_powertools_publishes_none_with_these_versions(region: str) -> None:
    stack = Stack(App(), "Probe", env=Environment(region=region))
    with pytest.raises(ValueError, match=f"no {LAYER_NAME} layer .* in {region}: pass -c text2image:powertoolsLayerArn="):
        layer_arn(stack, 36)
    own = f"arn:aws-us-gov:lambda:{region}:123456789012:layer:powertools:3"
    assert layer_arn(stack, 36, own) == own


def test_a_named_layer_replaces_the_public_one() -> None:
    own = "arn:aws:lambda:eu-west-1:123456789012:layer:my-powertools:7"
    for props in functions(synth_in("eu-west-1", powertoolsLayerArn=own)):
        assert props["Layers"] == [own]


def test_created_endpoints_in_a_region_without_a_hugging_face_image_account_fail_synth_saying_what_to_pass() -> None:
    # af-south-1: CDK's region facts name no Deep Learning Containers account there.
    with pytest.raises(ValueError, match=r"no Deep Learning Containers account for af-south-1.*-c text2image:endpointImageUri="):
        synth_in("af-south-1", **CREATED)
    image = "123456789012.dkr.ecr.af-south-1.amazonaws.com/my-diffusers:1"
    # On instances: af-south-1 has no AWS::SageMaker::InferenceComponent to scale to zero with
    # (tests/infra/test_scale_to_zero_stack.py).
    (model,) = synth_in("af-south-1", **CREATED, endpointImageUri=image, endpointScaleToZero="false").find_resources("AWS::SageMaker::Model").values()
    assert model["Properties"]["PrimaryContainer"]["Image"] == image


def test_an_environment_agnostic_stack_looks_the_image_account_up_at_deploy() -> None:
    template = synth_in(None, **CREATED).to_json()
    (model,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model")
    image = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
    assert image[0] == {"Fn::FindInMap": ["DlcRepositoryAccountMap", {"Ref": "AWS::Region"}, "value"]}
    assert "af-south-1" not in template["Mappings"]["DlcRepositoryAccountMap"]  # refused there by CloudFormation


VALIDATE_FLAG = "@aws-cdk/core:validateAgainstDefaultRules"


@pytest.mark.parametrize("enforced", [True, False], ids=["cdk.json", "flag-off"])
def test_cdk_json_makes_cloudformation_validate_findings_fail_synth(tmp_path: Path, enforced: bool) -> None:
    """CDK runs CloudFormation Validate on every synth (schemas, resource types, region
    availability) and only warns unless this flag is true: cdk.json sets it, so a template
    CloudFormation would refuse fails `cdk synth` instead. Shown with a resource type no
    CloudFormation has (rule F3006), which does not depend on CDK's regional data."""
    assert cdk_context()[VALIDATE_FLAG] is True
    app = App(outdir=str(tmp_path), context=cdk_context() | ({} if enforced else {VALIDATE_FLAG: False}))
    CfnResource(Stack(app, "Probe", env=Environment(region="us-east-1")), "MadeUp", type="AWS::Text2Image::MadeUp")
    if enforced:
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            app.synth()
    else:
        app.synth()  # the same finding, only warned about
    report = (tmp_path / "validation-report.json").read_text(encoding="utf-8")
    assert "Unknown resource type 'AWS::Text2Image::MadeUp'" in report

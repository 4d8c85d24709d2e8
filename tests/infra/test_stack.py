"""Fine-grained checks of the synthesized template (one synth per session, conftest.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Match, Template
from infra_synth import Synth
from template_queries import of_type

from infra.powertools import COMMERCIAL_ACCOUNT, LAYER_NAME
from text2image import manifest
from text2image.deploy_settings import context_defaults
from text2image.paths import ENDPOINT_CODE, REQUEST_SCHEMA, STATE_MACHINE

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"


def only(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    (props,) = of_type(resources, kind).values()
    return props


def site_bucket(resources: dict[str, Any]) -> dict[str, Any]:
    return next(p for n, p in of_type(resources, "AWS::S3::Bucket").items() if n.startswith("StorageBucket"))


def statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for props in of_type(resources, "AWS::IAM::Policy").values():
        found += props["PolicyDocument"]["Statement"]
    for props in of_type(resources, "AWS::IAM::Role").values():
        for policy in props.get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def single_actions(policy: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Action"]: s for s in policy if isinstance(s["Action"], str)}


def request_machine(resources: dict[str, Any]) -> dict[str, Any]:
    """The request workflow's state machine (the batch workflow's: test_batches_stack.py)."""
    (props,) = [p for name, p in of_type(resources, "AWS::StepFunctions::StateMachine").items() if name.startswith("WorkflowStateMachine")]
    return props


def policy_of(resources: dict[str, Any], function_id_part: str) -> list[dict[str, Any]]:
    (props,) = [p for name, p in of_type(resources, "AWS::IAM::Policy").items() if function_id_part in name]
    result: list[dict[str, Any]] = props["PolicyDocument"]["Statement"]
    return result


# -- storage ---------------------------------------------------------------------------


def test_the_bucket_is_private_encrypted_owner_enforced_and_tls_only(resources: dict[str, Any], template: Template) -> None:
    bucket = site_bucket(resources)
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (notifications,) = [r["Properties"] for r in resources.values() if r["Type"] == "Custom::S3BucketNotifications"]
    assert notifications["BucketName"] == {"Ref": "StorageBucket5CB7C8EA"}
    assert "EventBridgeConfiguration" in notifications["NotificationConfiguration"]
    assert "LoggingConfiguration" in bucket
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Action": "s3:*"})]
                )
            }
        },
    )


def test_images_and_manifests_expire(resources: dict[str, Any]) -> None:
    rules = {rule.get("Prefix"): rule for rule in site_bucket(resources)["LifecycleConfiguration"]["Rules"]}
    assert rules["images/"]["ExpirationInDays"] == 30 and rules["requests/"]["ExpirationInDays"] == 30
    assert "prompts/" not in rules and "site/" not in rules


# -- CDN -------------------------------------------------------------------------------


def test_cloudfront_serves_the_page_through_oac_https_only(resources: dict[str, Any]) -> None:
    config = only(resources, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["DefaultRootObject"] == "text2image.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == SECURITY_HEADERS
    s3_origins = [o for o in config["Origins"] if "S3OriginConfig" in o]
    assert s3_origins and all("OriginAccessControlId" in o for o in s3_origins)
    assert {o.get("OriginPath") for o in s3_origins} == {"/site", None}
    for control in of_type(resources, "AWS::CloudFront::OriginAccessControl").values():
        oac = control["OriginAccessControlConfig"]
        assert oac["SigningBehavior"] == "always" and oac["SigningProtocol"] == "sigv4" and oac["OriginAccessControlOriginType"] == "s3"


def test_the_api_behavior_is_uncached_all_methods_without_the_host_header(resources: dict[str, Any]) -> None:
    behaviors = {b["PathPattern"]: b for b in only(resources, "AWS::CloudFront::Distribution")["DistributionConfig"]["CacheBehaviors"]}
    api = behaviors["/text2image"]
    assert {**behaviors["/text2image/*"], "PathPattern": "/text2image"} == api
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert behaviors["/requests/*"]["CachePolicyId"] == CACHING_DISABLED
    origins = {o["Id"]: o for o in only(resources, "AWS::CloudFront::Distribution")["DistributionConfig"]["Origins"]}
    api_origin = origins[api["TargetOriginId"]]
    assert api_origin["OriginPath"] == "/prod"
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api_origin["CustomOriginConfig"]["OriginReadTimeout"] == 30
    assert api_origin["DomainName"]["Fn::Join"][1][0] == {"Ref": "ApiRestApiE35FEAFE"}
    assert all(b["ResponseHeadersPolicyId"] == SECURITY_HEADERS for b in behaviors.values())


def test_missing_objects_are_not_cached(resources: dict[str, Any]) -> None:
    errors = only(resources, "AWS::CloudFront::Distribution")["DistributionConfig"]["CustomErrorResponses"]
    assert {(e["ErrorCode"], e["ErrorCachingMinTTL"]) for e in errors} == {(403, 0), (404, 0)}


def test_the_page_is_deployed_under_its_own_prefix(resources: dict[str, Any]) -> None:
    (deployment,) = [r["Properties"] for r in resources.values() if r["Type"] == "Custom::CDKBucketDeployment"]
    assert deployment["DestinationBucketKeyPrefix"] == "site/"
    assert deployment.get("Prune", True) is True  # safe only because of the prefix


def test_the_public_base_url_parameter_holds_the_distribution_domain(resources: dict[str, Any]) -> None:
    parameter = only(resources, "AWS::SSM::Parameter")
    assert parameter["Name"] == "/text2image/Text2Image/public-base-url"
    assert parameter["Value"]["Fn::Join"][1][0] == "https://"
    collect = next(p for n, p in of_type(resources, "AWS::Lambda::Function").items() if "collect" in n)
    assert collect["Environment"]["Variables"]["PUBLIC_BASE_URL_PARAMETER"] == "/text2image/Text2Image/public-base-url"


# -- API -------------------------------------------------------------------------------


def post_methods(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """POST methods by the action their integration calls."""
    methods = [p for p in of_type(resources, "AWS::ApiGateway::Method").values() if p["HttpMethod"] == "POST"]
    return {m["Integration"]["Uri"]["Fn::Join"][1][-1].rsplit("/", 1)[1]: m for m in methods}


def test_both_routes_start_the_workflow_with_the_same_schema_model_and_validator(resources: dict[str, Any]) -> None:
    methods = {action: m for action, m in post_methods(resources).items() if m["Integration"]["Type"] == "AWS"}  # not POST batches' Lambda proxy
    assert set(methods) == {"StartSyncExecution", "StartExecution"}
    model_name = {"Ref": next(iter(of_type(resources, "AWS::ApiGateway::Model")))}
    (validator_id,) = of_type(resources, "AWS::ApiGateway::RequestValidator")
    for method in methods.values():
        integration = method["Integration"]
        assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
        assert integration["PassthroughBehavior"] == "NEVER"
        assert "application/json" in integration["RequestTemplates"]
        assert method["RequestValidatorId"] == {"Ref": validator_id}
        assert method["RequestModels"] == {"application/json": model_name}
        assert method["ApiKeyRequired"] is False
    model = only(resources, "AWS::ApiGateway::Model")
    assert model["Schema"] == json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    validator = only(resources, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True
    assert not of_type(resources, "AWS::ApiGateway::ApiKey")
    paths = {p["PathPart"] for p in of_type(resources, "AWS::ApiGateway::Resource").values()}
    assert paths == {"text2image", "jobs", "history", "batches"}  # GET /text2image/history with sign-in (test_auth.py), POST batches (test_batches_stack.py)
    assert [r["StatusCode"] for r in methods["StartExecution"]["MethodResponses"]] == ["202", "500"]


def test_the_stage_knows_the_public_base_url_for_the_jobs_answer(resources: dict[str, Any]) -> None:
    variables = only(resources, "AWS::ApiGateway::Stage")["Variables"]
    assert variables["publicBaseUrl"]["Fn::Join"][1] == ["https://", {"Fn::GetAtt": ["CdnDistribution149FA6C8", "DomainName"]}]


def test_cloudfront_may_list_so_missing_objects_are_404(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "s3:ListBucket", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Effect": "Allow"})]
                )
            }
        },
    )


def test_the_integration_role_may_only_start_this_state_machine(resources: dict[str, Any]) -> None:
    (statement,) = policy_of(resources, "StartExecutionRole")
    assert statement["Action"] == ["states:StartSyncExecution", "states:StartExecution"]
    assert statement["Resource"] == {"Ref": "WorkflowStateMachine8F1B1C15"}


def test_the_stage_throttles_logs_and_traces(resources: dict[str, Any]) -> None:
    stage = only(resources, "AWS::ApiGateway::Stage")
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (1, 2)  # sized to cdk.json's GPUs (text2image/throttling.py)
    assert settings["DataTraceEnabled"] is False
    assert stage["TracingEnabled"] is True and "DestinationArn" in stage["AccessLogSetting"]


def test_api_gateway_errors_use_the_error_shape(resources: dict[str, Any]) -> None:
    responses = {p["ResponseType"]: p for p in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()}
    assert responses["BAD_REQUEST_BODY"]["StatusCode"] == "400"
    assert json.loads(responses["THROTTLED"]["ResponseTemplates"]["application/json"])["error"] == "TooManyRequests"
    assert responses["THROTTLED"]["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert responses["INTEGRATION_TIMEOUT"]["StatusCode"] == "504"


def test_the_optional_api_key_adds_a_key_and_usage_plan(created_template: Template) -> None:
    created_template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    methods = post_methods(created_template.to_json()["Resources"])
    assert [m["ApiKeyRequired"] for m in methods.values()] == [True, True, True]  # both workflow routes and warm (this stack scales to zero)
    resources = created_template.to_json()["Resources"]
    (settings,) = only(resources, "AWS::ApiGateway::Stage")["MethodSettings"]
    # At the stage's limits: sized to gen-a, gen-b of up to 3 instances and 4 images, 1.5/s, burst 3.
    assert only(resources, "AWS::ApiGateway::UsagePlan")["Throttle"] == {"RateLimit": 1.5, "BurstLimit": 3}
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (1.5, 3)


# -- workflow --------------------------------------------------------------------------


def test_the_state_machine_is_express_logged_without_data_and_traced(resources: dict[str, Any]) -> None:
    machine = request_machine(resources)
    assert machine["StateMachineType"] == "EXPRESS"
    assert machine["LoggingConfiguration"]["Level"] == "ALL" and machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_the_deployed_definition_is_the_asl_file_with_every_placeholder_substituted(resources: dict[str, Any], synth: Synth) -> None:
    machine = request_machine(resources)
    deployed = (synth.outdir / f"asset.{machine['DefinitionS3Location']['Key']}").read_text(encoding="utf-8")
    source = STATE_MACHINE.read_text(encoding="utf-8")
    assert json.loads(deployed) == json.loads(source)
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", source))
    substitutions = dict(machine["DefinitionSubstitutions"])
    assert placeholders == set(substitutions) == {manifest.PARTITION_PLACEHOLDER, *(f.arn_placeholder for f in manifest.WORKFLOW_LAMBDAS)}
    # The partition CloudFormation deploys to, never a literal "aws".
    assert substitutions.pop(manifest.PARTITION_PLACEHOLDER) == {"Ref": "AWS::Partition"}
    workflow = {f.handler for f in manifest.WORKFLOW_LAMBDAS}
    assert {v["Fn::GetAtt"][0] for v in substitutions.values()} == {n for n, p in project_functions(resources).items() if p["Handler"] in workflow}
    assert json.loads(source)["TimeoutSeconds"] == 300


def test_the_workflow_role_may_invoke_only_the_three_functions(resources: dict[str, Any]) -> None:
    invoke = [s for s in policy_of(resources, "WorkflowStateMachineRole") if s["Action"] == "lambda:InvokeFunction"]
    (statement,) = invoke
    workflow = {f.handler for f in manifest.WORKFLOW_LAMBDAS}
    assert sorted(r["Fn::GetAtt"][0] for r in statement["Resource"]) == sorted(n for n, p in project_functions(resources).items() if p["Handler"] in workflow)


# -- Lambdas ---------------------------------------------------------------------------


def project_functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: p for n, p in of_type(resources, "AWS::Lambda::Function").items() if n.startswith("Functions")}


def test_functions_run_the_manifests_python_on_arm64_with_its_powertools_layer_and_tracing(resources: dict[str, Any], created_template: Template) -> None:
    functions = project_functions(resources)
    assert len(functions) == 4  # the workflow's three and, with sign-in, the history
    assert LAYER_NAME.split("-")[1:] == [manifest.LAMBDA_RUNTIME.replace(".", ""), "arm64"]  # the layer built for that runtime
    for props in functions.values():
        assert props["Runtime"] == manifest.LAMBDA_RUNTIME and props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        (layer,) = props["Layers"]
        assert layer["Fn::Join"][1][-1] == f":layer:{LAYER_NAME}:36"
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "text2image"
    # A stack with a region names the region's layer at synth (eu-west-1: the commercial account).
    for props in project_functions(created_template.to_json()["Resources"]).values():
        (layer,) = props["Layers"]
        assert layer["Fn::Join"][1][-1] == f":lambda:eu-west-1:{COMMERCIAL_ACCOUNT}:layer:{LAYER_NAME}:36"
    by_handler = {p["Handler"]: p for p in functions.values()}
    deployed = (*manifest.WORKFLOW_LAMBDAS, manifest.HISTORY)
    assert set(by_handler) == {f.handler for f in deployed}
    for function in deployed:
        assert (by_handler[function.handler]["MemorySize"], by_handler[function.handler]["Timeout"]) == (function.memory_mb, function.timeout_seconds)
    assert by_handler[manifest.INVOKE_ENDPOINT.handler]["Environment"]["Variables"]["ENDPOINT_READ_TIMEOUT"] == "70"


def test_no_secrets_in_function_environments(resources: dict[str, Any]) -> None:
    for props in project_functions(resources).values():
        for name in props["Environment"]["Variables"]:
            assert not re.search(r"SECRET|PASSWORD|TOKEN|KEY$|CREDENTIAL", name), name


def test_invoke_endpoint_may_call_only_the_configured_endpoints_and_write_only_images(resources: dict[str, Any]) -> None:
    policy = policy_of(resources, "invokeendpointrole")
    by_action = single_actions(policy)
    endpoints = as_list(by_action["sagemaker:InvokeEndpoint"]["Resource"])
    assert [e["Fn::Join"][1][-1] for e in endpoints] == [":endpoint/sd-1", ":endpoint/sd-2"]
    assert by_action["s3:PutObject"]["Resource"]["Fn::Join"][1][-1] == "/images/*"


def test_prepare_reads_only_prompts_and_collect_writes_only_manifests(resources: dict[str, Any]) -> None:
    prepare = single_actions(policy_of(resources, "preparerole"))
    assert prepare["s3:GetObject"]["Resource"]["Fn::Join"][1][-1] == "/prompts/*"
    collect = single_actions(policy_of(resources, "collectrole"))
    assert collect["s3:PutObject"]["Resource"]["Fn::Join"][1][-1] == "/requests/*"
    assert collect["ssm:GetParameter"]["Resource"]["Fn::Join"][1][-1] == ":parameter/text2image/Text2Image/public-base-url"


def test_no_wildcard_actions_or_resources_on_sagemaker_or_s3(resources: dict[str, Any], created_template: Template) -> None:
    for every in (resources, created_template.to_json()["Resources"]):
        for statement in statements(every):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert action not in ("*", "s3:*", "sagemaker:*"), statement
                if action.startswith(("sagemaker:", "s3:Put", "s3:Get")) and statement.get("Resource") == "*":
                    raise AssertionError(f"{action} on every resource: {statement}")


# -- events ----------------------------------------------------------------------------


def test_prompt_files_and_custom_events_start_the_workflow_with_retries_and_a_dlq(resources: dict[str, Any]) -> None:
    rules = of_type(resources, "AWS::Events::Rule")
    patterns = sorted(json.dumps(r["EventPattern"], sort_keys=True) for r in rules.values())
    assert any('"wildcard": "prompts/*.json"' in p and '"aws.s3"' in p for p in patterns)
    assert any('"Text2Image Request"' in p and '"text2image"' in p for p in patterns)
    workflow_rules = [rule for rule in rules.values() if "batches/inbox/" not in json.dumps(rule["EventPattern"])]  # that one: test_batches_stack.py
    assert len(workflow_rules) == 2
    for rule in workflow_rules:
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": "WorkflowStateMachine8F1B1C15"}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4 and "DeadLetterConfig" in target
        assert "Input" not in target and "InputPath" not in target  # the whole event: Prepare derives the request id from it
    queue = only(resources, "AWS::SQS::Queue")
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 24 * 3600


# -- endpoints -------------------------------------------------------------------------


def test_existing_endpoints_by_default(resources: dict[str, Any]) -> None:
    assert not of_type(resources, "AWS::SageMaker::Endpoint")


def test_created_endpoints_run_the_configured_model_on_the_configured_instances(created_template: Template) -> None:
    """How they scale (to zero by default, or on instances): tests/infra/test_scale_to_zero_stack.py."""
    resources = created_template.to_json()["Resources"]
    endpoints = of_type(resources, "AWS::SageMaker::Endpoint")
    assert sorted(p["EndpointName"] for p in endpoints.values()) == ["gen-a", "gen-b"]
    for config in of_type(resources, "AWS::SageMaker::EndpointConfig").values():
        (variant,) = config["ProductionVariants"]
        assert variant["InstanceType"] == "ml.g6.xlarge"
    model = only(resources, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://my-models/sd/model.tar.gz"


def test_the_diffusers_preset_runs_the_artifact_in_the_regions_hugging_face_container(created_template: Template) -> None:
    container = only(created_template.to_json()["Resources"], "AWS::SageMaker::Model")["PrimaryContainer"]
    tag = context_defaults()["endpointImageTag"]
    # eu-west-1 is the stack's region: the Deep Learning Containers account resolves at synth.
    repository = f"/huggingface-pytorch-inference:{tag}"
    assert container["Image"] == {"Fn::Join": ["", ["763104351884.dkr.ecr.eu-west-1.", {"Ref": "AWS::URLSuffix"}, repository]]}
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SD_MAX_IMAGES_PER_CALL": str(context_defaults()["maxImagesPerCall"]),
        "SD_MAX_PIXELS_PER_CALL": str(context_defaults()["maxPixelsPerCall"]),
        "SD_MODEL_ID": "stabilityai/sd-turbo",
        "SD_SCHEDULER": "euler_a",
    }
    assert (ENDPOINT_CODE / container["Environment"]["SAGEMAKER_PROGRAM"]).is_file()


# -- outputs ---------------------------------------------------------------------------


def test_outputs(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {"WebUrl", "ApiUrl", "StateMachineArn", "BucketName", "CurlExample"} <= set(outputs)
    curl = json.dumps(outputs["CurlExample"]["Value"])
    assert "curl -s -X POST https://" in curl and "/text2image" in curl

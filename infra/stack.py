"""The text2image stack: storage, functions, workflow, API, CDN, events, endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.api import STAGE, Api
from infra.auth import Auth
from infra.batches import Batches
from infra.cdn import Cdn
from infra.config import StackConfig
from infra.endpoints import Endpoints
from infra.events import Events
from infra.functions import Functions
from infra.nag import acknowledge, as_nag_prints
from infra.observability import Observability
from infra.regions import check_region
from infra.storage import Storage
from infra.workflow import Workflow
from text2image.discovery import config_document


class Text2ImageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="text2image: parallel Stable Diffusion over SageMaker endpoints", **kwargs)
        check_region(self)
        # A fixed name, known before the distribution exists: this is what breaks the cycle
        # distribution -> API -> state machine -> collector -> distribution.
        public_base_url_parameter = f"/text2image/{construct_id}/public-base-url"
        storage = Storage(self, "Storage", image_retention_days=config.image_retention_days)
        self.endpoints = Endpoints(self, "Endpoints", config=config)
        functions = Functions(
            self,
            "Functions",
            config=config,
            bucket=storage.bucket,
            public_base_url_parameter=public_base_url_parameter,
            components=self.endpoints.components,
        )
        workflow = Workflow(
            self,
            "Workflow",
            prepare=functions.prepare,
            invoke_endpoint=functions.invoke_endpoint,
            collect=functions.collect,
            log_level=config.workflow_log_level,
        )
        batches = Batches(
            self,
            "Batches",
            config=config,
            bucket=storage.bucket,
            layer=functions.layer,
            common_env=functions.common_env,
            public_base_url_parameter=public_base_url_parameter,
            request_state_machine=workflow.state_machine,
            usage_table=functions.usage_table,
            quota_env=functions.quota_env,
        )
        auth = (
            Auth(
                self,
                "Auth",
                sign_up_domains=config.sign_up_domains,
                powertools_layer_version=config.powertools_layer_version,
                powertools_layer_arn=config.powertools_layer_arn,
            )
            if config.signed_in
            else None
        )
        api = Api(
            self,
            "Api",
            state_machine=workflow.state_machine,
            throttle_rate=config.throttle_rate,
            throttle_burst=config.throttle_burst,
            api_key=config.api_key,
            default_num_images=config.default_num_images,
            logging=config.api_logging,
            user_pool=auth.user_pool if auth is not None else None,
            client_id=auth.client.user_pool_client_id if auth is not None else None,
            history=functions.history,
            warm=functions.warm,
            batches=batches.submit,
            preflight=bool(config.cors_origins),
        )
        cdn = Cdn(
            self,
            "Cdn",
            bucket=storage.bucket,
            logs_bucket=storage.logs,
            api=api.api,
            api_stage=STAGE,
            public_base_url_parameter=public_base_url_parameter,
            discovery=config_document(
                auth.discovery if auth is not None else None,
                config.daily_images_per_user,
                warm_cold_start_seconds=config.endpoint_cold_start_seconds if functions.warm is not None else None,
            ),
            cors_origins=config.cors_origins,
        )
        # The jobs route's answer lists absolute image URLs: the stage learns the distribution's
        # URL through a stage variable (the stage depends on the distribution, which depends on
        # the REST API's id, not on its stage: no cycle; tests/infra checks the graph).
        api.set_public_base_url(cdn.url)
        events = Events(self, "Events", bucket=storage.bucket, state_machine=workflow.state_machine, batch_drop=batches.drop)
        observability = Observability(
            self,
            "Observability",
            endpoints=config.endpoint_names,
            created_endpoints=config.create_endpoints,
            components=self.endpoints.components,
            alarm_email=config.alarm_email,
            state_machine=workflow.state_machine,
            batch_state_machine=batches.state_machine,
            stage=api.api.deployment_stage,
            dead_letters=events.dead_letters,
        )
        acknowledge_cdk_helpers(self)
        self._build_outputs(cdn, api, workflow, storage, auth)
        CfnOutput(self, "BatchStateMachineArn", value=batches.state_machine.state_machine_arn, description="the batch workflow (POST /text2image/batches)")
        CfnOutput(self, "DashboardUrl", value=observability.dashboard_url, description="the CloudWatch dashboard")
        CfnOutput(self, "AlarmTopicArn", value=observability.topic.topic_arn, description="the alarms' SNS topic (text2image:alarmEmail subscribes an address)")

    def _build_outputs(self, cdn: Cdn, api: Api, workflow: Workflow, storage: Storage, auth: Auth | None) -> None:
        CfnOutput(self, "WebUrl", value=f"{cdn.url}/", description="the page")
        CfnOutput(self, "ApiUrl", value=f"{cdn.url}/text2image", description="POST requests here (through CloudFront)")
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name, description="drop prompt files under prompts/, batch files under batches/inbox/")
        CfnOutput(
            self,
            "CurlExample",
            value=f"curl -s -X POST {cdn.url}/text2image -H 'Content-Type: application/json' -d '{{\"text\":\"A flower, fantasy, happy\"}}'",
        )
        if auth is not None:
            pool = auth.user_pool.user_pool_id
            CfnOutput(self, "UserPoolId", value=pool, description="the users who may sign in (README, Sign-in)")
            CfnOutput(self, "UserPoolClientId", value=auth.client.user_pool_client_id, description="the page's and the CLI's app client")
            CfnOutput(
                self,
                "CreateUserExample",
                value=f"aws cognito-idp admin-create-user --region {self.region} --user-pool-id {pool} --username alice "
                "--user-attributes Name=email,Value=alice@example.org Name=email_verified,Value=true",
                description="the first user: Cognito mails a temporary password, changed at the first sign-in",
            )
        if api.api_key_id is not None:
            CfnOutput(self, "ApiKeyId", value=api.api_key_id, description="aws apigateway get-api-key --include-value --api-key <id>")


def acknowledge_cdk_helpers(stack: Stack) -> None:
    """Findings on the singleton Lambdas CDK itself adds (BucketDeployment, S3 notifications)."""
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            reason = "CDK's BucketDeployment handler copies the site assets from the CDK asset bucket into site/ and prunes there"
            assets = as_nag_prints(stack, "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{account}-{region}/*")
            findings = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*")
            for finding in (*findings, "Resource::<StorageBucket5CB7C8EA.Arn>/*", assets, "Resource::*"):
                acknowledge(child, f"AwsSolutions-IAM5[{finding}]", reason + "; CDK writes these grants, they are not configurable.")
            acknowledge(child, BASIC_EXECUTION, "CDK's BucketDeployment handler role; CDK attaches this managed policy itself.")
            acknowledge(child, "AwsSolutions-L1", "CDK pins the BucketDeployment handler's runtime; it runs only during deployments.")
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(child, BASIC_EXECUTION, "CDK's handler that turns on S3 -> EventBridge notifications; CDK attaches this managed policy.")


BASIC_EXECUTION = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"

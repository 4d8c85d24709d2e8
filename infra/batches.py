"""Bulk batches, deployed: the Standard batch workflow (statemachine/text2image_batch.asl.json, a
Distributed Map whose lines each run the request workflow), the function that checks, stores and
starts a batch file (POST /text2image/batches and the batches/inbox/ drop), and the one that keeps
batches/<batch_id>/status.json. Each allowed exactly what its job needs."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StackConfig
from infra.functions import project_function
from infra.nag import acknowledge, as_nag_prints
from infra.storage import BATCHES_PREFIX, REQUESTS_PREFIX
from infra.workflow import LOG_LEVELS
from text2image import batch_workflow
from text2image.event_patterns import BATCH_DROP_MAX_BYTES
from text2image.manifest import BATCH_DROP, BATCH_STATUS, SUBMIT_BATCH
from text2image.paths import BATCH_STATE_MACHINE
from text2image.routes import BATCH_MAX_BYTES

# Where the workflow's Distributed Map reads a batch (ItemReader) and writes its results (ResultWriter).
INPUT_KEYS = f"{BATCHES_PREFIX}*/input.jsonl"
RESULT_KEYS = f"{BATCHES_PREFIX}*/results/*"
STATUS_KEYS = f"{BATCHES_PREFIX}*/status.json"
# The EventBridge rule a .sync task's Step Functions manages in the account to learn that the
# execution it started has ended (AWS: "IAM policies for AWS Step Functions", Synchronous).
SYNC_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


def execution_arns(stack: Stack, state_machine_name: str, kind: str = "execution") -> str:
    """Every execution of the state machine named ``state_machine_name``; ``kind`` "express" for an
    Express machine's (arn:...:express:<machine>:<name>:<id>, AWS's documented format)."""
    return stack.format_arn(service="states", resource=kind, resource_name=f"{state_machine_name}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME)


class Batches(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        bucket: s3.Bucket,
        layer: lambda_.ILayerVersion,
        common_env: dict[str, str],
        public_base_url_parameter: str,
        request_state_machine: sfn.StateMachine,
        usage_table: dynamodb.ITable | None,
        quota_env: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.status = project_function(self, BATCH_STATUS, layer, common_env, construct_id="batch-status")
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(BATCH_STATE_MACHINE)),
            definition_substitutions=batch_workflow.definition_substitutions(
                {BATCH_STATUS.name: self.status.function_arn},
                Stack.of(self).partition,
                request_state_machine_arn=request_state_machine.state_machine_arn,
                concurrency=config.batch_concurrency,
                tolerated_failure_percentage=config.batch_tolerated_failure_percentage,
            ),
            # As the request workflow: no execution data in the logs (prompts can be private).
            logs=sfn.LogOptions(destination=self.log_group, level=LOG_LEVELS[config.workflow_log_level], include_execution_data=False),
            tracing_enabled=True,
        )
        submit_env = common_env | {
            "BATCH_STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
            "PUBLIC_BASE_URL_PARAMETER": public_base_url_parameter,
            "MAX_BATCH_LINES": str(config.max_batch_lines),
            "MAX_BATCH_BYTES": str(BATCH_MAX_BYTES),  # the route's (text2image/routes.py)
            "MAX_DROP_BYTES": str(BATCH_DROP_MAX_BYTES),  # the S3 drop's (text2image/event_patterns.py)
            # Each line's images are dealt after those of the lines before it, a line without num_images counting as Prepare fills it in.
            "DEFAULT_NUM_IMAGES": str(config.default_num_images),
        }
        # With sign-in, a caller's batch must fit their day's quota before it starts.
        self.submit = project_function(self, SUBMIT_BATCH, layer, submit_env | quota_env, construct_id="submit-batch")
        self.drop = project_function(self, BATCH_DROP, layer, submit_env, construct_id="batch-drop")
        self._build_workflow_permissions(bucket, request_state_machine)
        self._build_function_permissions(bucket, public_base_url_parameter, usage_table)
        self._acknowledge_findings(bucket, request_state_machine)

    def _build_workflow_permissions(self, bucket: s3.Bucket, request_state_machine: sfn.StateMachine) -> None:
        """The batch workflow's role: the item reader, the lines' runs of the request workflow
        (startExecution.sync:2), the map's own child executions, the result writer, the status
        function. AWS documents each shape: "IAM policies for using Distributed Map states" and
        "IAM policies for AWS Step Functions" (nested workflows, synchronous)."""
        stack = Stack.of(self)
        machine = self.state_machine
        machine.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(INPUT_KEYS)]))
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(RESULT_KEYS)],
            )
        )
        # The unqualified ARN the file calls: no version wildcard.
        machine.add_to_role_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.status.function_arn]))
        machine.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[request_state_machine.state_machine_arn]))
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                # The request machine is Express: its executions' ARNs are express:..., where AWS's
                # .sync policy example (a Standard child) names execution:...; both, until a deploy shows which is checked.
                resources=[execution_arns(stack, request_state_machine.state_machine_name, kind) for kind in ("execution", "express")],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)],
            )
        )
        # The map's child executions are this state machine's own: a policy of its own, beside the
        # role's default one, which the state machine waits for (naming it there would be a cycle).
        self.map_run_policy = own = iam.Policy(
            self,
            "MapRunPolicy",
            statements=[
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn]),
                # A child's ARN is execution:<state machine>/<map run label>:<child name>.
                iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:StopExecution"], resources=[execution_arns(stack, f"{machine.state_machine_name}/*")]
                ),
                # A redriven batch redrives its Map Run, which redrives the lines that failed.
                iam.PolicyStatement(actions=["states:RedriveExecution"], resources=[execution_arns(stack, f"{machine.state_machine_name}/*")]),
            ],
        )
        own.attach_to_role(machine.role)

    def _build_function_permissions(self, bucket: s3.Bucket, public_base_url_parameter: str, usage_table: dynamodb.ITable | None) -> None:
        """The submit and drop functions store a batch and start it; the status function reads the
        lines' manifests and keeps the status document. With sign-in the submit function reads the
        caller's day in the usage table, and lists a batch's status key to learn whether it exists."""
        stack = Stack.of(self)
        parameter = stack.format_arn(service="ssm", resource="parameter", resource_name=public_base_url_parameter.lstrip("/"))
        for function in (self.submit, self.drop):
            function.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[bucket.arn_for_objects(BATCHES_PREFIX + "*")]))
            function.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]))
            function.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter]))
        if usage_table is not None:
            self.submit.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[usage_table.table_arn]))
            self.submit.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions={"StringLike": {"s3:prefix": [BATCHES_PREFIX + "*"]}})
            )
        self.status.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects(STATUS_KEYS)]))
        self.status.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions={"StringLike": {"s3:prefix": [REQUESTS_PREFIX + "*"]}})
        )
        self.status.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(REQUESTS_PREFIX + "*")]))

    def _acknowledge_findings(self, bucket: s3.Bucket, request_state_machine: sfn.StateMachine) -> None:
        """Each wildcard is a key pattern of this stack's bucket or the executions of this stack's two
        state machines, in the shape AWS documents for it."""
        stack = Stack.of(self)

        def logical_id(construct: Construct) -> str:
            element = construct.node.default_child
            assert isinstance(element, CfnElement)
            return stack.resolve(element.logical_id)  # type: ignore[no-any-return]

        objects = f"Resource::<{logical_id(bucket)}.Arn>/"
        executions = as_nag_prints(stack, "Resource::arn:<AWS::Partition>:states:{region}:{account}:execution:")
        machine = self.state_machine
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray actions of Step Functions accept no resource but *.",
        )
        per_file = "batch ids are made per file"
        acknowledge(machine, f"AwsSolutions-IAM5[{objects}{INPUT_KEYS}]", f"The Distributed Map's ItemReader reads a batch's stored input; {per_file}.")
        acknowledge(
            machine,
            f"AwsSolutions-IAM5[{objects}{RESULT_KEYS}]",
            "The Distributed Map's ResultWriter writes a batch's results under its own prefix (AWS's ResultWriter policy: put, get, multipart).",
        )
        acknowledge(
            machine,
            f"AwsSolutions-IAM5[{executions}<{logical_id(request_state_machine)}.Name>:*]",
            "startExecution.sync:2 describes and stops the request workflow's executions it started, named per line at run time (AWS's policy for it).",
        )
        acknowledge(
            machine,
            f"AwsSolutions-IAM5[{executions.removesuffix('execution:')}express:<{logical_id(request_state_machine)}.Name>:*]",
            "startExecution.sync:2 describes and stops the Express request workflow's executions it started (express:<machine>:<name>:<id>).",
        )
        acknowledge(
            self.map_run_policy,
            f"AwsSolutions-IAM5[{executions}<{logical_id(machine)}.Name>/*:*]",
            "The Distributed Map's child executions of this state machine (execution:<name>/<map run>:<child>), as AWS's Distributed Map policy scopes them.",
        )
        for function, keys, what in (
            (self.submit, f"{BATCHES_PREFIX}*", "Stores a batch's input and status under batches/<batch_id>/ and reads its status. "),
            (self.drop, f"{BATCHES_PREFIX}*", "Reads a file dropped under batches/inbox/, stores its batch under batches/<batch_id>/. "),
            (self.status, STATUS_KEYS, "Reads and writes a batch's status document only. "),
            (self.status, f"{REQUESTS_PREFIX}*", "Reads the manifests of a batch's lines (requests/<batch_id>-<line>.json). "),
        ):
            assert function.role is not None
            acknowledge(function.role, f"AwsSolutions-IAM5[{objects}{keys}]", f"{what}Objects under one key prefix of this stack's bucket; {per_file}.")

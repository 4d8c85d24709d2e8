"""The Express state machine, from the one ASL file the local stack also runs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from text2image import manifest
from text2image.paths import STATE_MACHINE

LOG_LEVELS = {"ALL": sfn.LogLevel.ALL, "ERROR": sfn.LogLevel.ERROR, "FATAL": sfn.LogLevel.FATAL, "OFF": sfn.LogLevel.OFF}


def definition_substitutions(stack: Stack, prepare: lambda_.IFunction, invoke_endpoint: lambda_.IFunction, collect: lambda_.IFunction) -> dict[str, str]:
    """The deployed values of the ASL file's ``${...}`` placeholders, named by the manifest (the
    local stack fills the same ones): the functions' ARNs and the partition CloudFormation deploys to."""
    arns = {
        manifest.PREPARE.name: prepare.function_arn,
        manifest.INVOKE_ENDPOINT.name: invoke_endpoint.function_arn,
        manifest.COLLECT.name: collect.function_arn,
    }
    return manifest.definition_substitutions(arns, stack.partition)


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prepare: lambda_.IFunction,
        invoke_endpoint: lambda_.IFunction,
        collect: lambda_.IFunction,
        log_level: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=None, retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        # The 5-minute limit is the file's own TimeoutSeconds (300), so the console shows it too.
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_file(str(STATE_MACHINE)),
            definition_substitutions=definition_substitutions(Stack.of(self), prepare, invoke_endpoint, collect),
            # Execution data stays out of the logs: prompts can be private.
            logs=sfn.LogOptions(destination=self.log_group, level=LOG_LEVELS[log_level], include_execution_data=False),
            tracing_enabled=True,
        )
        # The ASL file calls the unqualified ARNs: no version wildcard (grantInvoke would add ARN:*).
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in (prepare, invoke_endpoint, collect)])
        )
        acknowledge(
            self.state_machine,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray actions of Step Functions accept no resource but *.",
        )

"""EventBridge rules that start the workflow: a prompt file under prompts/ and the custom
text2image event; and the one that submits a batch file dropped under batches/inbox/. Failed
deliveries land in a dead-letter queue, as does a batch file its function failed on."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from text2image.event_patterns import batch_file_pattern, custom_event_pattern, prompt_file_pattern

# How long and how often EventBridge tries to deliver an event before its dead-letter queue.
RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(1)


def event_pattern(pattern: dict[str, object]) -> events.EventPattern:
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern.get("detail"))  # type: ignore[arg-type]


class Events(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, state_machine: sfn.IStateMachine, batch_drop: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the EventBridge targets; it needs none of its own.",
        )
        # The whole event is the execution input: Prepare derives the request id from it
        # (S3 object + sequencer, or the event id), so a redelivered event makes no new images.
        target = targets.SfnStateMachine(
            state_machine,
            dead_letter_queue=self.dead_letters,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
        )
        self.prompt_files = events.Rule(
            self,
            "PromptFiles",
            description="A JSON request dropped under prompts/ starts text2image",
            event_pattern=event_pattern(prompt_file_pattern(bucket.bucket_name)),
            targets=[target],
        )
        self.custom_events = events.Rule(
            self,
            "CustomEvents",
            description="source text2image, detail-type 'Text2Image Request' starts text2image",
            event_pattern=event_pattern(custom_event_pattern()),
            targets=[target],
        )
        self.batch_files = events.Rule(
            self,
            "BatchFiles",
            description="A JSONL or CSV file dropped under batches/inbox/ is submitted as a text2image batch",
            event_pattern=event_pattern(batch_file_pattern(bucket.bucket_name)),
            targets=[targets.LambdaFunction(batch_drop, dead_letter_queue=self.dead_letters, retry_attempts=RETRY_ATTEMPTS, max_event_age=MAX_EVENT_AGE)],
        )
        # EventBridge invokes the function asynchronously: its delivery succeeds once Lambda queues
        # the event, so a run that fails (after Lambda's own two retries) is kept here too, not lost.
        batch_drop.configure_async_invoke(on_failure=destinations.SqsDestination(self.dead_letters), retry_attempts=2, max_event_age=MAX_EVENT_AGE)

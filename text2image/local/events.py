"""Local EventBridge delivery: the deployed rules start the workflow directly or invoke a
function; moto's EventBridge can do neither, so here each rule targets an SQS queue of its target
and a dispatcher thread per queue hands each delivered event on (long polling: no busy wait): one
execution per event for the workflow, one invocation per event for a function.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from text2image.event_patterns import batch_file_pattern, custom_event_pattern, prompt_file_pattern
from text2image.manifest import BATCH_DROP

WORKFLOW = "workflow"  # the target that starts the request workflow


@dataclass(frozen=True)
class Rule:
    pattern: Callable[[str], dict[str, Any]]  # the rule's pattern for a bucket
    target: str  # WORKFLOW, or the name of the function the rule invokes


RULES: dict[str, Rule] = {
    "text2image-prompt-files": Rule(prompt_file_pattern, WORKFLOW),
    "text2image-custom-events": Rule(lambda bucket: custom_event_pattern(), WORKFLOW),
    "text2image-batch-files": Rule(batch_file_pattern, BATCH_DROP.name),
}


def queue_name(target: str) -> str:
    return f"text2image-local-events-{target}"


def as_aws_sends_it(event: dict[str, Any], account: str) -> dict[str, Any]:
    """moto 5.2 writes the S3 object's ``etag`` as ``eTag`` and leaves ``account`` out of
    custom events; AWS does neither. Mend both so the targets see what they will see on AWS."""
    event = {**event, "account": event.get("account", account)}
    obj = event.get("detail", {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(obj, dict) and "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    return event


class EventDispatcher:
    def __init__(
        self,
        client: Callable[[str], Any],
        start_execution: Callable[[str, str], object],
        bucket: str,
        account: str,
        run_function: Callable[[str, dict[str, Any]], bool],
    ) -> None:
        """``client(service)``: a boto3 client on the local AWS; ``start_execution(input, name)``:
        starts the workflow, as the rules' Step Functions target does on AWS; ``run_function(name,
        event)``: invokes a function with the event, as a Lambda target does (False: it failed)."""
        self.client, self.start_execution, self.bucket, self.account, self.run_function = client, start_execution, bucket, account, run_function
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> EventDispatcher:
        sqs, events = self.client("sqs"), self.client("events")
        self.client("s3").put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
        queues: dict[str, tuple[str, str]] = {}  # target -> (queue URL, queue ARN)
        for target in dict.fromkeys(rule.target for rule in RULES.values()):
            url = sqs.create_queue(QueueName=queue_name(target))["QueueUrl"]
            queues[target] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        for name, rule in RULES.items():
            events.put_rule(Name=name, EventPattern=json.dumps(rule.pattern(self.bucket)))
            events.put_targets(Rule=name, Targets=[{"Id": rule.target, "Arn": queues[rule.target][1]}])
        self._sqs = sqs
        for target, (url, _) in queues.items():
            thread = threading.Thread(target=self._run, args=(target, url), name=f"events-{target}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, target: str, queue_url: str) -> None:
        while not self._stop.is_set():
            try:
                received = self._sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # the server is going away at shutdown
                if self._stop.is_set():
                    return
                raise
            for message in received.get("Messages", []):
                self._deliver(target, as_aws_sends_it(json.loads(message["Body"]), self.account))
                self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _deliver(self, target: str, event: dict[str, Any]) -> None:
        if target == WORKFLOW:
            # As the EventBridge -> Step Functions target does: a new execution, a random name.
            self.start_execution(json.dumps(event), uuid.uuid4().hex)
        elif not self.run_function(target, event):
            # An asynchronous invocation that failed: on AWS, retried and then sent to the DLQ.
            logging.getLogger(__name__).warning("the %s function failed on event %s", target, event.get("id"))

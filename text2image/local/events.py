"""Local EventBridge delivery: the deployed rules start the workflow directly; moto's
EventBridge cannot target Step Functions, so here the same rules target an SQS queue and
a dispatcher thread starts one execution per delivered event (long polling: no busy wait).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from text2image.event_patterns import custom_event_pattern, prompt_file_pattern

QUEUE = "text2image-local-events"
# rule name -> its pattern for a bucket
RULES: dict[str, Callable[[str], dict[str, Any]]] = {
    "text2image-prompt-files": prompt_file_pattern,
    "text2image-custom-events": lambda bucket: custom_event_pattern(),
}


def as_aws_sends_it(event: dict[str, Any], account: str) -> dict[str, Any]:
    """moto 5.2 writes the S3 object's ``etag`` as ``eTag`` and leaves ``account`` out of
    custom events; AWS does neither. Mend both so Prepare sees what it will see on AWS."""
    event = {**event, "account": event.get("account", account)}
    obj = event.get("detail", {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(obj, dict) and "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    return event


class EventDispatcher:
    def __init__(self, client: Callable[[str], Any], start_execution: Callable[[str, str], object], bucket: str, account: str) -> None:
        """``client(service)``: a boto3 client on the local AWS; ``start_execution(input, name)``:
        starts the workflow, as the rules' Step Functions target does on AWS."""
        self.client, self.start_execution, self.bucket, self.account = client, start_execution, bucket, account
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self.queue_url = ""

    def start(self) -> EventDispatcher:
        sqs, events = self.client("sqs"), self.client("events")
        self.client("s3").put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
        self.queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name, pattern in RULES.items():
            events.put_rule(Name=name, EventPattern=json.dumps(pattern(self.bucket)))
            events.put_targets(Rule=name, Targets=[{"Id": "workflow", "Arn": queue_arn}])
        self._sqs = sqs
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                received = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # the server is going away at shutdown
                if self._stop.is_set():
                    return
                raise
            for message in received.get("Messages", []):
                event = as_aws_sends_it(json.loads(message["Body"]), self.account)
                # As the EventBridge -> Step Functions target does: a new execution, a random name.
                self.start_execution(json.dumps(event), uuid.uuid4().hex)
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

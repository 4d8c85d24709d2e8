"""What the stack is doing, in one CloudWatch dashboard, and the alarms that need a person, mailed
through one encrypted SNS topic (``text2image:alarmEmail`` subscribes an address).

The functions' own metrics (Powertools EMF, namespace and service of infra/functions.py) say what
the workflow saw; the services' metrics (Step Functions, API Gateway, SageMaker, SQS) say what
the parts around it did."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.endpoints import VARIANT
from infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from infra.scale_to_zero import copies_reporting, refused_calls

# What the functions count per run (Prepare, Collect: the service dimension only).
RUN_METRICS = ("RequestsPlanned", "RequestsRejected", "ImagesPlanned", "ImagesDelivered", "ImagesFailed")
# What the batch functions count (the submit function per batch, the status function at a batch's
# end): lines submitted against lines that failed, and the images the ended batches delivered.
BATCH_METRICS = ("BatchLinesSubmitted", "BatchLinesFailed", "BatchImagesDelivered", "BatchesRefused")
# The errors InvokeEndpoint counts under their own name, per endpoint: the exceptions its handler
# catches (tests/infra/test_observability.py holds the two lists together, so an error class
# added there, EndpointCold included, shows here or fails the test).
INVOCATION_ERRORS = (
    "EndpointBusy",
    "EndpointWarming",
    "EndpointCold",
    "ModelError",
    "EndpointRejected",
    "EndpointTimeout",
    "InvalidModelResponse",
    "ImageWriteFailed",
)
MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
FIFTEEN_MINUTES = Duration.minutes(15)
# The failed-images alarm: over this share of a 15-minute window's images, once at least
# FAILED_IMAGES_MIN_VOLUME images were planned to finish in it (one failed image of one is noise).
FAILED_IMAGES_RATE = 0.1
FAILED_IMAGES_MIN_VOLUME = 10
# The API's 5xx answers in five minutes that page someone: a 504 of a sync run past 29 s is one
# too, and a single slow run is not an incident.
API_5XX_THRESHOLD = 5
# Model errors of one endpoint in five minutes (the workflow retries none of them: each is a lost call).
MODEL_ERROR_THRESHOLD = 3


def run_metric(name: str, statistic: str = "Sum", period: Duration = MINUTE) -> cw.Metric:
    return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=name, dimensions_map={"service": SERVICE_NAME}, statistic=statistic, period=period)


def endpoint_metric(name: str, endpoint: str, statistic: str = "Sum", period: Duration = MINUTE) -> cw.Metric:
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME, "endpoint": endpoint},
        statistic=statistic,
        period=period,
        label=f"{name} {endpoint}",
    )


def sagemaker_metric(name: str, endpoint: str, statistic: str, namespace: str = "AWS/SageMaker") -> cw.Metric:
    """A variant's metric: the same for endpoints created here and existing ones named in context."""
    return cw.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"EndpointName": endpoint, "VariantName": VARIANT},
        statistic=statistic,
        period=MINUTE,
        label=f"{name} {endpoint}",
    )


def across_endpoints(name: str, endpoints: list[str], period: Duration = MINUTE) -> cw.MathExpression:
    """One endpoint-dimensioned metric summed over the endpoints (SUM of the series ignores an
    endpoint with no data point at a time, which is how these error counts usually look)."""
    # Ids unique in the widget: each error name's expression has its own.
    metrics = {f"{name.lower()}_{index}": endpoint_metric(name, endpoint, period=period) for index, endpoint in enumerate(endpoints)}
    return cw.MathExpression(expression=f"SUM([{','.join(metrics)}])", using_metrics=metrics, label=name, period=period)


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoints: list[str],
        created_endpoints: bool,
        components: dict[str, str],
        alarm_email: str,
        state_machine: sfn.StateMachine,
        batch_state_machine: sfn.StateMachine,
        stage: apigw.Stage,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(alarm_email)
        action = cw_actions.SnsAction(self.topic)
        self.alarms = self._build_alarms(endpoints, stage, dead_letters, batch_state_machine)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
        # A name known at synth, for the console URL (dashboard_name is a token).
        self.dashboard_name = f"text2image-{Stack.of(self).stack_name}"
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=self.dashboard_name)
        self._build_widgets(endpoints, created_endpoints, state_machine, stage, dead_letters)
        if components:
            self._build_component_widgets(components)
        self._build_batch_widgets(batch_state_machine)

    @property
    def dashboard_url(self) -> str:
        stack = Stack.of(self)
        return f"https://console.aws.amazon.com/cloudwatch/home?region={stack.region}#dashboards:name={self.dashboard_name}"

    def _build_topic(self, alarm_email: str) -> sns.Topic:
        """Encrypted with a key of its own: CloudWatch publishes to an encrypted topic only when
        the key's policy lets cloudwatch.amazonaws.com use it, which the AWS managed alias/aws/sns
        key's policy cannot (Amazon SNS developer guide, "compatibility with AWS services")."""
        # Nothing is kept under it (SNS holds a message only until delivered): it goes with the stack.
        key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="text2image alarms topic",
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True, display_name="text2image alarms")
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        return topic

    def _build_alarms(self, endpoints: list[str], stage: apigw.Stage, dead_letters: sqs.IQueue, batch_state_machine: sfn.StateMachine) -> list[cw.Alarm]:
        # Every metric here is published only when something happens (an event that could not be
        # delivered, a finished run, an API call, a model error): no data means nothing went wrong.
        quiet = cw.TreatMissingData.NOT_BREACHING
        alarms = [
            cw.Alarm(
                self,
                "DeadLetters",
                alarm_description="An S3 prompt file or a text2image event could not start the workflow, or a batch file under batches/inbox/ "
                "could not be submitted (retries, 1 hour): see the events DLQ",
                metric=dead_letters.metric_approximate_number_of_messages_visible(statistic="Maximum", period=FIVE_MINUTES),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=quiet,
            ),
            cw.Alarm(
                self,
                "FailedImages",
                alarm_description=f"Over {FAILED_IMAGES_RATE:.0%} of the images of finished runs failed in 15 minutes (ImagesFailed; at least "
                f"{FAILED_IMAGES_MIN_VOLUME} images)",
                metric=cw.MathExpression(
                    expression=f"IF(delivered + failed >= {FAILED_IMAGES_MIN_VOLUME}, failed / (delivered + failed), 0)",
                    using_metrics={
                        "failed": run_metric("ImagesFailed", period=FIFTEEN_MINUTES),
                        "delivered": run_metric("ImagesDelivered", period=FIFTEEN_MINUTES),
                    },
                    label="failed share of images",
                    period=FIFTEEN_MINUTES,
                ),
                threshold=FAILED_IMAGES_RATE,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=quiet,
            ),
            cw.Alarm(
                self,
                "Api5xx",
                alarm_description=f"The API answered {API_5XX_THRESHOLD} or more 5xx in 5 minutes (a failed start, an integration timeout), "
                "not counting the 503 WarmingUp of endpoints scaled to zero (a cold start is no incident)",
                metric=cw.MathExpression(
                    expression="errors - FILL(warming, 0)",
                    using_metrics={
                        "errors": stage.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
                        "warming": run_metric("WarmingUpAnswers", period=FIVE_MINUTES),
                    },
                    label="5xx answers but WarmingUp",
                    period=FIVE_MINUTES,
                ),
                threshold=API_5XX_THRESHOLD,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=quiet,
            ),
            cw.Alarm(
                self,
                "BatchesFailed",
                alarm_description="A batch failed: more of its lines failed than text2image:batchToleratedFailurePercentage allows, or its file "
                "could not be read. Its status.json lists each line; redrive the execution to run the failed lines again",
                metric=batch_state_machine.metric_failed(statistic="Sum", period=FIVE_MINUTES),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=quiet,
            ),
        ]
        for endpoint in endpoints:
            alarms.append(
                cw.Alarm(
                    self,
                    f"ModelErrors-{endpoint}",
                    alarm_description=f"Endpoint {endpoint} answered {MODEL_ERROR_THRESHOLD} or more model errors in 5 minutes (InvokeEndpoint's ModelError)",
                    metric=endpoint_metric("ModelError", endpoint, period=FIVE_MINUTES),
                    threshold=MODEL_ERROR_THRESHOLD,
                    comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=quiet,
                )
            )
        return alarms

    def _build_widgets(
        self, endpoints: list[str], created_endpoints: bool, state_machine: sfn.StateMachine, stage: apigw.Stage, dead_letters: sqs.IQueue
    ) -> None:
        graph = cw.GraphWidget
        self.dashboard.add_widgets(
            graph(title="Requests and images per minute", left=[run_metric(name) for name in RUN_METRICS], width=12),
            graph(title="Failures by error name (per minute, all endpoints)", left=[across_endpoints(name, endpoints) for name in INVOCATION_ERRORS], width=12),
        )
        # ExecutionTime, not the API's Latency: every run is an execution (sync and jobs routes,
        # prompt files, events), while Latency sees only the sync route, cut at 29 s.
        self.dashboard.add_widgets(
            graph(
                title="Run time p50/p95 (state machine ExecutionTime)",
                left=[state_machine.metric_time(statistic=stat, period=FIVE_MINUTES, label=f"ExecutionTime {stat}") for stat in ("p50", "p95")],
                width=12,
            ),
            graph(
                title="Runs (state machine)",
                left=[
                    state_machine.metric_started(period=MINUTE),
                    state_machine.metric_failed(period=MINUTE),
                    state_machine.metric_timed_out(period=MINUTE),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            graph(title="EndpointBusy per endpoint", left=[endpoint_metric("EndpointBusy", endpoint) for endpoint in endpoints], width=8),
            graph(title="Endpoint ModelLatency (average)", left=[sagemaker_metric("ModelLatency", endpoint, "Average") for endpoint in endpoints], width=8),
            graph(title="Endpoint invocations", left=[sagemaker_metric("Invocations", endpoint, "Sum") for endpoint in endpoints], width=8),
        )
        if created_endpoints:
            self.dashboard.add_widgets(
                graph(title="Endpoint instances (while calls arrive)", left=[instance_count(i, e) for i, e in enumerate(endpoints)], width=12)
            )
        self.dashboard.add_widgets(
            graph(title="Events DLQ depth", left=[dead_letters.metric_approximate_number_of_messages_visible(statistic="Maximum", period=MINUTE)], width=6),
            graph(title="Quota refusals", left=[run_metric("QuotaRefusals")], width=6),
            graph(title="API 4xx and 5xx", left=[stage.metric_client_error(period=MINUTE), stage.metric_server_error(period=MINUTE)], width=6),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=6),
        )

    def _build_component_widgets(self, components: dict[str, str]) -> None:
        """Endpoints that scale to zero: how many copies of each inference component run, and
        the calls refused while none did (each starts a scale-out from zero)."""
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Model copies running (per inference component)",
                left=[copies_reporting(component).with_(label=f"copies {endpoint}") for endpoint, component in components.items()],
                width=12,
            ),
            cw.GraphWidget(
                title="Calls refused while cold (NoCapacityInvocationFailures)",
                left=[refused_calls(component).with_(label=f"refused {endpoint}") for endpoint, component in components.items()],
                width=12,
            ),
        )

    def _build_batch_widgets(self, batch_state_machine: sfn.StateMachine) -> None:
        """Bulk batches: the lines submitted against those that failed (counted when a batch
        ends), and the batch executions."""
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Batch lines and images (per 5 minutes)", left=[run_metric(name, period=FIVE_MINUTES) for name in BATCH_METRICS], width=12),
            cw.GraphWidget(
                title="Batches (batch state machine)",
                left=[
                    batch_state_machine.metric_started(period=FIVE_MINUTES),
                    batch_state_machine.metric_succeeded(period=FIVE_MINUTES),
                    batch_state_machine.metric_failed(period=FIVE_MINUTES),
                ],
                width=12,
            ),
        )


def instance_count(index: int, endpoint: str) -> cw.MathExpression:
    """The variant's instances, derived from what its metrics carry: invocations over
    invocations per instance, in the minutes that have calls (``index``: ids unique in the widget)."""
    return cw.MathExpression(
        expression=f"invocations_{index} / perinstance_{index}",
        using_metrics={
            f"invocations_{index}": sagemaker_metric("Invocations", endpoint, "Sum"),
            f"perinstance_{index}": sagemaker_metric("InvocationsPerInstance", endpoint, "Sum"),
        },
        label=f"instances {endpoint}",
        period=MINUTE,
    )

"""How a created endpoint's inference component scales to zero and back (text2image:endpointScaleToZero).

Its copy count is an Application Auto Scaling target from 0 to endpointMaxInstances copies (one GPU
each; SageMaker's managed instance scaling adds and removes the instances the copies need, down to
none). Three policies move it, as "Scale an endpoint to zero instances" (SageMaker developer guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html) lays out:

- load: target tracking on the copies' invocations; scale-in off, so that the idle rule below alone
  decides when copies go (AWS's page scales in to zero with this policy, on Application Auto
  Scaling's own schedule; endpointIdleMinutes would not hold). The cost: copies added under load
  stay until the endpoint is idle, at most endpointMaxInstances;
- out from zero: a refused call (SageMaker's NoCapacityInvocationFailures) asks for one copy, the
  page's step policy and alarm but for the adjustment (exactly 1, not +1: below);
- idle: no call for endpointIdleMinutes while a copy runs sets the copies to exactly 0.

And optionally a warm schedule: one copy kept from warmScheduleStart to warmScheduleEnd.
"""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.config import StackConfig

COPY_COUNT = "sagemaker:inference-component:DesiredCopyCount"
MINUTE = Duration.minutes(1)
# The documented step policies' cooldown: a scaling activity gets a minute to take effect.
COOLDOWN = Duration.seconds(60)


def component_metric(namespace: str, name: str, component: str, statistic: str) -> cw.Metric:
    """A metric of one inference component, per minute (SageMaker publishes them at that frequency)."""
    return cw.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"InferenceComponentName": component},
        statistic=statistic,
        period=MINUTE,
    )


def refused_calls(component: str) -> cw.Metric:
    """Calls SageMaker refused because the component had no copy (the 400 "no capacity")."""
    return component_metric("AWS/SageMaker", "NoCapacityInvocationFailures", component, "Sum")


def invocations(component: str) -> cw.Metric:
    return component_metric("AWS/SageMaker", "Invocations", component, "Sum")


def copies_reporting(component: str) -> cw.Metric:
    """How many copies run: each running copy reports its CPUUtilizationNormalized once a minute
    (SageMaker developer guide, "SageMaker AI inference component metrics"), none while there is
    none. The only per-copy series CloudWatch has; the copy count itself is no metric."""
    return component_metric("/aws/sagemaker/InferenceComponents", "CPUUtilizationNormalized", component, "SampleCount")


class ScaleToZero(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, component: sagemaker.CfnInferenceComponent, name: str, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.target = autoscaling.ScalableTarget(
            self,
            "Copies",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{name}",
            scalable_dimension=COPY_COUNT,
            min_capacity=0,
            max_capacity=config.endpoint_max_instances,
        )
        self.target.node.add_dependency(component)
        self.target.scale_to_track_metric(
            "Load",
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            target_value=config.endpoint_target_invocations_per_instance,
            disable_scale_in=True,
        )
        self._build_scale_out_from_zero(name)
        self._build_idle_scale_in(name, config.endpoint_idle_minutes)
        if config.warm_schedule:
            self._build_warm_schedule(config)

    def _build_scale_out_from_zero(self, name: str) -> None:
        """AWS's page (step policy from a breach of 0 up, Maximum, cooldown 60; alarm: the
        component's NoCapacityInvocationFailures, Sum over 60 s, one period), but for two things.
        The comparison: the page's GreaterThanThreshold 1 lets a single refused call pass unnoticed
        (Sum 1 is not over 1), and a sync request refused once per endpoint must start the warming;
        so at 1 or more. The adjustment: exactly 1 copy, not the page's ChangeInCapacity +1. The
        alarm stays in ALARM while calls keep being refused (a job retries every 15 s through the
        minutes of a cold start), and CloudWatch repeats its Auto Scaling action every minute it
        does (the step scaling policy "can continue for additional alarm breaches until the alarm
        state returns to OK"): past the 60 s cooldown each repeat of +1 could add another copy, and
        another GPU instance, up to endpointMaxInstances, kept until idle since the load policy
        does not scale in. Exactly 1 asks for the one copy however often it repeats."""
        self._set_copies_on_alarm(
            "OutFromZero",
            copies=1,
            alarm_id="Refused",
            description=f"Inference component {name} refused a call for want of a copy: add one (scale out from zero)",
            metric=refused_calls(name),
            minutes=1,
        )

    def _build_idle_scale_in(self, name: str, idle_minutes: int) -> None:
        """Copies to exactly 0 after ``idle_minutes`` one-minute periods in which a copy ran and
        no call came (neither served nor refused).

        CloudWatch repeats an Auto Scaling action every minute its alarm stays in ALARM (CloudWatch
        user guide, "Alarm actions"). An alarm on Invocations alone, missing data breaching, would
        stay in ALARM the whole time the endpoint is cold, and take back within a minute the copy a
        refused call or the warm route (UpdateInferenceComponentRuntimeConfig) just asked for. So a
        period breaches only while a copy runs (its utilization reports) and no call came: cold, or
        warming, periods do not; a refused call stops the idle count as a served one does."""
        idle = cw.MathExpression(
            expression="IF(FILL(copies, 0) > 0 AND FILL(served, 0) + FILL(refused, 0) == 0, 1, 0)",
            using_metrics={"copies": copies_reporting(name), "served": invocations(name), "refused": refused_calls(name)},
            label=f"idle minutes {name}",
            period=MINUTE,
        )
        self._set_copies_on_alarm(
            "IdleToZero",
            copies=0,
            alarm_id="Idle",
            description=f"Inference component {name} ran {idle_minutes} minutes without a call: down to zero copies (and instances)",
            metric=idle,
            minutes=idle_minutes,
        )

    def _set_copies_on_alarm(self, action_id: str, *, copies: int, alarm_id: str, description: str, metric: cw.IMetric, minutes: int) -> None:
        """A step policy that sets exactly ``copies`` (however often CloudWatch repeats it while
        the alarm stays in ALARM), driven by an alarm on ``metric`` at 1 or more in each of
        ``minutes`` one-minute periods. No data is not a breach: no refused call, or no copy
        reporting, asks for nothing."""
        action = autoscaling.StepScalingAction(
            self,
            action_id,
            scaling_target=self.target,
            adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
            cooldown=COOLDOWN,
        )
        action.add_adjustment(adjustment=copies, lower_bound=0)
        alarm = cw.Alarm(
            self,
            alarm_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=minutes,
            datapoints_to_alarm=minutes,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.ApplicationScalingAction(action))

    def _build_warm_schedule(self, config: StackConfig) -> None:
        """At least one copy from the start to the end, in the schedule's time zone: scheduled
        actions on the target's minimum capacity. Not EventBridge Scheduler setting the copy count
        (UpdateInferenceComponentRuntimeConfig): the idle scale-in would take that copy back after
        endpointIdleMinutes without calls, while Application Auto Scaling keeps every policy's
        result within the target's minimum, the idle rule's 0 included (and scales out to a raised
        minimum at once)."""
        zone = TimeZone.of(config.warm_schedule_timezone)
        self.target.scale_on_schedule("WarmFrom", schedule=autoscaling.Schedule.expression(config.warm_schedule_start), min_capacity=1, time_zone=zone)
        self.target.scale_on_schedule("ColdAfter", schedule=autoscaling.Schedule.expression(config.warm_schedule_end), min_capacity=0, time_zone=zone)

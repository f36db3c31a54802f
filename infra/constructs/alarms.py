"""Alarms on the dead-letter queues, published to one SNS topic (subscribe to it after deploying)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.stacks.config import EnvConfig


class DeadLetterAlarms(Construct):
    """`topic` and one alarm per dead-letter queue: a message there is work that was given up on (an
    upload not ingested, a run's end not delivered), so one is enough to alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=physical_name(config.name, "alarms"),
            display_name=f"ingestplane {config.name} alarms",
            enforce_ssl=True,
        )
        suppress(
            self.topic,
            "SNS2",
            "Alarm notifications carry only an alarm's name and state, no data; CloudWatch cannot publish to "
            "a topic encrypted with the AWS-managed SNS key, and a customer key would be a cost and a key "
            "policy for no data.",
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name, queue in queues.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{name.title().replace('-', '')}DeadLetters",
                alarm_name=physical_name(config.name, f"{name}-dead-letters"),
                alarm_description=f"Messages in the {name} dead-letter queue: see docs/operations.md, alarms",
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            self.alarms[name] = alarm

"""Messaging: the job queues with their dead-letter queues and alarms, the event bus and its archive.

Queue names, visibility timeouts and receive counts come from :data:`callingbox.core.resources.QUEUES`,
the bus name from :data:`~callingbox.core.resources.EVENT_BUS_NAME`.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from callingbox.core import resources

__all__ = ["Messaging"]

# Longest SQS retention: a failed job waits two weeks in its dead-letter queue for a redrive.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class Messaging(Construct):
    """Queues (``queues[name]``, ``dead_letter_queues[name]`` keyed like ``resources.QUEUES``),
    ``dead_letter_alarms[name]``, the ``bus`` and its ``archive``."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, archive_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.dead_letter_alarms: dict[str, cloudwatch.Alarm] = {}
        for name, spec in resources.QUEUES.items():
            title = name.title()
            dead_letters = sqs.Queue(
                self, f"{title}DeadLetters",
                queue_name=spec.dlq_name,
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=key,
                data_key_reuse=cdk.Duration.hours(1),
                enforce_ssl=True,
                retention_period=DEAD_LETTER_RETENTION,
            )
            self.dead_letter_queues[name] = dead_letters
            self.queues[name] = sqs.Queue(
                self, f"{title}Queue",
                queue_name=spec.name,
                visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_s),
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dead_letters),
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=key,
                data_key_reuse=cdk.Duration.hours(1),
                enforce_ssl=True,
            )
            self.dead_letter_alarms[name] = cloudwatch.Alarm(
                self, f"{title}DeadLettersAlarm",
                alarm_description=f"Jobs of the {spec.name} queue failed {spec.max_receive_count} times and "
                                  f"wait in {spec.dlq_name} (redrive them once the cause is fixed).",
                metric=dead_letters.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(1), statistic="Maximum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.bus = events.EventBus(self, "Bus", event_bus_name=resources.EVENT_BUS_NAME)
        # Every event the platform puts on the bus, kept for replay (e.g. to a consumer added later).
        self.archive = self.bus.archive(
            "Archive",
            description="Every CallingBox event, for replay",
            event_pattern=events.EventPattern(account=[cdk.Stack.of(self).account]),
            retention=cdk.Duration.days(archive_retention_days),
        )

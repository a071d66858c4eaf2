"""The `swapflow` event bus, and an audit log of every event we emit (a rule -> CloudWatch Logs)."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


class Notifications(Construct):
    """The bus, its audit log, and (`restrict_own_source`) the rule that only our roles speak as `swapflow`."""

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.audit_log = logs.LogGroup(
            self,
            "EventLog",
            log_group_name=f"/aws/events/{bus_name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        rule = events.Rule(
            self,
            "AuditRule",
            event_bus=self.bus,
            description="Every swapflow event, kept for 30 days for audit and debugging",
            event_pattern=events.EventPattern(source=["swapflow"]),
        )
        # A native resource policy instead of the CDK target's custom-resource Lambda.
        logs.ResourcePolicy(
            self,
            "EventLogPolicy",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[
                        iam.ServicePrincipal("events.amazonaws.com"),
                        iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.audit_log.log_group_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
                )
            ],
        )
        # EventBridge wants the log group's ARN without the trailing ":*" of `log_group_arn`.
        target_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.audit_log.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        cfn_rule = rule.node.default_child
        cfn_rule.add_property_override("Targets", [{"Id": "AuditLog", "Arn": target_arn}])  # type: ignore[union-attr]

    def restrict_own_source(self, publishers: list[iam.IRole]) -> None:
        """Refuse PutEvents with `source: swapflow` from any principal but these roles (DESIGN 7): terminal
        events are announcements, and nobody else may make them. An explicit Deny in the bus policy
        applies to principals of this account too, whatever their IAM policies allow."""
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlySwapflowSpeaksAsSwapflow",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={
                    "StringEquals": {"events:source": "swapflow"},
                    "ArnNotEquals": {"aws:PrincipalArn": [role.role_arn for role in publishers]},
                },
            )
        )

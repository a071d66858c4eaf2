"""cdk-nag acknowledgements that name a resource the way the AwsSolutions pack prints it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import Construct, IConstruct


def _pseudo(value: str, name: str) -> str:
    """cdk-nag prints an unresolved pseudo parameter as <AWS::Name>, a concrete one (cdk CLI env) as is."""
    return f"<AWS::{name}>" if Token.is_unresolved(value) else value


def executions_of(machine: IConstruct, suffix: str = ":*") -> str:
    """The IAM resource CDK grants for executions of `machine` (`...:execution:<name>` + suffix)."""
    stack = Stack.of(machine)
    logical_id = stack.resolve(stack.get_logical_id(machine.node.default_child))  # type: ignore[arg-type]
    name = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{logical_id}"}}]}}]}}'
    region, account = _pseudo(stack.region, "Region"), _pseudo(stack.account, "AccountId")
    partition = _pseudo(stack.partition, "Partition")  # concrete once the region is (e.g. region set, no account)
    return f"arn:{partition}:states:{region}:{account}:execution:{name}{suffix}"


def acknowledge_wildcard(construct: Construct, resource: str, reason: str) -> None:
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
    )


def acknowledge_star(construct: IConstruct, reason: str) -> None:
    """`Resource::*` on this construct only (never stack-wide), for actions that take no resource."""
    Validations.of(construct).acknowledge(
        Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=reason)
    )


XRAY_ONLY = "X-Ray trace writes (xray:PutTraceSegments/PutTelemetryRecords) accept no resource-level permissions."

"""The CDK app: one construct per concern, composed by SwapflowStack."""

from .toolchain import use_repo_node

use_repo_node()  # before anything imports aws_cdk (jsii starts node then)

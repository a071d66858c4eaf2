"""The CloudFormation template played locally: its intrinsics and the creators of its resources."""

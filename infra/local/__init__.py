"""Embedded local AWS stack: the CDK app deployed into moto, in-process."""

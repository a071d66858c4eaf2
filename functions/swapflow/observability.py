"""Logger and metrics shared by every handler (one place to configure powertools)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="swapflow")
metrics = Metrics(namespace="Swapflow", service="swapflow")

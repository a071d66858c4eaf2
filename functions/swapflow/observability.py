"""Logger and metrics shared by every handler (one place to configure powertools)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

# A handler that had nothing to count this time is normal, not worth a warning per invoke.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service="swapflow")
metrics = Metrics(namespace="Swapflow", service="swapflow")

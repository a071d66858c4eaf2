"""swapflow: a serverless face-swap job service (AWS Lambda + Step Functions)."""

__version__ = "0.1.0"

"""EventBridge events we emit (versioned details) and their publisher.

Detail types: `Swap Job Completed`, `Swap Job Failed`, `Swap Job Cancelled`, `Swap Job Deleted`; source `swapflow`;
detail `{version: 1, job, outputs, error, metadata[, correlation_id]}`. Also `Swap Batch Completed`
(jobs/batches.py) and `Swap Request Rejected` (jobs/ingest.py); we accept `Swap Requested` from any
other source. The JSON Schemas of every detail are in schemas/events/ (and the stack's schema registry).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

SOURCE = "swapflow"
JOB_COMPLETED = "Swap Job Completed"
JOB_FAILED = "Swap Job Failed"
JOB_CANCELLED = "Swap Job Cancelled"
JOB_DELETED = "Swap Job Deleted"  # jobs/retention.py: a deletion on request is done
BATCH_COMPLETED = "Swap Batch Completed"
REQUEST_REJECTED = "Swap Request Rejected"
SWAP_REQUESTED = "Swap Requested"  # accepted, never emitted
# detail-type -> its schema file under schemas/events/
SCHEMAS = {
    JOB_COMPLETED: "swap-job-completed.json",
    JOB_FAILED: "swap-job-failed.json",
    JOB_CANCELLED: "swap-job-cancelled.json",
    JOB_DELETED: "swap-job-deleted.json",
    BATCH_COMPLETED: "swap-batch-completed.json",
    REQUEST_REJECTED: "swap-request-rejected.json",
    SWAP_REQUESTED: "swap-requested.json",
}


class EventPublishError(Exception):
    """Some entries were not accepted; `failed` holds the rejected entries with their error codes."""

    def __init__(self, failed: Sequence[dict[str, Any]]) -> None:
        super().__init__(f"{len(failed)} event(s) were not published: {failed[:3]}")
        self.failed = list(failed)


class EventBridgePublisher:
    MAX_BATCH = 10

    def __init__(self, client: Any, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_many([(detail_type, detail)])

    def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        failed: list[dict[str, Any]] = []
        for start in range(0, len(events), self.MAX_BATCH):
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.bus_name,
                }
                for detail_type, detail in events[start : start + self.MAX_BATCH]
            ]
            response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed.extend(
                    {**entry, **result}
                    for entry, result in zip(entries, response["Entries"], strict=False)
                    if result.get("ErrorCode")
                )
        if failed:
            raise EventPublishError(failed)

"""Batch job records at acceptance and paged batch views, on moto in-process (DynamoDB only).

    python bench/batch_records.py [--jobs 10000]

Prints and writes bench/results/batch_records.json:
- `record_s_per_1000`: writing 1,000 jobs' records and members (`BatchService.register`'s writes:
  BatchWriteItem chunks of 25), as a Register pass or POST /v1/batches does;
- `page_s` / `page_items_read`: one `GET /v1/batches/{id}` page of 100 (members_page) against
  `all_s` / `all_items_read`, every member (what the unpaged view read), for a batch of --jobs.
Moto's DynamoDB is in-process Python: the numbers compare the two reads here, not AWS latency.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    import boto3
    from moto import mock_aws
    from swapflow.jobs.models import PENDING_IMAGE, Batch, BatchMember, Job, SwapSpec, derived_id
    from swapflow.storage.batches import DynamoBatchRepository
    from swapflow.storage.dynamo import DynamoJobRepository
    from swapflow.storage.schema import create_table_request

    with mock_aws():
        table = boto3.resource("dynamodb").create_table(**create_table_request("jobs"))
        batches, jobs = DynamoBatchRepository(table), DynamoJobRepository(table)
        batch = Batch("01BENCH", "t", 0, ["engine"], 1_800_000_000.0, sealed=False)
        batches.create_open(batch, shards=2)
        request = '{"source_image": "https://example.com/a.jpg", "target_image": "https://example.com/b.jpg"}'
        spec = SwapSpec(PENDING_IMAGE, PENDING_IMAGE)
        started = time.perf_counter()
        for first in range(0, args.jobs, 1000):
            ids = [derived_id(f"01BENCH/{i}", batch.created_at, i) for i in range(first, min(first + 1000, args.jobs))]
            jobs.put_queued([Job(i, "t", "engine", spec, batch_id=batch.id, staged=False) for i in ids])
            batches.add_members(batch, [(BatchMember(first + n, i), request) for n, i in enumerate(ids)])
        record_s = time.perf_counter() - started
        batches.seal(batch.id, args.jobs, ["engine"])

        started = time.perf_counter()
        page, more = batches.members_page(batch.id, 100, None)
        page_s = time.perf_counter() - started
        started = time.perf_counter()
        every = batches.members(batch.id)
        all_s = time.perf_counter() - started

    result = {
        "jobs": args.jobs,
        "record_s_per_1000": round(record_s / args.jobs * 1000, 3),
        "page_s": round(page_s, 4),
        "page_items_read": len(page) + int(more),
        "all_s": round(all_s, 3),
        "all_items_read": len(every),
        "command": f"python bench/batch_records.py --jobs {args.jobs}",
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "batch_records.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

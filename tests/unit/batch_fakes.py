"""In-memory fakes for the batch domain: the repository, blobs, events and the runner's workflow."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from native_fakes import FakeJobRepository
from swapflow.jobs.exceptions import BatchNotFoundError
from swapflow.jobs.inputs import InputLoader
from swapflow.jobs.models import Batch, BatchMember, MemberMove
from swapflow.jobs.validation import parse_job_request
from swapflow.net import FetchError, FetchPolicy
from swapflow.providers.exceptions import ProviderUnavailableError

from tests.conftest import FIXTURES
from tests.shared.fakes import FakeBlobs

INPUT_BUCKET = "input-bucket"  # test_batches.INPUT
JPEG = (FIXTURES / "source.jpg").read_bytes()

TERMINAL = ("completed", "failed", "cancelled")


class FakeBatchRepository:
    def __init__(self) -> None:
        self.batches: dict[str, Batch] = {}
        self.members_by: dict[str, dict[str, BatchMember]] = {}
        self.requests: dict[tuple[str, str], str] = {}
        self.completion_by: dict[str, str] = {}
        self.lock = threading.Lock()

    def create_open(self, batch: Batch, shards: int) -> bool:
        with self.lock:
            if batch.id in self.batches:
                return False
            self.batches[batch.id] = copy.deepcopy(batch)
            self.members_by[batch.id] = {}
            return True

    def add_members(self, batch: Batch, members: list[tuple[BatchMember, str]]) -> None:
        with self.lock:
            for m, request in members:
                self.members_by[batch.id][m.job_id] = copy.deepcopy(m)
                self.requests[(batch.id, m.job_id)] = request
                if m.terminal:
                    self.batches[batch.id].counts[m.status] += 1

    def seal(self, batch_id: str, total: int, providers: list[str]) -> None:
        batch = self.batches[batch_id]
        batch.total, batch.sealed, batch.providers = total, True, list(providers)

    def mark_cancelled(self, batch_id: str, at: float) -> None:
        batch = self.batches[batch_id]
        batch.cancelled_at = batch.cancelled_at or at

    def mark_deleted(self, batch_id: str, at: float) -> None:
        batch = self.batches[batch_id]
        batch.deleted_at = batch.deleted_at or at

    def get(self, batch_id: str, *, counts: bool = True) -> Batch:
        if batch_id not in self.batches:
            raise BatchNotFoundError(batch_id)
        return copy.deepcopy(self.batches[batch_id])

    def request(self, batch_id: str, job_id: str) -> str:
        return self.requests[(batch_id, job_id)]

    def member(self, batch_id: str, job_id: str) -> BatchMember:
        return copy.deepcopy(self.members_by[batch_id][job_id])

    def members(self, batch_id: str) -> list[BatchMember]:
        return sorted((copy.deepcopy(m) for m in self.members_by[batch_id].values()), key=lambda m: m.index)

    def members_page(self, batch_id: str, limit: int, after: str | None) -> tuple[list[BatchMember], bool]:
        """As DynamoDB pages them: by job id (`M#<job id>` sort keys)."""
        ordered = sorted(self.members(batch_id), key=lambda m: m.job_id)
        rest = [m for m in ordered if after is None or m.job_id > after]
        return rest[:limit], len(rest) > limit

    def set_token(self, batch_id: str, job_id: str, token: str) -> BatchMember | None:
        member = self.members_by.get(batch_id, {}).get(job_id)
        if member is None:
            return None
        member.token = token
        return replace(copy.deepcopy(member), request=self.requests.get((batch_id, job_id)))

    def transition(self, batch_id: str, job_id: str, status: str, outputs=None, error=None) -> MemberMove:
        """As the store moves one: the member and the batch after the move (or as they stood)."""
        with self.lock:
            member = self.members_by[batch_id][job_id]
            changed = not (member.status in TERMINAL or (status == "processing" and member.status != "queued"))
            if changed:
                counts = self.batches[batch_id].counts
                if member.status == "processing":
                    counts["processing"] -= 1
                counts[status] += 1
                member.status, member.outputs, member.error = status, list(outputs or []), error
            return MemberMove(changed, copy.deepcopy(member), copy.deepcopy(self.batches[batch_id]))

    def manifest(self, batch_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.get(batch_id).manifest)

    def claim_completion(self, batch_id: str, by: str, at: float) -> bool:
        with self.lock:
            batch = self.batches[batch_id]
            if batch.completion is None or (batch.completion == "pending" and self.completion_by[batch_id] == by):
                batch.completion, batch.finished_at = "pending", at
                self.completion_by[batch_id] = by
                return True
            return False

    def mark_completion_sent(self, batch_id: str) -> None:
        self.batches[batch_id].completion = "sent"


class FakeWorkflow:
    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.released: list[str] = []

    def start(self, name: str, payload: dict[str, Any]) -> None:
        if name not in [n for n, _ in self.started]:
            self.started.append((name, payload))

    def send_failure(self, token: str, error: str, cause: str) -> bool:
        return True

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        self.released.append(token)
        return True


class FakeDeadLetters:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any]) -> None:
        self.messages.append(body)


def fetch_image(url: str, policy: FetchPolicy) -> bytes:
    """The web as unit tests see it: images.example serves a real JPEG, every other host is unreachable."""
    if url.startswith("https://images.example/"):
        return JPEG
    raise FetchError("url_unreachable", f"cannot connect to {url}: connection failed")


@dataclass
class FakeJobs:
    """What BatchService uses of JobService: the real InputLoader over in-memory blobs and a fake web."""

    blobs: FakeBlobs = field(default_factory=FakeBlobs)
    idempotency: Any = None
    repo: FakeJobRepository = field(default_factory=FakeJobRepository)
    inputs: InputLoader = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = InputLoader(
            self.blobs,
            input_bucket=INPUT_BUCKET,
            policy=FetchPolicy(),
            max_pixels=40_000_000,
            max_bytes=20 * 1024 * 1024,
            fetch=fetch_image,
        )

    def parse(self, body: Any) -> Any:
        return parse_job_request(body, providers={"engine", "akool", "wavespeed-pro"}, default_provider="engine")

    def available_providers(self, name: str) -> list[str]:
        if name == "akool":
            raise ProviderUnavailableError("akool", "SWAPFLOW_AKOOL_API_KEY")
        return [name]

"""Many users at once on a local stack: the route mix of the load test (tests/e2e/test_load.py) and the
load benchmark (bench/load.py).

Each client belongs to a tenant and loops over a weighted mix of what users do: create jobs (some with a
repeated Idempotency-Key), read them, list, cancel, the WaveSpeed and Akool drop-in routes, uploads,
S3 manifests (some put twice) and Swap Requested events (some sent twice). Every request carries a nonce
in its metadata, so every answer and every stored job can be checked against its own sender's request.
The run is bounded in count and time and stops by itself; it only talks to the stack on loopback.
"""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.client import ApiClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
TERMINAL = ("completed", "failed", "cancelled")
TERMINAL_EVENTS = ("Swap Job Completed", "Swap Job Failed", "Swap Job Cancelled")


def small_jpeg(name: str, width: int = 320) -> bytes:
    """A fixture photo scaled down: the load is about the stack, not the swap."""
    from PIL import Image

    with Image.open(FIXTURES / name) as image:
        image = image.convert("RGB")
        image.thumbnail((width, width * 2))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def as_data_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


@dataclass
class Sent:
    """What a client asked for, to compare with what the stack answers and stores."""

    tenant: str
    nonce: str
    route: str


@dataclass
class Ledger:
    """Everything the clients saw, shared by all of them (under a lock)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    jobs: dict[str, Sent] = field(default_factory=dict)  # job id -> who sent it (API and drop-in routes)
    by_tenant: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    manifests: list[str] = field(default_factory=list)  # outbox result keys
    correlations: dict[str, str] = field(default_factory=dict)  # correlation id -> nonce
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[route].append(seconds)
            self.statuses[(route, status)] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def job(self, job_id: str, sent: Sent) -> None:
        with self.lock:
            known = self.jobs.get(job_id)
            if known is not None and known.nonce != sent.nonce:
                self.problems.append(f"job {job_id} answered to {sent} was created for {known}")
            self.jobs.setdefault(job_id, sent)
            self.by_tenant[sent.tenant].append(job_id)


class Client:
    """One user: a tenant's API key and a loop over the mix."""

    def __init__(self, mix: LoadMix, tenant: str, key: str, seed: int) -> None:
        self.mix = mix
        self.tenant = tenant
        self.key = key
        self.api = ApiClient(mix.api_url, key)
        self.rng = random.Random(seed)

    def call(self, route: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        started = time.monotonic()
        try:
            status, _, answer = self.api.request(method, path, body, headers=headers)
        except Exception as exc:  # a reset or a timeout is an answer the user would see
            self.mix.ledger.record(route, 599, time.monotonic() - started)
            self.mix.ledger.problem(f"{route}: no answer ({type(exc).__name__}: {exc})")
            return 599, None
        self.mix.ledger.record(route, status, time.monotonic() - started)
        if status >= 500:
            self.mix.ledger.problem(f"{route}: HTTP {status} {str(answer)[:300]}")
        return status, answer

    def metadata(self) -> tuple[Sent, dict[str, Any]]:
        sent = Sent(self.tenant, uuid.uuid4().hex, "")
        return sent, {"tenant": self.tenant, "nonce": sent.nonce}

    # ---- the mix -------------------------------------------------------------------------------
    def submit(self) -> str | None:
        sent, metadata = self.metadata()
        provider = self.rng.choice(self.mix.providers)
        body = {**self.mix.images, "provider": provider, "metadata": metadata}
        headers = {}
        repeat = self.rng.random() < 0.3
        if repeat:
            headers["Idempotency-Key"] = f"load-{sent.nonce}"
        ids = []
        for _ in range(2 if repeat else 1):
            status, answer = self.call("POST /v1/jobs", "POST", "/v1/jobs", body, headers)
            if status not in (200, 202):
                self.mix.ledger.problem(f"POST /v1/jobs: valid request answered {status}: {answer}")
                return None
            if answer.get("metadata") != metadata:
                self.mix.ledger.problem(f"POST /v1/jobs answered another request's metadata: {answer.get('metadata')}")
            ids.append(answer["id"])
            self.mix.ledger.job(answer["id"], Sent(self.tenant, sent.nonce, "POST /v1/jobs"))
        if len(set(ids)) != 1:
            self.mix.ledger.problem(f"an Idempotency-Key repeated gave two jobs: {ids}")
        return ids[0]

    def own_job(self) -> str | None:
        with self.mix.ledger.lock:
            mine = [
                j for j in self.mix.ledger.by_tenant[self.tenant] if self.mix.ledger.jobs[j].route == "POST /v1/jobs"
            ]
        return self.rng.choice(mine) if mine else None

    def get(self) -> None:
        job_id = self.own_job() or self.submit()
        if job_id is None:
            return None
        status, answer = self.call("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job_id}")
        if status != 200:
            return self.mix.ledger.problem(f"GET own job {job_id}: {status} {answer}")
        if (answer.get("metadata") or {}).get("nonce") != self.mix.ledger.jobs[job_id].nonce:
            self.mix.ledger.problem(f"GET {job_id} answered another job's metadata: {answer.get('metadata')}")
        return None

    def list(self) -> None:
        status, answer = self.call("GET /v1/jobs", "GET", "/v1/jobs?limit=20")
        if status != 200:
            return self.mix.ledger.problem(f"GET /v1/jobs: {status} {answer}")
        for job in answer.get("jobs", []):
            tenant = (job.get("metadata") or {}).get("tenant")
            if tenant is not None and tenant != self.tenant:
                self.mix.ledger.problem(f"tenant {self.tenant}'s list shows {tenant}'s job {job['id']}")
        return None

    def cancel(self) -> None:
        job_id = self.own_job() or self.submit()
        if job_id is None:
            return None
        status, answer = self.call("POST /v1/jobs/{id}/cancel", "POST", f"/v1/jobs/{job_id}/cancel")
        if status not in (200, 202, 409):  # 409: it had already ended, which is a valid answer
            self.mix.ledger.problem(f"cancel {job_id}: {status} {answer}")
        return None

    def wavespeed(self) -> None:
        sent, _ = self.metadata()
        body = {"image": self.mix.images["target_image"], "face_image": self.mix.images["source_image"]}
        bearer = {"Authorization": f"Bearer {self.key}"}
        route = "POST /api/v3/wavespeed-ai/image-face-swap-pro"
        status, answer = self.call(route, "POST", "/api/v3/wavespeed-ai/image-face-swap-pro", body, bearer)
        if status != 200 or (answer or {}).get("code") != 200:
            return self.mix.ledger.problem(f"{route}: {status} {answer}")
        job_id = answer["data"]["id"]
        self.mix.ledger.job(job_id, Sent(self.tenant, sent.nonce, route))
        status, answer = self.call(
            "GET /api/v3/predictions/{id}/result", "GET", f"/api/v3/predictions/{job_id}/result", None, bearer
        )
        if status != 200 or answer["data"]["id"] != job_id:
            self.mix.ledger.problem(f"WaveSpeed result of {job_id}: {status} {answer}")
        return None

    def akool(self) -> None:
        sent, _ = self.metadata()
        body = {
            "sourceImage": [{"path": self.mix.images["source_image"]}],
            "targetImage": [{"path": self.mix.images["target_image"]}],
            "model_name": "akool_faceswap_image_hq",
        }
        route = "POST /api/open/v4/faceswap/faceswapByImage"
        status, answer = self.call(
            route, "POST", "/api/open/v4/faceswap/faceswapByImage", body, {"x-api-key": self.key}
        )
        if status != 200 or (answer or {}).get("code") != 1000:
            return self.mix.ledger.problem(f"{route}: {status} {answer}")
        job_id = answer["data"]["_id"]
        self.mix.ledger.job(job_id, Sent(self.tenant, sent.nonce, route))
        path = f"/api/open/v3/faceswap/result/listbyids?_ids={job_id}"
        status, answer = self.call(
            "GET /api/open/v3/faceswap/result/listbyids", "GET", path, None, {"x-api-key": self.key}
        )
        if status != 200 or answer.get("code") != 1000 or [r["_id"] for r in answer["data"]["result"]] != [job_id]:
            self.mix.ledger.problem(f"Akool listbyids of {job_id}: {status} {answer}")
        return None

    def upload(self) -> None:
        data = self.mix.source_bytes
        body = {"filename": "face.jpg", "content_type": "image/jpeg", "size": len(data)}
        status, answer = self.call("POST /v1/uploads", "POST", "/v1/uploads", body)
        if status not in (200, 201):
            return self.mix.ledger.problem(f"POST /v1/uploads: {status} {answer}")
        import urllib.request

        put = urllib.request.Request(answer["upload"]["url"], data=data, method="PUT")
        for name, value in (answer["upload"].get("headers") or {}).items():
            put.add_header(name, value)
        with urllib.request.urlopen(put, timeout=30) as done:
            if done.status != 200:
                return self.mix.ledger.problem(f"upload PUT answered {done.status}")
        sent, metadata = self.metadata()
        body = {
            "source_image": answer["image_ref"],
            "target_image": self.mix.images["target_image"],
            "metadata": metadata,
        }
        status, job = self.call("POST /v1/jobs", "POST", "/v1/jobs", body)
        if status not in (200, 202):
            return self.mix.ledger.problem(f"POST /v1/jobs with an upload ref: {status} {job}")
        self.mix.ledger.job(job["id"], Sent(self.tenant, sent.nonce, "POST /v1/jobs"))
        return None

    def manifest(self) -> None:
        folder = self.mix.folder
        name = f"m-{uuid.uuid4().hex[:10]}"
        manifest = {"jobs": [{"source_image": "source.jpg", "target_image": "target.jpg", "metadata": {"m": name}}]}
        s3 = self.mix.aws("s3")
        for _ in range(2 if self.rng.random() < 0.3 else 1):  # a second put is a new version: its own jobs
            started = time.monotonic()
            s3.put_object(Bucket=self.mix.bucket, Key=f"inbox/{folder}/{name}.json", Body=json.dumps(manifest).encode())
            self.mix.ledger.record("S3 PutObject inbox/", 200, time.monotonic() - started)
        with self.mix.ledger.lock:
            self.mix.ledger.manifests.append(f"outbox/{folder}/{name}.result.json")

    def event(self) -> None:
        correlation_id = f"load-{uuid.uuid4().hex}"
        nonce = uuid.uuid4().hex
        detail = {**self.mix.images, "correlation_id": correlation_id, "metadata": {"nonce": nonce}}
        events = self.mix.aws("events")
        for _ in range(2 if self.rng.random() < 0.3 else 1):  # EventBridge delivers at least once
            started = time.monotonic()
            answer = events.put_events(
                Entries=[
                    {
                        "EventBusName": "swapflow",
                        "Source": "load.orders",
                        "DetailType": "Swap Requested",
                        "Detail": json.dumps(detail),
                    }
                ]
            )
            self.mix.ledger.record("EventBridge PutEvents", 200, time.monotonic() - started)
            if answer["FailedEntryCount"]:
                self.mix.ledger.problem(f"PutEvents failed: {answer}")
        with self.mix.ledger.lock:
            self.mix.ledger.correlations[correlation_id] = nonce


class LoadMix:
    """A bounded load run: clients per tenant for some seconds, then the bookkeeping of what they made."""

    WEIGHTS: dict[str, int] = {
        "submit": 5,
        "get": 8,
        "list": 4,
        "cancel": 1,
        "wavespeed": 2,
        "akool": 2,
        "upload": 1,
        "manifest": 1,
        "event": 1,
    }

    def __init__(
        self,
        api_url: str,
        aws_endpoint: str,
        bucket: str,
        tenants: dict[str, str],
        *,
        providers: tuple[str, ...] = ("engine",),
        trigger_tenant: str | None = None,
        weights: dict[str, int] | None = None,
        think: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        self.api_url = api_url
        self.aws_endpoint = aws_endpoint
        self.bucket = bucket
        self.tenants = tenants
        self.providers = providers
        self.trigger_tenant = trigger_tenant
        self.weights = dict(weights or self.WEIGHTS)
        self.think = think
        self.ledger = Ledger()
        self.source_bytes = small_jpeg("source.jpg")
        self.target_bytes = small_jpeg("target.jpg")
        self.images = {"source_image": as_data_uri(self.source_bytes), "target_image": as_data_uri(self.target_bytes)}
        self.folder = f"load-{uuid.uuid4().hex[:8]}"
        self._local = threading.local()

    def aws(self, service: str) -> Any:
        import boto3

        clients = self._local.__dict__.setdefault("clients", {})
        if service not in clients:
            clients[service] = boto3.client(
                service,
                endpoint_url=self.aws_endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return clients[service]

    def prepare(self) -> None:
        """The manifests' photos, next to them in the inbox (a photo is not a manifest: nothing starts)."""
        s3 = self.aws("s3")
        s3.put_object(Bucket=self.bucket, Key=f"inbox/{self.folder}/source.jpg", Body=self.source_bytes)
        s3.put_object(Bucket=self.bucket, Key=f"inbox/{self.folder}/target.jpg", Body=self.target_bytes)

    def run(self, seconds: float, clients_per_tenant: int, *, during: Callable[[float], None] | None = None) -> None:
        """Every client loops until `seconds` have passed; `during(elapsed)` runs beside them every second."""
        self.prepare()
        stop = time.monotonic() + seconds
        names = [n for n in self.weights for _ in range(self.weights[n])]

        def loop(client: Client, first: str) -> None:
            op = first  # each client starts on another route, so every route is exercised however slow it gets
            while time.monotonic() < stop:
                if op in ("manifest", "event") and client.tenant != self.trigger_tenant:
                    op = "submit"  # manifests and events make jobs of the trigger tenant
                try:
                    getattr(client, op)()
                except Exception as exc:  # a broken client step is a finding, not a crash of the run
                    self.ledger.problem(f"{op} raised {type(exc).__name__}: {exc}")
                time.sleep(client.rng.uniform(*self.think))
                op = client.rng.choice(names)

        # the trigger tenant's clients come first and start on the routes only they take
        routes = sorted((n for n in self.weights if self.weights[n]), key=lambda n: n not in ("manifest", "event"))
        clients = [
            Client(self, tenant, key, hash((tenant, i)) & 0xFFFF)
            for tenant, key in self.tenants.items()
            for i in range(clients_per_tenant)
        ]
        threads = [
            threading.Thread(target=loop, args=(client, routes[i % len(routes)]), daemon=True)
            for i, client in enumerate(sorted(clients, key=lambda c: c.tenant != self.trigger_tenant))
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if during is not None:
                during(time.monotonic() - started)
            for thread in threads:
                thread.join(timeout=1.0 / max(1, len(threads)))
        for thread in threads:
            thread.join()

    # ---- after the run ------------------------------------------------------------------------------
    def manifest_jobs(self, timeout: float) -> list[str]:
        """The jobs the manifests made, read from their outbox results (waiting for each to appear)."""
        s3 = self.aws("s3")
        ids: list[str] = []
        deadline = time.monotonic() + timeout
        for key in self.ledger.manifests:
            while True:
                try:
                    doc = json.loads(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                    ids.extend(job["id"] for job in doc["jobs"] if job.get("id"))
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        self.ledger.problem(f"manifest result {key} never appeared")
                        break
                    time.sleep(0.5)
        return ids

    def wait_terminal(
        self, job_ids: list[str], tenant_key: dict[str, str], owner: dict[str, str], timeout: float
    ) -> dict[str, dict[str, Any]]:
        """Every job read until it is terminal (or the time is up); returns the last view of each."""
        views: dict[str, dict[str, Any]] = {}
        pending = list(job_ids)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            still = []
            for job_id in pending:
                status, _, job = ApiClient(self.api_url, tenant_key[owner[job_id]]).request("GET", f"/v1/jobs/{job_id}")
                if status == 200:
                    views[job_id] = job
                if status != 200 or job["status"] not in TERMINAL:
                    still.append(job_id)
            pending = still
            if pending:
                time.sleep(1.0)
        for job_id in pending:
            self.ledger.problem(f"job {job_id} did not reach a terminal state: {views.get(job_id, {}).get('status')}")
        return views

    def terminal_events(self) -> dict[str, list[dict[str, Any]]]:
        """The terminal events on the bus, by job id, read once from the bus's audit log group."""
        logs = self.aws("logs")
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName="/aws/events/swapflow"):
            for record in page.get("events", []):
                event = json.loads(record["message"])
                job = (event.get("detail") or {}).get("job") or {}
                if event.get("detail-type") in TERMINAL_EVENTS and job.get("id"):
                    found[job["id"]].append(event)
        return found

    def latency_table(self, seconds: float) -> dict[str, dict[str, float]]:
        table = {}
        for route, values in sorted(self.ledger.latencies.items()):
            ordered = sorted(values)

            def pct(p: float, ordered: list[float] = ordered) -> float:
                return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

            table[route] = {
                "requests": len(ordered),
                "rps": round(len(ordered) / seconds, 2),
                "p50_ms": pct(0.50),
                "p95_ms": pct(0.95),
                "p99_ms": pct(0.99),
            }
        return table

"""Loopback fixtures: an input image server (presigned-URL stand-in), a webhook receiver, the simulators."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sim_helpers import AKOOL_KEY, CLIENT_ID, CLIENT_SECRET, PROCESSING_SECONDS, WAVESPEED_KEY, WEBHOOK_SECRET
from swapflow.providers.base import ImageRef
from swapflow.sim import AkoolSimulator, WaveSpeedSimulator


def _face(draw: ImageDraw.ImageDraw, cx: int, cy: int, skin: tuple[int, int, int]) -> None:
    """A cartoon face the offline engine's detector finds (oval, two eyes, a mouth)."""
    draw.ellipse((cx - 58, cy - 75, cx + 58, cy + 75), fill=skin)
    draw.ellipse((cx - 28, cy - 25, cx - 13, cy - 15), fill=(0, 0, 0))
    draw.ellipse((cx + 12, cy - 25, cx + 27, cy - 15), fill=(0, 0, 0))
    draw.line((cx - 18, cy + 35, cx + 17, cy + 35), fill=(150, 0, 0), width=4)


def make_image(centres: list[int], skin: tuple[int, int, int], width: int = 256) -> bytes:
    picture = Image.new("RGB", (width, 256), (200, 180, 160))
    draw = ImageDraw.Draw(picture)
    for cx in centres:
        _face(draw, cx, 125, skin)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Images:
    url: str
    blobs: dict[str, bytes]

    def ref(self, name: str) -> ImageRef:
        return ImageRef("input-bucket", name, "image/jpeg", f"{self.url}/{name}?X-Amz-Signature=test")


@pytest.fixture(scope="session")
def images() -> Iterator[Images]:
    blobs = {
        "source.jpg": make_image([128], (240, 200, 170)),
        "source2.jpg": make_image([128], (180, 130, 100)),
        "target.jpg": make_image([128], (230, 190, 160)),
        "two-faces.jpg": make_image([110, 290], (230, 190, 160), width=400),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = blobs.get(self.path.split("?", 1)[0].lstrip("/"))
            self.send_response(200 if data else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(Handler)
    yield Images(server.url, blobs)
    server.close()


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    answer: int = 200
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
        return list(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box = holder[0]
            with box._arrived:
                box.deliveries.append(Delivery(dict(self.headers.items()), body, time.monotonic()))
                box._arrived.notify_all()
            self.send_response(box.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(Handler)
    holder.append(Receiver(server.url + "/webhooks/test"))
    yield holder[0]
    server.close()


@pytest.fixture
def akool_sim(request: pytest.FixtureRequest) -> Iterator[AkoolSimulator]:
    """An Akool simulator; a test picks faults with @pytest.mark.faults("lost_webhook", ...)."""
    marker = request.node.get_closest_marker("faults")
    sim = AkoolSimulator(
        api_key=AKOOL_KEY,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        faults=frozenset(marker.args if marker else ()),
        processing_seconds=PROCESSING_SECONDS,
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def wavespeed_sim(request: pytest.FixtureRequest) -> Iterator[WaveSpeedSimulator]:
    marker = request.node.get_closest_marker("faults")
    sim = WaveSpeedSimulator(
        api_key=WAVESPEED_KEY,
        webhook_secret=WEBHOOK_SECRET,
        faults=frozenset(marker.args if marker else ()),
        processing_seconds=PROCESSING_SECONDS,
    )
    sim.start()
    yield sim
    sim.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults(*names): simulator fault modes for this test")

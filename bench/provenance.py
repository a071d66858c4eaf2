"""Cost of provenance per output: ms and bytes that XMP + signed C2PA credentials add, per format.

Run: .venv/bin/python bench/provenance.py  ->  bench/results/provenance.json
Marks engine-sized outputs (the bundled target photo re-encoded at 1024 px) the way the finisher does.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from swapflow.provenance import OutputFacts, Provenance
from swapflow.provenance.keys import DirectoryKeyStore

ROOT = Path(__file__).resolve().parent.parent
RUNS = 30


def main() -> None:
    photo = Image.open(ROOT / "tests" / "fixtures" / "images" / "target.jpg").convert("RGB")
    photo = photo.resize((1024, round(1024 * photo.height / photo.width)))
    keys = DirectoryKeyStore(tempfile.mkdtemp()).load()
    marker = Provenance(lambda: keys)
    results = {}
    for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        buf = io.BytesIO()
        photo.save(buf, fmt, quality=90)
        data = buf.getvalue()
        facts = OutputFacts(
            "01BENCHBENCHBENCHBENCHBENC",
            "engine",
            mime,
            photo.width,
            photo.height,
            "bench/0",
            ("image/jpeg", "a" * 64),
            ("image/jpeg", "b" * 64),
        )
        marker.mark(data, facts)  # warm: the c2pa library loads once per process
        times, size = [], 0
        for _ in range(RUNS):
            start = time.perf_counter()
            size = len(marker.mark(data, facts))
            times.append((time.perf_counter() - start) * 1000)
        results[mime] = {
            "input_bytes": len(data),
            "bytes_added": size - len(data),
            "ms_p50": round(statistics.median(times), 2),
            "ms_max": round(max(times), 2),
        }
        print(f"{mime:11} {len(data):>9} B  +{size - len(data):>5} B  {statistics.median(times):6.2f} ms p50")
    out = ROOT / "bench" / "results" / "provenance.json"
    out.write_text(
        json.dumps({"runs": RUNS, "width": photo.width, "height": photo.height, "formats": results}, indent=2)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Regenerate docs/swap.jpg, the README's picture: source | target | result, made by the offline engine
from the bundled photos (`.venv/bin/python docs/make_swap_picture.py`)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from swapflow.engine import SwapOptions, swap  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "images"
TILE = 256
LABEL = 22


def main() -> None:
    source, target = (FIXTURES / "source.jpg").read_bytes(), (FIXTURES / "target.jpg").read_bytes()
    result = swap(source, target, SwapOptions(output_format="png")).data
    tiles = [Image.open(io.BytesIO(data)).convert("RGB") for data in (source, target, result)]
    sheet = Image.new("RGB", (3 * TILE + 4 * 8, TILE + LABEL + 16), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (tile, label) in enumerate(zip(tiles, ("source", "target", "result"), strict=True)):
        tile.thumbnail((TILE, TILE))
        x = 8 + i * (TILE + 8) + (TILE - tile.width) // 2
        sheet.paste(tile, (x, 8 + (TILE - tile.height) // 2))
        draw.text((8 + i * (TILE + 8) + TILE // 2, TILE + 14), label, fill="#374151", anchor="mt")
    sheet.save(ROOT / "docs" / "swap.jpg", quality=85, optimize=True)


if __name__ == "__main__":
    main()

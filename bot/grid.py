"""One labelled grid of results (for /compare); runs in a worker thread."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

LABEL_HEIGHT = 18
GAP = 6


def labelled_grid(rows: list[tuple[str, bytes]]) -> bytes:
    """Stack the results (our own PNGs) top to bottom, each under its label; returns a PNG."""
    images = [(label, Image.open(io.BytesIO(data)).convert("RGB")) for label, data in rows]
    if not images:
        raise ValueError("rows must not be empty")
    width = max(image.width for _, image in images)
    height = sum(image.height + LABEL_HEIGHT + GAP for _, image in images)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    top = 0
    for label, image in images:
        draw.text((4, top + 3), label, fill="black")
        sheet.paste(image, (0, top + LABEL_HEIGHT))
        top += image.height + LABEL_HEIGHT + GAP
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()

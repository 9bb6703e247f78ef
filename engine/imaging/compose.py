"""Side-by-side panels and labelled grids."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
CAPTION_HEIGHT = 18


def _resize_to_height(image: Image.Image, height: int) -> Image.Image:
    if image.height == height:
        return image
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def side_by_side(
    panels: Sequence[Image.Image], labels: Sequence[str] | None = None, gap: int = 4
) -> Image.Image:
    """Panels left to right at the first panel's height, with optional captions above."""
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"got {len(labels)} labels for {len(panels)} panels")
    height = panels[0].height
    resized = [_resize_to_height(panel.convert("RGB"), height) for panel in panels]
    top = CAPTION_HEIGHT if labels else 0
    width = sum(panel.width for panel in resized) + gap * (len(resized) - 1)
    canvas = Image.new("RGB", (width, height + top), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    x = 0
    for index, panel in enumerate(resized):
        canvas.paste(panel, (x, top))
        if labels:
            draw.text((x + 4, 3), labels[index], fill=(0, 0, 0), font=font)
        x += panel.width + gap
    return canvas


def grid(
    rows: Sequence[Sequence[Image.Image]], labels: Sequence[str] | None = None, gap: int = 4
) -> Image.Image:
    """Rows of panels stacked top to bottom; each row optionally captioned."""
    if not rows:
        raise ValueError("grid needs at least one row")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"got {len(labels)} labels for {len(rows)} rows")
    strips = [
        side_by_side(row, [labels[i]] + [""] * (len(row) - 1) if labels else None, gap)
        for i, row in enumerate(rows)
    ]
    width = max(strip.width for strip in strips)
    canvas = Image.new(
        "RGB", (width, sum(s.height for s in strips) + gap * (len(strips) - 1)), BACKGROUND
    )
    y = 0
    for strip in strips:
        canvas.paste(strip, (0, y))
        y += strip.height + gap
    return canvas

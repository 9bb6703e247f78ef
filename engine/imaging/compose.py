"""Compose panels side by side (original | interpretation) and in labelled grids."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
TEXT = (32, 32, 32)


def side_by_side(
    panels: Sequence[Image.Image], labels: Sequence[str] | None = None, gap: int = 4
) -> Image.Image:
    """Panels left to right, resized to the first one's height; optional caption strip below."""
    if not panels:
        raise ValueError("panels must not be empty")
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"labels has {len(labels)} entries for {len(panels)} panels")
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    row = _row(panels, panels[0].height, gap)
    if labels is None:
        return row
    strip = _caption_strip(row.width, row.height)
    font = _font(row.height)
    draw = ImageDraw.Draw(strip)
    x = 0
    for panel_width, label in zip(_widths(panels, row.height), labels, strict=True):
        _draw_centered(draw, label, font, x, panel_width, strip.height)
        x += panel_width + gap
    return _stack([row, strip], gap=0)


def grid(rows: Sequence[Sequence[Image.Image]], labels: Sequence[str] | None = None) -> Image.Image:
    """Rows of panels stacked top to bottom, all at the first panel's height; one label per row."""
    if not rows or any(not row for row in rows):
        raise ValueError("rows must be non-empty lists of panels")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"labels has {len(labels)} entries for {len(rows)} rows")
    height = rows[0][0].height
    gap = 4
    parts: list[Image.Image] = []
    for i, panels in enumerate(rows):
        if labels is not None:
            width = sum(_widths(panels, height)) + gap * (len(panels) - 1)
            title = _caption_strip(width, height)
            draw = ImageDraw.Draw(title)
            font = _font(height)
            text = _fit_text(draw, labels[i], font, title.width - 8)
            draw.text((4, title.height // 2), text, fill=TEXT, font=font, anchor="lm")
            parts.append(title)
        parts.append(_row(panels, height, gap))
    return _stack(parts, gap=gap)


def _widths(panels: Sequence[Image.Image], height: int) -> list[int]:
    return [max(1, round(p.width * height / p.height)) for p in panels]


def _row(panels: Sequence[Image.Image], height: int, gap: int) -> Image.Image:
    widths = _widths(panels, height)
    canvas = Image.new("RGB", (sum(widths) + gap * (len(panels) - 1), height), BACKGROUND)
    x = 0
    for panel, width in zip(panels, widths, strict=True):
        panel = panel.convert("RGB") if panel.mode != "RGB" else panel
        if panel.size != (width, height):
            panel = panel.resize((width, height), Image.Resampling.LANCZOS)
        canvas.paste(panel, (x, 0))
        x += width + gap
    return canvas


def _stack(parts: Sequence[Image.Image], gap: int) -> Image.Image:
    """Parts top to bottom, left-aligned, padded to the widest."""
    width = max(p.width for p in parts)
    height = sum(p.height for p in parts) + gap * (len(parts) - 1)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    y = 0
    for part in parts:
        canvas.paste(part, (0, y))
        y += part.height + gap
    return canvas


def _font_size(image_height: int) -> int:
    # About 5% of the panel height: readable in a Discord preview, small next to the images.
    return max(10, min(32, round(image_height * 0.05)))


def _font(image_height: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(_font_size(image_height))


def _caption_strip(width: int, image_height: int) -> Image.Image:
    return Image.new("RGB", (width, round(_font_size(image_height) * 1.6)), BACKGROUND)


def _fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    max_width: int,
) -> str:
    """Shorten `text` with '...' until it fits `max_width` pixels."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "...", font=font) > max_width:
        text = text[:-1]
    return text + "..." if text else ""


def _draw_centered(
    draw: ImageDraw.ImageDraw,
    label: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    x: int,
    width: int,
    height: int,
) -> None:
    text = _fit_text(draw, label, font, width - 4)
    draw.text((x + width // 2, height // 2), text, fill=TEXT, font=font, anchor="mm")

"""Write the README gallery: everyday photos the bundled models never saw, per model.

Run from the repository root: .venv/bin/python -m scripts.gallery [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.quality import everyday_photos
from engine.device import resolve_device
from engine.imaging import encode_image
from engine.models import ModelRegistry, load_model
from engine.pipeline import ImageTranslator

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "flower", "china")


def main(out_dir: Path) -> int:
    device = resolve_device("auto")
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = [(name, image) for name, image in everyday_photos() if name in PHOTOS]
    for entry in ModelRegistry(None).entries():
        translator = ImageTranslator(load_model(entry.path, device))
        results = translator.translate([image for _, image in photos])
        for (name, _), result in zip(photos, results, strict=True):
            target = out_dir / f"{name}-{entry.name}.jpg"
            target.write_bytes(encode_image(result.compose(panels=3), "jpeg", quality=88))
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/gallery")))

"""Write the README gallery: everyday photos the bundled models never saw, per model, each
answered as the engine answers it (at the photo's own size, up to 1024 px, where the model has
a detail network).

Run from the repository root: .venv/bin/python -m scripts.gallery [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.quality import everyday_photos
from engine.device import resolve_device
from engine.imaging import encode_image
from engine.models import ModelRegistry, load_model
from engine.pipeline import DEFAULT_LARGEST, ImageTranslator

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "flower", "china")


def main(out_dir: Path) -> int:
    device = resolve_device("auto")
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = [(name, image) for name, image in everyday_photos(None) if name in PHOTOS]
    registry = ModelRegistry(None)
    for entry in (registry.get(name) for name in registry.names()):
        translator = ImageTranslator(load_model(entry.path, device))
        images = [image for _, image in photos]
        results = [
            translator.detailed(image, result, largest=DEFAULT_LARGEST)
            for image, result in zip(images, translator.translate(images), strict=True)
        ]
        for (name, _), result in zip(photos, results, strict=True):
            target = out_dir / f"{name}-{entry.name}.jpg"
            target.write_bytes(encode_image(result.compose(panels=3), "jpeg", quality=88))
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/gallery")))

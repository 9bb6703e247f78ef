"""Bot features: `bot/exts/<area>/<feature>.py`, each an extension with `async def setup(bot)`."""

"""The composition root: the one place that builds the concrete parts from settings.

The layers below never reach up here: `engine/` (the library) and `infra/` (settings and the
database) know nothing of each other or of the bot; `bot/` knows the engine only through its
client interface. Three modules, so that a command imports no more than it uses (a command
line that answers at once):

- `limits`: the limits on untrusted input (no torch: checked before any model loads);
- `registry`: the installed models (no torch: listed without loading one);
- `engine`: the engine and the engine service's configuration;
- `bot`: the engine client (HTTP services or in-process), every part of the bot, and what
  it opens: the database and the engine client, opened before the bot starts and closed
  after it stops.
"""

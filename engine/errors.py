"""Project exceptions. Their messages are short and safe to show to a user."""


class EngineError(Exception):
    """Base class for errors the engine reports to its callers."""


class InputError(EngineError):
    """The input is not something we can work on: not an image, truncated, too big..."""


class ModelError(EngineError):
    """A model is missing, or its file does not match its config."""


class NotConfiguredError(EngineError):
    """This engine has no folder for the operation (datasets, training runs)."""


class TrainingDivergedError(EngineError):
    """A training step's losses stopped being finite numbers; nothing is registered."""

"""Errors a user can act on."""


class ConfigError(ValueError):
    """A bad value in the user's config or environment.

    The CLI prints only its message (no traceback) and exits with status 2, before any compute.
    """


class TrainingDiverged(ConfigError):
    """The loss became NaN or infinite: almost always a learning rate too high for the setup."""

"""One exception type for everything a user can fix; the CLI prints its message as one line."""


class PreanalysisError(Exception):
    """A problem with the input, the config or the environment, phrased as 'what is wrong: how to fix it'."""

"""The one exception type the project raises for bad user input.

Every check that a user can trip (a malformed layer spec, an activation outside its window, an
impossible tile configuration, a layer that would overflow the accumulator) raises
:class:`ConfigError` with a single line naming the bad value; the CLI prints that line and exits
with status 2.
"""


class ConfigError(ValueError):
    """Bad user input: the message is one line and names the offending value."""

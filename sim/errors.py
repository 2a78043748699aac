"""The two kinds of failure the project reports, each with its own exit status.

* :class:`ConfigError` — bad user input: a malformed layer spec, an activation outside its
  window, an impossible tile configuration, a layer that would overflow the accumulator, a
  missing or broken file. One line naming the bad value; the command exits with status 2.
* :class:`ToolError` — an external tool failed (yosys, a simulator's build, OpenSTA): not the
  user's fault. One line naming the tool and where its log is; the command exits with status 3.

(A verification that ran and found a difference is neither: the command reports it and exits
with status 1.)
"""


class ConfigError(ValueError):
    """Bad user input: the message is one line and names the offending value."""

    exit_status = 2


class ToolError(RuntimeError):
    """An external tool failed or misbehaved: the message names the tool and its log."""

    exit_status = 3

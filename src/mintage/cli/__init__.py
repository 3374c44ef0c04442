"""The ``mintage`` command (docs/architecture.md §1 cli/): serve, db, client, user and tokens.

Output is human-readable by default and JSON with ``--json``.  User errors end with a
message on stderr and a non-zero exit code, never a traceback: 1 when something named
does not exist or cannot be done, 2 when the input (an option, a setting) is invalid.
"""

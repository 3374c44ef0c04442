"""``python -m mintage`` and the ``mintage`` command.

The command is the authorization server's: with the resource kit alone
(``pip install mintage``) it says which extra to install instead of a traceback.
"""

from __future__ import annotations

import sys

from mintage.extras import SERVER_MODULES, extra_needed


def main() -> None:
    """Console-script entry point (``mintage``)."""
    try:
        with extra_needed("server", SERVER_MODULES):
            from mintage.cli.main import main as cli_main
    except ModuleNotFoundError as exc:
        sys.exit(f"mintage: the command needs the server; {exc}")
    cli_main()


if __name__ == "__main__":
    main()

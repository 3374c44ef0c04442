"""The ``mintage`` command group and its entry point."""

from __future__ import annotations

import click

from .. import __version__
from .audit import audit
from .clients import client_group
from .context import database_url_option
from .db import db_group
from .keys import keys_group
from .serve import serve
from .tokens import tokens_group
from .users import user_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mintage")
@database_url_option
def cli() -> None:
    """Mintage: an OAuth 2.1 authorization server.

    Settings come from MINTAGE_* environment variables (and the TOML file named by
    MINTAGE_CONFIG); options given here override them.
    """


for command in (serve, db_group, client_group, user_group, keys_group, tokens_group, audit):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point (``mintage``)."""
    cli(prog_name="mintage")


if __name__ == "__main__":
    main()

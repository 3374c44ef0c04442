"""``python -m mintage``: the ``mintage`` command (needs ``pip install 'mintage[server]'``)."""

from __future__ import annotations

from mintage.cli.main import main

if __name__ == "__main__":
    main()

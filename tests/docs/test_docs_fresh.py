"""Generated documentation must match the code it is generated from."""

from __future__ import annotations

from pathlib import Path

from mintage.settings import Settings, render_configuration_docs

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_docs_are_current() -> None:
    on_disk = (ROOT / "docs" / "configuration.md").read_text()
    assert on_disk == render_configuration_docs(), "docs/configuration.md is stale: run `make docs`"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`MINTAGE_{name.upper()}`" in text

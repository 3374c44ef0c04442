"""``make docs-site``: the API reference (pdoc) builds, documents the models, storage
protocols and resource kit, and every link inside it resolves (no network)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _Links(HTMLParser):
    """The ``href``/``src`` targets of a page and the ids it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            elif (name == "href" and tag == "a") or (name == "src" and tag == "script"):
                self.targets.append(value)


def parse(page: Path) -> _Links:
    links = _Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def broken_links(site: Path) -> list[str]:
    """Every internal link whose file or ``#anchor`` does not exist."""
    pages = {page.resolve(): parse(page) for page in site.rglob("*.html")}
    broken = []
    for page, links in pages.items():
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:  # external: not followed, no network
                continue
            path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if path.is_dir():
                path = path / "index.html"
            missing_anchor = (
                path.exists()
                and path.suffix == ".html"
                and bool(parts.fragment)
                and unquote(parts.fragment) not in pages[path].ids
            )
            if not path.exists() or missing_anchor:
                broken.append(f"{page.relative_to(site.resolve())}: {target}")
    return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = tmp_path_factory.mktemp("site")
    # -o: never reinstall the venv from a test; BIN: the interpreter running the tests
    done = subprocess.run(
        [
            "make", "-s", "--no-print-directory", "-o", ".venv/.installed-stamp", "docs-site",
            f"SITE={out}", f"BIN={Path(sys.executable).parent}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_reference_documents_the_fields_and_protocols(site: Path) -> None:
    models = (site / "mintage" / "core" / "models.html").read_text()
    for name in ("Client.client_id", "Client.resources", "Token.expires_at", "Token.family_id"):
        assert f'id="{name}"' in models, name
    storage = (site / "mintage" / "core" / "storage.html").read_text()
    for name in ("ClientStore", "TokenStore", "KeyStore", "Storage"):
        assert f'id="{name}"' in storage, name
    engine = (site / "mintage" / "resource" / "engine.html").read_text()
    assert 'id="verifier_for_app"' in engine
    assert (site / "mintage" / "settings.html").exists()
    assert (site / "index.html").exists()


def test_every_internal_link_resolves(site: Path) -> None:
    assert len(list(site.rglob("*.html"))) > 20
    assert broken_links(site) == []


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a href="a.html">ok</a><a href="missing.html">no</a>'
        '<a href="a.html#there">ok</a><a href="a.html#nowhere">no</a>'
        '<a href="https://example.com/">external</a>'
    )
    (tmp_path / "a.html").write_text('<h1 id="there">A</h1>')
    assert sorted(broken_links(tmp_path)) == [
        "index.html: a.html#nowhere",
        "index.html: missing.html",
    ]

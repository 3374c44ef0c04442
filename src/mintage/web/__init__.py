"""The Starlette adapter: the only package that imports a web framework."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]

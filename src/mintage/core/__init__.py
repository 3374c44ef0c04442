"""The protocol engine: grants, endpoints, errors, client authentication, tokens.

Imports no web framework and no database library (docs/architecture.md §1); a test enforces it.
"""

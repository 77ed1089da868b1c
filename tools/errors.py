"""Exceptions a tool raises so the registry can tell the caller whose fault a failure was."""

from __future__ import annotations


class ToolInputError(Exception):
    """The input passed the schema but the tool refuses it (division by zero, path escape, ...)."""


class ToolUnavailableError(Exception):
    """A service the tool needs is not configured or did not answer; no data is invented."""


class ToolLoadError(ValueError):
    """A ``tools.functions`` entry cannot become a tool (import fails, no types, name collision)."""


class ToolHeldBackError(Exception):
    """An MCP server changed the tool (or added it) after its first listing; it is not run until
    an operator approves it in the server's ``approved_tools``."""

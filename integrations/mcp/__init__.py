"""Talking to MCP servers, through the official ``mcp`` SDK: connections that stay open for
as long as their owner wants (a phone call), tool listings and tool calls with timeouts, and
every failure as one of ``integrations.exceptions``' tool errors. No database here."""

from integrations.mcp.client import (
    McpConnection,
    McpServerConfig,
    McpToolInfo,
    McpToolResult,
    mcp_tools_list,
)

__all__ = ["McpConnection", "McpServerConfig", "McpToolInfo", "McpToolResult", "mcp_tools_list"]

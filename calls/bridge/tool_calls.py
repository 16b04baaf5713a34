"""Running one tool the model called during a call: its executor under the tool's timeout,
with every failure (unknown tool, timeout, ToolError, any exception) turned into an error
result for the model, so the call goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from agents.realtime.base import ToolCall
from agents.tools import Tool, ToolContext, ToolError

__all__ = ["ToolOutcome", "tool_run"]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    result: Any
    error: str
    duration_ms: int

    def output(self) -> str:
        """What the model is sent: the error, or the result as JSON."""
        return self.error if self.error else orjson.dumps(self.result, default=str).decode()


async def tool_run(
    tool: Tool | None,
    call: ToolCall,
    *,
    context: Callable[[], ToolContext],
    log: structlog.typing.FilteringBoundLogger,
) -> ToolOutcome:
    started = time.monotonic()
    result: Any = None
    error = ""
    if tool is None:
        error = f"Unknown tool {call.name!r}."
    else:
        try:
            result = await asyncio.wait_for(
                tool.execute(context(), dict(call.arguments or {})),
                timeout=tool.timeout_seconds,
            )
        except TimeoutError:
            error = f"The tool {call.name} timed out after {tool.timeout_seconds:g} s."
        except ToolError as exc:
            error = str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("tool_failed", tool=call.name, error=repr(exc))
            error = f"The tool {call.name} failed: {type(exc).__name__}."
    duration_ms = int((time.monotonic() - started) * 1000)
    return ToolOutcome(result=result, error=error, duration_ms=duration_ms)

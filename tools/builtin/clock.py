"""The current time in an IANA timezone, so the model need not guess today's date."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from tools.errors import ToolInputError


def get_current_time(
    timezone: Annotated[
        str, Field(description="IANA timezone name, e.g. Asia/Shanghai or Europe/Berlin")
    ] = "UTC",
) -> dict[str, str]:
    """Get the current date and time in a timezone, with its UTC offset and weekday."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: a tzdata folder
        raise ToolInputError(
            f"unknown timezone {timezone[:64]!r}; use an IANA name such as Asia/Shanghai"
        ) from error
    now = datetime.now(zone)
    return {
        "timezone": timezone,
        "datetime": now.isoformat(timespec="seconds"),
        "utc_offset": _format_offset(now.utcoffset() or timedelta(0)),
        "weekday": now.strftime("%A"),
    }


def _format_offset(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(round(abs(offset.total_seconds()) / 60), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"

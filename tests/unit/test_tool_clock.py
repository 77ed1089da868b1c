"""get_current_time: now, in an IANA timezone, with offset and weekday."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tools.builtin.clock import get_current_time
from tools.errors import ToolInputError


def test_defaults_to_utc_and_tells_the_current_time():
    result = get_current_time()
    assert result["timezone"] == "UTC"
    assert result["utc_offset"] == "+00:00"
    moment = datetime.fromisoformat(result["datetime"])
    assert abs((moment - datetime.now(UTC)).total_seconds()) < 5
    assert result["weekday"] == moment.strftime("%A")


def test_shanghai_is_eight_hours_ahead():
    result = get_current_time("Asia/Shanghai")
    assert result["utc_offset"] == "+08:00"
    assert result["datetime"].endswith("+08:00")
    assert result["timezone"] == "Asia/Shanghai"


def test_offsets_with_minutes_and_behind_utc():
    assert get_current_time("Asia/Kolkata")["utc_offset"] == "+05:30"
    assert get_current_time("America/St_Johns")["utc_offset"] in {"-03:30", "-02:30"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "Asia"])
def test_unknown_timezone_is_an_input_error(zone):
    with pytest.raises(ToolInputError, match="unknown timezone"):
        get_current_time(zone)

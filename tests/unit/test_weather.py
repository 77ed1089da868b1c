"""get_weather against a loopback server answering like Open-Meteo's geocoding and forecast APIs."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import pytest

from configs.settings import ToolsConfig
from llm.tool_messages import tool_message_content
from tests.json_stub import JsonStub
from tools.builtin.weather import get_weather
from tools.errors import ToolInputError, ToolUnavailableError
from tools.registry import ToolRegistry, load_tool

WEATHER = "tools.builtin.weather:get_weather"
PLACE = {"location": "北京"}

PLACES = {
    "北京": {
        "name": "北京",
        "latitude": 39.9075,
        "longitude": 116.39723,
        "country": "中国",
        "timezone": "Asia/Shanghai",
    }
}
CURRENT = {
    "time": "2024-01-20T10:30",
    "temperature_2m": 20.1,
    "relative_humidity_2m": 40,
    "wind_speed_10m": 7.5,
    "weather_code": 0,
}
UNITS = {"temperature_2m": "°C", "relative_humidity_2m": "%", "wind_speed_10m": "km/h"}


def open_meteo(path: str, query: dict[str, str]) -> tuple[int, object]:
    if path == "/geo":
        place = PLACES.get(query.get("name", ""))
        return 200, {"results": [place]} if place else {"generationtime_ms": 0.1}
    if path == "/forecast":
        return 200, {"current_units": UNITS, "current": CURRENT}
    if path == "/broken":
        return 500, {"error": True}
    if path == "/html":
        return 200, "<html>not json</html>"
    if path == "/slow":
        time.sleep(0.8)
        return 200, {}
    return 404, {}


@pytest.fixture(scope="module")
def stub() -> Iterator[JsonStub]:
    with JsonStub(open_meteo) as server:
        yield server


@pytest.fixture
def base_url(stub: JsonStub) -> str:
    stub.requests.clear()
    return stub.url


def config_for(geocoding: str, forecast: str) -> ToolsConfig:
    return ToolsConfig(
        weather_geocoding_url=geocoding,
        weather_forecast_url=forecast,
        http_timeout_s=0.3,
        allowed_hosts=["127.0.0.1"],
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_reports_current_weather_in_open_meteo_terms(base_url, stub):
    result = get_weather("北京", config=config_for(f"{base_url}/geo", f"{base_url}/forecast"))
    assert result["location"] == "北京, 中国"
    assert result["temperature"] == "20.1°C"
    assert "晴" in result["condition"] and "clear sky" in result["condition"]
    assert result["humidity"] == "40%"
    assert result["wind_speed"] == "7.5 km/h"
    assert result["time"] == "2024-01-20T10:30"
    assert result["timezone"] == "Asia/Shanghai"
    (geo_path, geo), (forecast_path, forecast) = stub.requests
    assert geo_path == "/geo" and geo["name"] == "北京" and geo["count"] == "1"
    assert geo["language"] == "zh"
    assert forecast_path == "/forecast"
    assert (forecast["latitude"], forecast["longitude"]) == ("39.9075", "116.39723")
    assert forecast["timezone"] == "auto"
    assert set(forecast["current"].split(",")) == set(CURRENT) - {"time"}


def test_unknown_place_is_an_input_error(base_url):
    config = config_for(f"{base_url}/geo", f"{base_url}/forecast")
    with pytest.raises(ToolInputError, match="location not found"):
        get_weather("Atlantis", config=config)


@pytest.mark.parametrize("path", ["/broken", "/html", "/slow", "/missing"])
def test_a_failing_service_is_unavailable_not_invented(base_url, path):
    with pytest.raises(ToolUnavailableError, match="weather service"):
        get_weather("北京", config=config_for(f"{base_url}{path}", f"{base_url}/forecast"))
    with pytest.raises(ToolUnavailableError, match="weather service"):
        get_weather("北京", config=config_for(f"{base_url}/geo", f"{base_url}{path}"))


def test_unreachable_service_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}/v1/search"
    with pytest.raises(ToolUnavailableError, match="weather service could not be reached"):
        get_weather("北京", config=config_for(url, url))


def test_offline_it_says_fast_that_the_answer_has_no_live_weather():
    # Offline a name does not resolve (.invalid never does): an answer within a second, in words
    # the model can pass on, not a hang or an input error.
    url = "https://geocoding.invalid/v1/search"
    started = time.monotonic()
    with pytest.raises(ToolUnavailableError) as error:
        get_weather("北京", config=ToolsConfig(weather_geocoding_url=url))
    assert time.monotonic() - started < 1.0
    assert str(error.value).startswith(
        "The weather service could not be reached, so the answer cannot include live data"
    )
    assert "geocoding.invalid" in str(error.value)


def test_offline_the_model_reads_a_statement_it_can_relay():
    """The tool message a chat's model reads back (llm.tool_messages) carries the sentence."""
    config = ToolsConfig(weather_geocoding_url="https://geocoding.invalid/v1/search")
    outcome = asyncio.run(ToolRegistry([load_tool(WEATHER)], config).execute("get_weather", PLACE))
    assert outcome.error_kind == "unavailable"
    message = json.loads(tool_message_content(outcome.ok, outcome.result, outcome.error))
    assert message["error"].startswith(
        "The weather service could not be reached, so the answer cannot include live data"
    )

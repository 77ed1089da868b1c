"""Current weather from Open-Meteo: geocode the place, then read its current conditions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from configs.settings import ToolsConfig
from tools.builtin.http_json import get_json
from tools.errors import ToolInputError, ToolUnavailableError
from tools.tool_spec import capabilities

SERVICE = "weather service"
CURRENT_FIELDS = ("temperature_2m", "relative_humidity_2m", "wind_speed_10m", "weather_code")

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_CONDITIONS: dict[int, str] = {
    0: "晴 (clear sky)",
    1: "大部晴朗 (mainly clear)",
    2: "局部多云 (partly cloudy)",
    3: "阴 (overcast)",
    45: "雾 (fog)",
    48: "雾凇 (depositing rime fog)",
    51: "小毛毛雨 (light drizzle)",
    53: "毛毛雨 (moderate drizzle)",
    55: "大毛毛雨 (dense drizzle)",
    56: "小冻毛毛雨 (light freezing drizzle)",
    57: "冻毛毛雨 (dense freezing drizzle)",
    61: "小雨 (slight rain)",
    63: "中雨 (moderate rain)",
    65: "大雨 (heavy rain)",
    66: "小冻雨 (light freezing rain)",
    67: "冻雨 (heavy freezing rain)",
    71: "小雪 (slight snow fall)",
    73: "中雪 (moderate snow fall)",
    75: "大雪 (heavy snow fall)",
    77: "米雪 (snow grains)",
    80: "小阵雨 (slight rain showers)",
    81: "中阵雨 (moderate rain showers)",
    82: "强阵雨 (violent rain showers)",
    85: "小阵雪 (slight snow showers)",
    86: "大阵雪 (heavy snow showers)",
    95: "雷阵雨 (thunderstorm)",
    96: "雷阵雨伴小冰雹 (thunderstorm with slight hail)",
    99: "雷阵雨伴大冰雹 (thunderstorm with heavy hail)",
}


@capabilities("network")
def get_weather(
    location: Annotated[str, Field(description="City or place name, e.g. 北京, Tokyo or Berlin")],
    *,
    config: ToolsConfig,
) -> dict[str, Any]:
    """Get the current weather at a place: temperature, condition, humidity and wind speed."""
    if not location.strip():
        raise ToolInputError("location is empty; give a city or place name")
    place = _geocode(location.strip(), config)
    forecast = get_json(
        config.weather_forecast_url,
        {
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": ",".join(CURRENT_FIELDS),
            "timezone": "auto",
        },
        timeout_s=config.http_timeout_s,
        allowed_hosts=config.allowed_hosts,
        service=SERVICE,
    )
    current = forecast.get("current") if isinstance(forecast, dict) else None
    if not isinstance(current, dict) or any(current.get(key) is None for key in CURRENT_FIELDS):
        raise ToolUnavailableError(f"{SERVICE} answered without the current conditions")
    units = {"temperature_2m": "°C", "relative_humidity_2m": "%", "wind_speed_10m": "km/h"}
    units.update(forecast.get("current_units") or {})
    code = current["weather_code"]
    return {
        "location": ", ".join(str(part) for part in (place["name"], place.get("country")) if part),
        "temperature": _with_unit(current["temperature_2m"], units["temperature_2m"]),
        "condition": WMO_CONDITIONS.get(code, f"weather code {code}"),
        "humidity": _with_unit(current["relative_humidity_2m"], units["relative_humidity_2m"]),
        "wind_speed": _with_unit(current["wind_speed_10m"], units["wind_speed_10m"]),
        "time": current.get("time"),
        "timezone": forecast.get("timezone") or place.get("timezone"),
    }


def _geocode(location: str, config: ToolsConfig) -> dict[str, Any]:
    """The best match for ``location``; ToolInputError when the geocoder knows no such place."""
    found = get_json(
        config.weather_geocoding_url,
        {"name": location, "count": 1, "language": "zh", "format": "json"},
        timeout_s=config.http_timeout_s,
        allowed_hosts=config.allowed_hosts,
        service=SERVICE,
    )
    places = found.get("results") if isinstance(found, dict) else None
    if not places:
        raise ToolInputError(f"location not found: {location!r}")
    place = places[0]
    if not isinstance(place, dict) or any(
        not isinstance(place.get(key), int | float) for key in ("latitude", "longitude")
    ):
        raise ToolUnavailableError(f"{SERVICE} answered without coordinates for {location!r}")
    return {**place, "name": place.get("name") or location}


def _with_unit(value: Any, unit: str) -> str:
    # Symbols like °C and % attach to the number; words like km/h are spaced.
    return f"{value}{unit}" if unit.startswith(("°", "%")) else f"{value} {unit}"

"""Answers like Open-Meteo's geocoding (/v1/search) and forecast (/v1/forecast) APIs."""

from __future__ import annotations

CITIES = {"北京": (39.9, 116.4, "中国"), "Tokyo": (35.7, 139.7, "Japan")}


def open_meteo(path: str, query: dict[str, str]) -> tuple[int, object]:
    if path == "/v1/search":
        city = CITIES.get(query.get("name", ""))
        if city is None:
            return 200, {"generationtime_ms": 0.1}
        place = {
            "name": query["name"],
            "latitude": city[0],
            "longitude": city[1],
            "country": city[2],
            "timezone": "Asia/Shanghai",
        }
        return 200, {"results": [place]}
    if path == "/v1/forecast":
        return 200, {
            "latitude": float(query["latitude"]),
            "longitude": float(query["longitude"]),
            "current_units": {
                "temperature_2m": "°C",
                "relative_humidity_2m": "%",
                "wind_speed_10m": "km/h",
            },
            "current": {
                "time": "2024-01-20T10:30",
                "temperature_2m": 20.0,
                "relative_humidity_2m": 40,
                "wind_speed_10m": 7.5,
                "weather_code": 0,
            },
        }
    return 404, {}

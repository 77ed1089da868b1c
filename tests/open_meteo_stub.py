"""A loopback HTTP server that answers like Open-Meteo's geocoding and forecast APIs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CITIES = {"北京": (39.9, 116.4, "中国"), "Tokyo": (35.7, 139.7, "Japan")}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/v1/search":
            city = CITIES.get(query.get("name", ""))
            body = (
                {
                    "results": [
                        {
                            "name": query["name"],
                            "latitude": city[0],
                            "longitude": city[1],
                            "country": city[2],
                            "timezone": "Asia/Shanghai",
                        }
                    ]
                }
                if city
                else {"generationtime_ms": 0.1}
            )
        elif url.path == "/v1/forecast":
            body = {
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
        else:
            self.send_error(404)
            return
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


class OpenMeteoStub:
    def __enter__(self) -> OpenMeteoStub:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.geocoding_url = f"{base}/v1/search"
        self.forecast_url = f"{base}/v1/forecast"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

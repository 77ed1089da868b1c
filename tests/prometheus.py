"""Read samples from a Prometheus endpoint (Ray's metrics export port) in a test.

Ray's processes export their metrics to the node every ``RAY_metrics_report_interval_ms`` (10 s by
default), so a test polls until the sample it expects shows.
"""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(url: str) -> list[Sample]:
    text = httpx.get(url, timeout=10).text
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def total(found: list[Sample], name: str, labels: dict[str, str]) -> float | None:
    """The sum over processes of the samples ``name`` that carry ``labels``; None if none."""
    values = [s.value for s in found if s.name == name and labels.items() <= s.labels.items()]
    return sum(values) if values else None


def wait_for_sample(
    url: str,
    name: str,
    labels: dict[str, str] | None = None,
    above: float = 0.0,
    timeout_s: float = 60.0,
) -> float:
    """``total`` once it shows and is above ``above``, polled every 0.5 s until ``timeout_s``."""
    labels = labels or {}
    deadline = time.monotonic() + timeout_s
    while (value := total(found := samples(url), name, labels)) is None or value <= above:
        if time.monotonic() > deadline:
            same_name = [s.labels for s in found if s.name == name]
            raise AssertionError(
                f"{name}{labels} is {value} after {timeout_s} s at {url}; samples of that name: "
                f"{same_name or sorted({s.name for s in found if 'mcp_tune' in s.name})}"
            )
        time.sleep(0.5)
    return value

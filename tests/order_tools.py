"""A user's own tool, unknown to the shipped model: what a fine-tuning job must teach it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ORDERS = {"A-1001": "shipped", "A-1002": "processing"}


def track_order(
    order_id: Annotated[str, Field(description="Order number, e.g. A-1001")],
) -> dict[str, str]:
    """Look up the delivery status of a customer order."""
    return {"order_id": order_id, "status": ORDERS.get(order_id, "unknown order")}

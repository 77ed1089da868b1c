"""Rows for any tool schema: values drawn from the schema, requests phrased from its
descriptions (patterns in ``request_patterns.yaml``, values in ``value_pools.yaml``), the
benchmark categories, masked names, and a verifier every row passes before training.

The same code serves the API corpus's tools and a user's MCP tools; nothing here imports Ray.
"""

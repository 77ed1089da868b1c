"""Built-in tools: plain typed functions whose signatures and docstrings become their schemas."""

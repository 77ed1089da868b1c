"""GET /config's view: literal secrets in MCP server headers/env are redacted, ${VAR} kept.

Bad inputs tried: a literal bearer token in headers, a literal env value, a value that only
partly is a ${VAR} reference ("Bearer ${TOKEN}" still holds a literal part and is redacted).
"""

from __future__ import annotations

from configs.settings import AppConfig
from serve_app.routes.config import REDACTED, public_config


def test_literal_mcp_secrets_are_redacted():
    config = AppConfig.model_validate(
        {
            "tools": {
                "mcp_servers": [
                    {
                        "name": "docs",
                        "url": "http://127.0.0.1:9/mcp",
                        "headers": {
                            "Authorization": "Bearer sk-literal",
                            "X-Token": "${DOCS_TOKEN}",
                            "X-Mixed": "Bearer ${DOCS_TOKEN}",
                        },
                    },
                    {"name": "time", "command": "python", "env": {"API_KEY": "literal-secret"}},
                ]
            }
        }
    )
    shown = public_config(config)
    docs, time_server = shown["tools"]["mcp_servers"]
    assert docs["headers"] == {
        "Authorization": REDACTED,
        "X-Token": "${DOCS_TOKEN}",
        "X-Mixed": REDACTED,
    }
    assert time_server["env"] == {"API_KEY": REDACTED}
    assert "sk-literal" not in str(shown) and "literal-secret" not in str(shown)
    # The live config itself is untouched.
    assert config.tools.mcp_servers[0].headers["Authorization"] == "Bearer sk-literal"

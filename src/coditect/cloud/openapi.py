"""The OpenAPI document of the service, built without a database or real secrets.

``python -m coditect.cloud.openapi > docs/api/openapi.json`` (or ``coditect server
openapi``) regenerates the checked-in copy; a test fails when that copy is stale.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["build_spec", "render_spec"]


def build_spec() -> dict[str, Any]:
    """The OpenAPI document of an app built from placeholder settings."""
    from pydantic import SecretStr

    from coditect.cloud.app import create_app
    from coditect.cloud.settings import Settings, generate_ed25519_pem

    settings = Settings(
        environment="test",
        database_url="sqlite://",
        secret_key=SecretStr("openapi-export-only-" + "0" * 32),
        licence_signing_key=SecretStr(generate_ed25519_pem()),
        argon2_memory_kib=8,
        argon2_time_cost=1,
    )
    app = create_app(settings)
    try:
        return app.openapi()
    finally:
        app.state.db.dispose()


def render_spec() -> str:
    """The document as the checked-in file holds it: indented JSON ending in a newline."""
    return json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_spec())

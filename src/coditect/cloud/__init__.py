"""The CODITECT cloud service (FastAPI): needs the ``server`` extra.

Nothing here is built at import time: ``coditect.cloud.app.create_app(settings)`` builds
the application. docs/cloud.md is the operator guide, docs/api.md the API overview.
"""

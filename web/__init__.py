"""The web tier: read-only, serves the bytes the worker stored in Redis (see app.create_app)."""

"""SQLModel tables (models.tables, the app DB on the main server) and how to reach them (models.db).

Imports nothing on purpose: `models.db` must be importable without registering the tables on
SQLModel's metadata, because the pull step (dashcam.ops.delivery) uses its `redact_url` before
it swaps in the code whose `models.tables` the flow run then imports.
"""

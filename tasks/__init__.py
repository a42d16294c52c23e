"""Domain logic: plain, typed Python callable without a Prefect server."""

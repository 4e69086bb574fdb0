"""Agora's HTTP side: the REST API, the webhook receivers and the dashboard (FastAPI)."""

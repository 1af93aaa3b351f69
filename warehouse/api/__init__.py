"""The operations API (FastAPI)."""
from warehouse.api.app import Services, TopicNames, create_app
from warehouse.api.hub import AlertHub

__all__ = ["AlertHub", "Services", "TopicNames", "create_app"]

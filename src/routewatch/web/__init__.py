"""The operator web API (FastAPI): alerts, live stream, corridors, auth, health and metrics."""

from routewatch.web.app import create_app
from routewatch.web.routes.live import LiveHub
from routewatch.web.routes.ops import Metrics

__all__ = ["LiveHub", "Metrics", "create_app"]

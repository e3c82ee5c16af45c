"""Shared test helpers (kits) used by several test packages: engine scenes, brokers, servers, streams."""

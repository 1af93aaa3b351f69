"""Compatibility face: the operations store moved to :mod:`warehouse.ops` (import from there)."""
from warehouse.ops import ROLES, ApiKey, CameraRecord, OpsStore, StreamPolicy, Zone, hash_key, role_allows

__all__ = ["ApiKey", "CameraRecord", "OpsStore", "ROLES", "StreamPolicy", "Zone", "hash_key", "role_allows"]

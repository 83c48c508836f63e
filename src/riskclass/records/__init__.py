"""Sealed monthly records: the store and its ledger, the writer's lock, the audit key."""

from riskclass.records.lock import LockHeld, exclusive
from riskclass.records.store import Record, RecordError, RecordStore

__all__ = ["LockHeld", "Record", "RecordError", "RecordStore", "exclusive"]

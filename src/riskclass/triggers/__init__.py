"""Trigger-based supervision (触发式监管, docs/trigger-supervision.md): the monthly roster of A/B entities in
new-economy categories, kept out of general random items, and the triggers that schedule a check instead."""

"""Integrity: ``liuhen verify`` over everything the archive holds (custody log, originals, records)."""

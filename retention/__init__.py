"""Retention rules, legal holds and disposal (to come; nothing is ever deleted yet)."""

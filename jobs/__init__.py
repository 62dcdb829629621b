"""Durable jobs: each processing step is a row committed with the state change that calls for it."""

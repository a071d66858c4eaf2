"""Thin Lambda adapters: parse the event, make one domain call, shape the response."""

"""Fakes shared by the unit tests (in-memory stand-ins for the ports in swapflow.jobs.ports)."""

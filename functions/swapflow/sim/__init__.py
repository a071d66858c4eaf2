"""Loopback simulators of the hosted providers (Akool, WaveSpeed) for tests and the local stack."""

from swapflow.sim.akool import AkoolSimulator
from swapflow.sim.common import FAULTS
from swapflow.sim.wavespeed import WaveSpeedSimulator

__all__ = ["FAULTS", "AkoolSimulator", "WaveSpeedSimulator"]

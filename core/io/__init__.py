"""Detector facts and file I/O: geometry (layouts, flips, timing), ramp reading, the header
inventory with its one validator, and the simulator of NIRCam darks."""

"""Configuration: matrix files, their validators, local inputs, freezes, platform presets, engine choice.

Reads; never starts a process."""

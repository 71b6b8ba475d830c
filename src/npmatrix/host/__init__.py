"""The host: every side effect on this machine (processes, the engine SDK, builders, emulators, run owners)."""

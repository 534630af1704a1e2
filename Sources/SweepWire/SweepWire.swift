// SweepWire: see docs/architecture.md

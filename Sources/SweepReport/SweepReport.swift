// SweepReport: see docs/architecture.md

// ZeroMQ: see docs/architecture.md

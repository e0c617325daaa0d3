"""Benchmark harness for unspin: reference spinners, held-out data, metrics, runner."""

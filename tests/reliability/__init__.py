"""Reliability matrices (faults, bad input, leaks): scenario definitions shared by the tests and `make reliability`."""

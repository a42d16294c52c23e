"""Test harnesses that the tests and the benches share (a throwaway PostgreSQL, a fake dashcam).

A top-level folder of the source checkout, not in the wheel.
"""

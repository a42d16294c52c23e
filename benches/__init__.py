"""`dashcam bench ...`: figures, printed. Benchmarks measure; tests assert behaviour.

A top-level folder of the source checkout, not in the wheel: the CLI finds it at run time.
"""

"""The operator side: the all-in-one stack, device commands, doctor, code delivery, status, the
in-process chain and the sample footage. Used by `dashcam.cli`; uses `flows`, `tasks`, `models`.
"""

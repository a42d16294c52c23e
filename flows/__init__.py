"""The stages as Prefect flows, one module each (thin: the work is in tasks/).

Importing the package routes the domain loggers to the running flow run's logs (_runlogs).
"""

from flows import _runlogs

_runlogs.route()

"""Lambda entry points: parse the event, call one logic function, shape the response.

A cold start builds only long-lived things (modules, clients, service models), so the
cyclic garbage collector's passes over them are wasted work: about 30 ms of every init.
Importing this package pauses the collector; each handler module ends by calling
``initialised()``, which freezes what init built (later collections skip it) and turns the
collector back on.
"""

import gc

gc.disable()


def initialised() -> None:
    gc.freeze()
    gc.enable()

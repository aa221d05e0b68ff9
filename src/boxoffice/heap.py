"""The heap of a long-running process (a web worker, the outbox worker), settled once it has started.

Everything a process holds when it starts serving (modules, the application, its routes and models, SQLAlchemy's
mappers and compiled statements) lives as long as it does. Python's cyclic collector would still walk all of it at
every full collection: in ``benchmarks/web_cpu.py``'s process, 3,000 orders made one full collection, 90 ms of CPU
at once (a pause for every request then in flight) and two thirds of the collector's time. ``settle`` collects what
startup left behind, then moves everything left to the collector's permanent generation (``gc.freeze``), which it
never walks: later collections look only at objects made while serving. A frozen object is still freed when nothing
refers to it any more, but a cycle of frozen objects never is: so it is called once, after startup, and only by the
processes ``boxoffice serve`` and ``boxoffice worker`` start (not by an application made in tests, which would keep
every earlier test's cycles).
"""

from __future__ import annotations

import gc


def settle() -> None:
    gc.collect()
    gc.freeze()

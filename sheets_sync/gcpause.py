"""Python's cycle collector held off while a sync works on a whole tracker in memory."""

from __future__ import annotations

import functools
import gc


def gc_paused(method):
    """``method`` run with Python's cycle collector held off, as it was before after it.

    Loading, reading, planning and writing a tracker make a few objects per cell
    (hundreds of thousands on a year's tracker) and drop almost none: the collector,
    started every 700 new objects, went over all of them again and again, a third of
    the time of building a workbook's cells, and 10 to 15 % of a whole sync adding
    1,000 comments to the archived 100,000-comment bench (measured). What becomes
    garbage meanwhile is freed as usual (reference counting), or by the first
    collection after the method, for the rare cycle."""

    @functools.wraps(method)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return paused

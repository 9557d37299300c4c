"""dbt's loggers formatting only the events they write.

dbt (dbt_common's event manager) formats every event as a line for each of its loggers (its
output, dbt.log) and only then lets Python's logging drop it below the logger's level: a node's
debug events (each statement of its materialization, each connection opened, closed,
committed) are formatted twice and written nowhere, about an eighth of a dbt step's CPU. The
dbt fork server (for itself and every child) and `winback-dbt` without a server call
`format_only_written_events` before dbt runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

# Python's logging level of each dbt event level, as dbt's loggers map them.
_SEVERITY = {"debug": logging.DEBUG, "test": logging.DEBUG, "info": logging.INFO,
             "warn": logging.WARNING, "error": logging.ERROR}


def _at_level(floor: int, printed: tuple[str, ...], keep: Callable[[Any], bool], msg: Any
              ) -> bool:
    """`keep` (the logger's own filter) for an event its Python logger would write: one at or
    above the logger's level, or one dbt prints whatever the level (`printed`, the events it
    sends at error level)."""
    severity = (logging.ERROR if msg.info.name in printed
                else _SEVERITY.get(msg.info.level, logging.ERROR))
    return severity >= floor and keep(msg)


def format_only_written_events() -> None:
    """After dbt sets up its loggers, each one's filter also asks for the logger's level, so an
    event is formatted only where it is written; what is written does not change."""
    import dbt.cli.requires as requires
    from dbt_common.events.functions import get_event_manager
    from dbt_common.events.logger import PRINT_EVENT_NAMES

    setup = requires.setup_event_logger

    def setup_then_filter_by_level(*args: Any, **kwargs: Any) -> None:
        setup(*args, **kwargs)
        for logger in get_event_manager().loggers:
            logger.filter = functools.partial(
                _at_level, _SEVERITY.get(logger.level, logging.DEBUG), PRINT_EVENT_NAMES,
                logger.filter)

    requires.setup_event_logger = setup_then_filter_by_level

"""dbt building and formatting only the events its loggers write.

dbt (dbt_common's event manager) builds every event it fires as a protobuf message, twice (the
event's data, then the message with its level, time, thread and formatted text), and formats it
as a line for each of its loggers (its output, dbt.log) before Python's logging drops it below
the logger's level. A node's debug events (each statement of its materialization, each
connection opened, closed, committed) are built, formatted twice and written nowhere: about a
fifth of a dbt step's CPU on small data. The dbt fork server (for itself and every child) and
`winback-dbt` without a server call `format_only_written_events` before dbt runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

# Python's logging level of each dbt event level, as dbt's loggers map them.
_SEVERITY = {"debug": logging.DEBUG, "test": logging.DEBUG, "info": logging.INFO,
             "warn": logging.WARNING, "error": logging.ERROR}
_ARGS = "_winback_event_args"  # an event's arguments until its message is first read


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
    event is formatted only where it is written; a debug event that no logger writes and no
    callback reads is dropped before it is built, and an event builds its message only when
    something reads it. What is written does not change."""
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
    _build_events_when_read()
    _drop_unread_debug_events(PRINT_EVENT_NAMES)


def _build_events_when_read() -> None:
    """An event keeps its arguments and builds its protobuf message (dbt_common's BaseEvent)
    the first time anything reads or sets one of its fields, not when it is made."""
    from dbt_common.events.base_types import BaseEvent

    build = BaseEvent.__init__
    if getattr(build, "_winback", False):
        return

    def keep_arguments(self: Any, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, _ARGS, (args, kwargs))

    def message(self: Any) -> Any:
        try:
            return object.__getattribute__(self, "pb_msg")
        except AttributeError:
            args, kwargs = object.__getattribute__(self, _ARGS)
            build(self, *args, **kwargs)
            return object.__getattribute__(self, "pb_msg")

    def get(self: Any, key: str) -> Any:
        msg = message(self)
        return msg if key == "pb_msg" else getattr(msg, key)

    def set_(self: Any, key: str, value: Any) -> None:
        if key == "pb_msg":
            object.__setattr__(self, key, value)
        else:
            setattr(message(self), key, value)

    keep_arguments._winback = True  # type: ignore[attr-defined]
    BaseEvent.__init__ = keep_arguments  # type: ignore[method-assign]
    BaseEvent.__getattr__ = get  # type: ignore[method-assign]
    BaseEvent.__setattr__ = set_  # type: ignore[method-assign]


def _drop_unread_debug_events(printed: tuple[str, ...]) -> None:
    """The event manager returns at once for a debug (or test) level event when every logger's
    level is above debug, the event is not one dbt prints whatever the level (`printed`), and
    the only callback is dbt's own, which reads warnings of behaviour changes alone. Warnings
    and errors always go through (dbt's --warn-error handling reads them)."""
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events.event_manager import EventManager

    fire = EventManager.fire_event
    if getattr(fire, "_winback", False):
        return
    unread = {"debug", "test"}

    def fire_if_read(self: Any, e: Any, level: Any = None, node: Any = None,
                     force_warn_or_error_handling: bool = False) -> None:
        if (not force_warn_or_error_handling
                and (level or e.level_tag()).value in unread
                and type(e).__name__ not in printed
                and all(_SEVERITY.get(logger.level, logging.DEBUG) > logging.DEBUG
                        for logger in self.loggers)
                and all(callback is track_behavior_change_warn for callback in self.callbacks)):
            return
        fire(self, e, level=level, node=node,
             force_warn_or_error_handling=force_warn_or_error_handling)

    fire_if_read._winback = True  # type: ignore[attr-defined]
    EventManager.fire_event = fire_if_read  # type: ignore[method-assign]

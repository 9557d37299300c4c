"""Demo data generator, outside the production core: `winback demo` writes a landing folder."""

from orchestration.demo.generator import (
    CATEGORIES,
    DISPOSABLE_DOMAINS,
    ENTITY_COLUMNS,
    ORDER_STATUSES,
    Campaign,
    generate,
)

__all__ = [
    "CATEGORIES",
    "DISPOSABLE_DOMAINS",
    "ENTITY_COLUMNS",
    "ORDER_STATUSES",
    "Campaign",
    "generate",
]

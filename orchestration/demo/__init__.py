"""Demo data generator, outside the production core: `winback demo` writes a landing folder."""

from orchestration.demo.common import CATEGORIES, ENTITY_COLUMNS
from orchestration.demo.customers import DISPOSABLE_DOMAINS
from orchestration.demo.generator import generate
from orchestration.demo.orders import ORDER_STATUSES
from orchestration.demo.purchases import Campaign

__all__ = [
    "CATEGORIES",
    "DISPOSABLE_DOMAINS",
    "ENTITY_COLUMNS",
    "ORDER_STATUSES",
    "Campaign",
    "generate",
]

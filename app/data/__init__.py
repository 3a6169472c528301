"""Synthetic Indian house listings for the demo model."""

from app.data.generator import CITY_PRICE_PER_SQFT, generate, write_listings

__all__ = ["CITY_PRICE_PER_SQFT", "generate", "write_listings"]

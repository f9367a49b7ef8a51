"""Asyncio-native SDK for the Move AI UGC API."""

"""Delivery: claim due deliveries, send, record every attempt, reschedule or dead-letter."""

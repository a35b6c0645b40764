"""Scheduled jobs (APScheduler 3, job store in our database, one active scheduler)."""

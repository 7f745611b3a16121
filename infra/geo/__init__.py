"""Adapters for geo-replication's SiteLink port: another strata site's native API."""

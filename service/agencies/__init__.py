"""Agencies: the ministries and municipalities that own procedures."""

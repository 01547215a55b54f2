"""Bearer tokens for agency staff and platform admins."""

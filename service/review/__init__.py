"""Clerk review: the staff view of an application, decisions and their signed notices, comments, evidence."""

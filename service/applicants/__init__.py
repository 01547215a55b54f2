"""Applicants signed in with their card: sessions, and every application they signed."""

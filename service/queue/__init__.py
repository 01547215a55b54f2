"""The clerk's queue: an agency's signed submissions, oldest first, claimed one at a time."""

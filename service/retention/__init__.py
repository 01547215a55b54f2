"""Retention (保存期間): the rule of each procedure, legal holds, the purge and the tombstone it leaves."""

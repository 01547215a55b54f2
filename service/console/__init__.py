"""The clerk and agency console: server-rendered pages over the same service functions as the API."""

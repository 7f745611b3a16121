"""The ObjectStore's commands and queries, one module per aggregate family."""

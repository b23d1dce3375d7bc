//! Integration tests against a real MariaDB cluster.

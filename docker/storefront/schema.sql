-- PLACEHOLDER on branch `docker` only: the storefront schema is owned by branch `bench`, whose
-- docker/storefront/schema.sql replaces this file when the branches merge. It exists so the
-- compose cluster's primary image builds before that merge.
CREATE DATABASE IF NOT EXISTS storefront CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE storefront;

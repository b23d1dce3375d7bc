//! The storefront: a small online shop (customers, addresses, categories, products,
//! inventory, carts, orders, payments) that `rwproxy bench` and `rwproxy demo` run their
//! workload on. The schema is `docker/storefront/schema.sql`, the one file the compose
//! cluster's primary also runs; the data is generated here at a chosen scale and loaded in
//! batched multi-row INSERTs through any MySQL endpoint (the proxy or a server).

mod data;
mod load;
pub mod popularity;

pub use data::{product_name, Sizes, ADJECTIVES};
pub use load::{prepare, LoadOptions};
pub use popularity::Popularity;

use mysql_async::prelude::Queryable;

/// The schema file, as shipped in `docker/storefront/schema.sql`.
pub const SCHEMA: &str = include_str!("../../docker/storefront/schema.sql");
/// The database the schema file creates.
pub const DEFAULT_DATABASE: &str = "storefront";

/// Why the storefront could not be loaded or inspected.
#[derive(Debug, thiserror::Error)]
pub enum StorefrontError {
    /// The endpoint refused or failed the login.
    #[error("cannot connect to {endpoint}: {cause}")]
    Connect {
        /// `host:port`.
        endpoint: String,
        /// The driver's error.
        cause: mysql_async::Error,
    },
    /// A statement failed.
    #[error("{what}: {cause}")]
    Sql {
        /// What was being done (the table being loaded, the schema statement).
        what: String,
        /// The server's or driver's error.
        cause: mysql_async::Error,
    },
    /// The database name is not a plain identifier.
    #[error("database name `{0}` must be 1-64 letters, digits, `_` or `$`")]
    BadDatabaseName(String),
    /// The database has no storefront data.
    #[error(
        "database `{0}` holds no storefront data: load it first with `rwproxy bench --prepare`"
    )]
    NotLoaded(String),
    /// The scale is not a positive finite number.
    #[error("--scale must be a number > 0 and <= 100, not {0}")]
    BadScale(f64),
}

/// Checks that `name` can be used as an identifier without quoting surprises.
pub fn check_database_name(name: &str) -> Result<(), StorefrontError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(StorefrontError::BadDatabaseName(name.to_string()))
    }
}

/// The schema file's statements, in order, for database `database`: comment lines are
/// dropped, and the file's `CREATE DATABASE … storefront` and `USE storefront` name
/// `database` instead.
pub fn schema_statements(database: &str) -> Vec<String> {
    let text: String = SCHEMA
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    text.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.trim_end_matches(';');
            if let Some(rest) = s.strip_prefix("CREATE DATABASE IF NOT EXISTS storefront") {
                format!("CREATE DATABASE IF NOT EXISTS `{database}`{rest}")
            } else if s == "USE storefront" {
                format!("USE `{database}`")
            } else {
                s.to_string()
            }
        })
        .collect()
}

/// What the workload needs to know about a loaded shop: the id ranges to draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalog {
    /// Products are `1..=products`.
    pub products: u64,
    /// Customers are `1..=customers`.
    pub customers: u64,
    /// Categories are `1..=categories`.
    pub categories: u64,
}

impl Catalog {
    /// Reads the id ranges of the shop in `database` (on the primary, through rwproxy: a
    /// replica may not have applied a load that just finished).
    pub async fn read_in(
        conn: &mut mysql_async::Conn,
        database: &str,
    ) -> Result<Catalog, StorefrontError> {
        check_database_name(database)?;
        let sql = format!(
            "/* rwproxy:primary */ SELECT (SELECT MAX(id) FROM `{database}`.products), \
             (SELECT MAX(id) FROM `{database}`.customers), \
             (SELECT MAX(id) FROM `{database}`.categories)"
        );
        let row: Option<(Option<u64>, Option<u64>, Option<u64>)> =
            conn.query_first(sql).await.map_err(|cause| match &cause {
                mysql_async::Error::Server(e) if e.code == 1146 || e.code == 1049 => {
                    StorefrontError::NotLoaded(database.to_string())
                }
                _ => StorefrontError::Sql {
                    what: "reading the catalog".into(),
                    cause,
                },
            })?;
        match row {
            Some((Some(products), Some(customers), Some(categories))) => Ok(Catalog {
                products,
                customers,
                categories,
            }),
            _ => Err(StorefrontError::NotLoaded(database.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_every_table_and_renames_the_database() {
        let stmts = schema_statements("shop_x");
        assert_eq!(
            stmts[0]
                .split_whitespace()
                .take(7)
                .collect::<Vec<_>>()
                .join(" "),
            "CREATE DATABASE IF NOT EXISTS `shop_x` CHARACTER"
        );
        assert_eq!(stmts[1], "USE `shop_x`");
        let tables: Vec<&str> = stmts[2..]
            .iter()
            .filter_map(|s| s.strip_prefix("CREATE TABLE IF NOT EXISTS "))
            .filter_map(|s| s.split_whitespace().next())
            .collect();
        assert_eq!(
            tables,
            [
                "customers",
                "addresses",
                "categories",
                "products",
                "inventory",
                "carts",
                "cart_items",
                "orders",
                "order_items",
                "payments"
            ]
        );
        assert!(stmts.iter().all(|s| !s.contains("--") && !s.ends_with(';')));
        assert!(stmts[2..]
            .iter()
            .all(|s| s.contains("ENGINE=InnoDB") && s.contains("utf8mb4")));
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        assert!(check_database_name("storefront").is_ok());
        assert!(check_database_name("sf_it$2").is_ok());
        for bad in ["", "a`b", "a b", "x;drop", &"x".repeat(65)] {
            assert!(check_database_name(bad).is_err(), "{bad}");
        }
    }
}

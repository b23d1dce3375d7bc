//! Loading the shop: drop and recreate the database from the schema file, then insert the
//! generated rows in batched multi-row INSERTs, with a progress bar on stderr (a bar on a
//! terminal, one line per table otherwise).

use super::data::{Generator, Sizes};
use super::{check_database_name, schema_statements, StorefrontError};
use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::io::IsTerminal;
use std::time::Instant;

/// Rows per INSERT statement.
const BATCH_ROWS: usize = 500;
/// Bytes of VALUES per INSERT statement, whichever limit comes first.
const BATCH_BYTES: usize = 256 * 1024;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// 1.0 = ~10k products and ~50k customers.
    pub scale: f64,
    /// Seed of the generator.
    pub seed: u64,
    /// Show progress on stderr.
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            scale: 1.0,
            seed: 20_240_601,
            progress: true,
        }
    }
}

/// Drops `database` if it exists, creates it from the schema file and loads a generated
/// shop at `load.scale` through the endpoint of `opts`. Returns the row counts.
pub async fn prepare(
    opts: mysql_async::Opts,
    database: &str,
    load: &LoadOptions,
) -> Result<Sizes, StorefrontError> {
    check_database_name(database)?;
    if !(load.scale > 0.0 && load.scale <= 100.0) {
        return Err(StorefrontError::BadScale(load.scale));
    }
    let endpoint = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let opts = mysql_async::OptsBuilder::from_opts(opts).db_name(None::<String>);
    let mut conn = Conn::new(opts)
        .await
        .map_err(|cause| StorefrontError::Connect { endpoint, cause })?;
    let started = Instant::now();
    let sizes = Sizes::at(load.scale);
    let mut progress = Progress::new(load.progress, &sizes);
    recreate(&mut conn, database, &mut progress).await?;
    let mut gen = Generator::new(sizes, load.seed);
    load_catalog(&mut conn, &mut gen, &sizes, &mut progress).await?;
    load_history(&mut conn, &mut gen, &sizes, &mut progress).await?;
    progress.finish(started);
    let _ = conn.disconnect().await;
    Ok(sizes)
}

async fn run(conn: &mut Conn, what: &str, sql: &str) -> Result<(), StorefrontError> {
    conn.query_drop(sql)
        .await
        .map_err(|cause| StorefrontError::Sql {
            what: what.to_string(),
            cause,
        })
}

/// Drops the database (saying so if it held data) and runs the schema file.
async fn recreate(
    conn: &mut Conn,
    database: &str,
    progress: &mut Progress,
) -> Result<(), StorefrontError> {
    // The hint sends the check to the primary through rwproxy; other servers ignore it.
    let exists: Option<String> = conn
        .query_first(format!(
            "/* rwproxy:primary */ SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME = '{database}'"
        ))
        .await
        .map_err(|cause| StorefrontError::Sql {
            what: "looking for an existing database".into(),
            cause,
        })?;
    if exists.is_some() {
        progress.note(&format!(
            "database `{database}` exists: dropping it and loading afresh"
        ));
    }
    run(
        conn,
        "dropping the old database",
        &format!("DROP DATABASE IF EXISTS `{database}`"),
    )
    .await?;
    for stmt in schema_statements(database) {
        let head: String = stmt
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        run(conn, &format!("schema: {head}"), &stmt).await?;
    }
    // Generated ids are consistent; checking every foreign key row by row only slows the load.
    run(
        conn,
        "session settings",
        "SET SESSION foreign_key_checks = 0, unique_checks = 0",
    )
    .await
}

/// Rows for one table, sent as multi-row INSERTs.
struct Batch {
    table: &'static str,
    head: String,
    values: String,
    rows: usize,
}

impl Batch {
    fn new(table: &'static str, columns: &str) -> Batch {
        Batch {
            table,
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            values: String::new(),
            rows: 0,
        }
    }

    async fn push(&mut self, conn: &mut Conn, row: &str) -> Result<(), StorefrontError> {
        if self.rows > 0 {
            self.values.push(',');
        }
        self.values.push_str(row);
        self.rows += 1;
        if self.rows >= BATCH_ROWS || self.values.len() >= BATCH_BYTES {
            self.flush(conn).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, conn: &mut Conn) -> Result<(), StorefrontError> {
        if self.rows == 0 {
            return Ok(());
        }
        let sql = format!("{}{}", self.head, self.values);
        self.values.clear();
        self.rows = 0;
        run(conn, &format!("loading {}", self.table), &sql).await
    }
}

async fn load_catalog(
    conn: &mut Conn,
    gen: &mut Generator,
    sizes: &Sizes,
    progress: &mut Progress,
) -> Result<(), StorefrontError> {
    let mut b = Batch::new("categories", "id, name, slug, position");
    progress.table("categories");
    for id in 1..=sizes.categories {
        b.push(conn, &gen.category(id)).await?;
        progress.inc();
    }
    b.flush(conn).await?;
    let mut products = Batch::new(
        "products",
        "id, category_id, sku, name, description, price_cents, popularity, featured",
    );
    let mut inventory = Batch::new("inventory", "product_id, quantity");
    progress.table("products");
    for id in 1..=sizes.products {
        products.push(conn, &gen.product(id)).await?;
        inventory.push(conn, &gen.inventory(id)).await?;
        progress.inc();
    }
    products.flush(conn).await?;
    inventory.flush(conn).await?;
    let mut customers = Batch::new("customers", "id, email, full_name, created_at");
    let mut addresses = Batch::new(
        "addresses",
        "customer_id, line1, city, postcode, country, is_default",
    );
    progress.table("customers");
    let mut rows = Vec::new();
    for id in 1..=sizes.customers {
        customers.push(conn, &gen.customer(id)).await?;
        rows.clear();
        gen.addresses(id, &mut rows);
        for r in &rows {
            addresses.push(conn, r).await?;
        }
        progress.inc();
    }
    customers.flush(conn).await?;
    addresses.flush(conn).await
}

async fn load_history(
    conn: &mut Conn,
    gen: &mut Generator,
    sizes: &Sizes,
    progress: &mut Progress,
) -> Result<(), StorefrontError> {
    let mut orders = Batch::new("orders", "id, customer_id, status, total_cents, created_at");
    let mut items = Batch::new(
        "order_items",
        "order_id, product_id, quantity, unit_price_cents",
    );
    let mut payments = Batch::new(
        "payments",
        "order_id, method, amount_cents, status, created_at",
    );
    progress.table("orders");
    for id in 1..=sizes.orders {
        let (order, lines, payment) = gen.order(id);
        orders.push(conn, &order).await?;
        for l in &lines {
            items.push(conn, l).await?;
        }
        payments.push(conn, &payment).await?;
        progress.inc();
    }
    orders.flush(conn).await?;
    items.flush(conn).await?;
    payments.flush(conn).await?;
    let mut carts = Batch::new("carts", "id, customer_id, status");
    let mut cart_items = Batch::new("cart_items", "cart_id, product_id, quantity");
    progress.table("carts");
    for id in 1..=sizes.carts {
        let (cart, lines) = gen.cart(id);
        carts.push(conn, &cart).await?;
        for l in &lines {
            cart_items.push(conn, l).await?;
        }
        progress.inc();
    }
    carts.flush(conn).await?;
    cart_items.flush(conn).await
}

/// Load progress: an indicatif bar on a terminal, plain lines otherwise, or nothing.
struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    current: Option<(&'static str, u64)>,
    done: u64,
}

impl Progress {
    fn new(enabled: bool, sizes: &Sizes) -> Progress {
        // Units: a category, a product with its stock row, a customer with addresses, an
        // order with its items and payment, a cart with its items.
        let total =
            sizes.categories + sizes.products + sizes.customers + sizes.orders + sizes.carts;
        let tty = std::io::stderr().is_terminal();
        let bar = (enabled && tty).then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "loading {msg:<10} [{bar:30}] {percent:>3}% {elapsed_precise} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            lines: enabled && !tty,
            current: None,
            done: 0,
        }
    }

    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if self.lines => eprintln!("{text}"),
            None => {}
        }
    }

    fn table(&mut self, name: &'static str) {
        self.end_table();
        self.current = Some((name, self.done));
        if let Some(bar) = &self.bar {
            bar.set_message(name);
        }
    }

    fn end_table(&mut self) {
        if let (Some((name, start)), true) = (self.current.take(), self.lines) {
            eprintln!("loaded {name}: {}", self.done - start);
        }
    }

    fn inc(&mut self) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&mut self, started: Instant) {
        self.end_table();
        let enabled = self.lines || self.bar.is_some();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if enabled {
            eprintln!(
                "storefront loaded in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

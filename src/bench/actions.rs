//! The SQL of each step, run on one connection. Parameters are integers the workload chose
//! or words from a fixed list, so they are written into the text (the text protocol, as
//! most web stacks send it). The checkout is one transaction that locks the stock rows in
//! product order (no deadlocks between checkouts), rolls back when stock is short, and
//! otherwise writes the order, its lines and its payment and decrements the stock. The
//! cart read after an add and the order history after a checkout check that this
//! connection reads what it has just written.

use super::stats::Outcome;
use super::visit::{Step, Visit};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Error};

/// Runs `step` for `visit` on `conn`, updating the visit's cart and order.
pub async fn execute(conn: &mut Conn, step: &Step, visit: &mut Visit) -> Result<Outcome, Error> {
    match step {
        Step::Home => {
            reads(
                conn,
                &[
                    "SELECT id, name, slug FROM categories ORDER BY position".to_string(),
                    "SELECT id, name, price_cents FROM products WHERE featured = 1 \
             ORDER BY popularity DESC LIMIT 12"
                        .to_string(),
                ],
            )
            .await
        }
        Step::Category(c) => {
            reads(
                conn,
                &[
                    format!(
                        "SELECT id, name, price_cents FROM products WHERE category_id = {c} \
                     AND active = 1 ORDER BY popularity DESC LIMIT 24"
                    ),
                    format!("SELECT COUNT(*) FROM products WHERE category_id = {c} AND active = 1"),
                ],
            )
            .await
        }
        Step::Product(p) => {
            reads(
                conn,
                &[
                    format!(
                        "SELECT p.id, p.name, p.description, p.price_cents, i.quantity \
                     FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.id = {p}"
                    ),
                    format!(
                        "SELECT r.id, r.name, r.price_cents FROM products r \
                     JOIN products p ON p.category_id = r.category_id \
                     WHERE p.id = {p} AND r.id <> {p} AND r.active = 1 \
                     ORDER BY r.popularity DESC LIMIT 4"
                    ),
                ],
            )
            .await
        }
        Step::Search(word) => {
            reads(
                conn,
                &[format!(
                    "SELECT id, name, price_cents FROM products WHERE name LIKE '{word}%' \
             AND active = 1 ORDER BY name LIMIT 20"
                )],
            )
            .await
        }
        Step::AddToCart { product, qty } => add_to_cart(conn, visit, *product, *qty).await,
        Step::Checkout => checkout(conn, visit).await,
        Step::History => history(conn, visit).await,
    }
}

async fn reads(conn: &mut Conn, sqls: &[String]) -> Result<Outcome, Error> {
    for sql in sqls {
        conn.query_drop(sql).await?;
    }
    Ok(Outcome {
        statements: sqls.len() as u32,
        ..Outcome::default()
    })
}

async fn add_to_cart(
    conn: &mut Conn,
    visit: &mut Visit,
    product: u64,
    qty: u32,
) -> Result<Outcome, Error> {
    let mut statements = 0;
    let cart = match visit.cart_id {
        Some(id) => id,
        None => {
            conn.query_drop(format!(
                "INSERT INTO carts (customer_id) VALUES ({})",
                visit.customer
            ))
            .await?;
            statements += 1;
            let id = conn.last_insert_id().unwrap_or(0);
            visit.cart_id = Some(id);
            id
        }
    };
    conn.query_drop(format!(
        "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES ({cart}, {product}, {qty}) \
         ON DUPLICATE KEY UPDATE quantity = quantity + VALUES(quantity)"
    ))
    .await?;
    visit.cart.push((product, qty));
    // The cart page: must show everything this connection has put in.
    let lines: Vec<(u64, u32)> = conn
        .query(format!(
            "SELECT ci.product_id, ci.quantity FROM cart_items ci \
             JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = {cart}"
        ))
        .await?;
    let stale = visit
        .cart
        .iter()
        .any(|(p, _)| !lines.iter().any(|(q, _)| q == p));
    Ok(Outcome {
        statements: statements + 2,
        stale,
        ..Outcome::default()
    })
}

async fn checkout(conn: &mut Conn, visit: &mut Visit) -> Result<Outcome, Error> {
    let mut lines = visit.cart.clone();
    lines.sort_unstable();
    let ids = lines
        .iter()
        .map(|(p, _)| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    conn.query_drop("START TRANSACTION").await?;
    let stock: Vec<(u64, i64)> = conn
        .query(format!(
            "SELECT product_id, quantity FROM inventory WHERE product_id IN ({ids}) \
             ORDER BY product_id FOR UPDATE"
        ))
        .await?;
    let short = lines.iter().any(|(p, q)| {
        !stock
            .iter()
            .any(|(s, have)| s == p && *have >= i64::from(*q))
    });
    if short {
        conn.query_drop("ROLLBACK").await?;
        return Ok(Outcome {
            statements: 3,
            out_of_stock: true,
            ..Outcome::default()
        });
    }
    let prices: Vec<(u64, u64)> = conn
        .query(format!(
            "SELECT id, price_cents FROM products WHERE id IN ({ids})"
        ))
        .await?;
    let price = |p: u64| {
        prices
            .iter()
            .find(|(id, _)| *id == p)
            .map_or(0, |(_, c)| *c)
    };
    let total: u64 = lines.iter().map(|(p, q)| price(*p) * u64::from(*q)).sum();
    let c = visit.customer;
    conn.query_drop(format!(
        "INSERT INTO orders (customer_id, address_id, total_cents) SELECT {c}, \
         (SELECT id FROM addresses WHERE customer_id = {c} ORDER BY is_default DESC, id LIMIT 1), \
         {total}"
    ))
    .await?;
    let order = conn.last_insert_id().unwrap_or(0);
    let values = lines
        .iter()
        .map(|(p, q)| format!("({order},{p},{q},{})", price(*p)))
        .collect::<Vec<_>>()
        .join(",");
    conn.query_drop(format!(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES {values}"
    ))
    .await?;
    conn.query_drop(format!(
        "INSERT INTO payments (order_id, method, amount_cents) VALUES ({order}, 'card', {total})"
    ))
    .await?;
    let mut statements = 6;
    for (p, q) in &lines {
        conn.query_drop(format!(
            "UPDATE inventory SET quantity = quantity - {q} WHERE product_id = {p} AND quantity >= {q}"
        ))
        .await?;
        statements += 1;
        if conn.affected_rows() != 1 {
            conn.query_drop("ROLLBACK").await?;
            return Ok(Outcome {
                statements: statements + 1,
                out_of_stock: true,
                ..Outcome::default()
            });
        }
    }
    if let Some(cart) = visit.cart_id {
        conn.query_drop(format!(
            "UPDATE carts SET status = 'ordered' WHERE id = {cart}"
        ))
        .await?;
        statements += 1;
    }
    conn.query_drop("COMMIT").await?;
    visit.order = Some((order, lines.len()));
    Ok(Outcome {
        statements: statements + 1,
        committed: true,
        ..Outcome::default()
    })
}

/// The order history page, right after the checkout on the same connection: the new
/// order must be listed with all its lines, or the read was stale.
async fn history(conn: &mut Conn, visit: &mut Visit) -> Result<Outcome, Error> {
    let Some((order, n_lines)) = visit.order else {
        return Ok(Outcome::default());
    };
    let orders: Vec<u64> = conn
        .query(format!(
            "SELECT id FROM orders WHERE customer_id = {} ORDER BY id DESC LIMIT 10",
            visit.customer
        ))
        .await?;
    let items: Vec<(u64, u32, String)> = conn
        .query(format!(
            "SELECT oi.product_id, oi.quantity, p.name FROM order_items oi \
             JOIN products p ON p.id = oi.product_id WHERE oi.order_id = {order}"
        ))
        .await?;
    Ok(Outcome {
        statements: 2,
        stale: !orders.contains(&order) || items.len() != n_lines,
        ..Outcome::default()
    })
}

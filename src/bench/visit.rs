//! One shopper's visit as a small state machine: the home page, a few browsing steps
//! (category pages, product pages, searches), maybe adding viewed products to a cart,
//! maybe checking out, and then the order history. Pure: the next step depends only on
//! the visit's state and the random source, so the mix is unit-tested without a server.

use crate::storefront::{Catalog, Popularity, ADJECTIVES};
use rand::Rng;

/// Kinds of action, the rows of the latency table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Categories and featured products.
    Home,
    /// One category's products by popularity.
    Category,
    /// One product with its stock and related products.
    Product,
    /// Products whose name starts with a word.
    Search,
    /// Put a product in the cart, then read the cart back.
    AddToCart,
    /// The checkout transaction.
    Checkout,
    /// The order history right after checkout (the read-your-writes probe).
    History,
}

impl Action {
    /// Every action, in table order.
    pub const ALL: [Action; 7] = [
        Action::Home,
        Action::Category,
        Action::Product,
        Action::Search,
        Action::AddToCart,
        Action::Checkout,
        Action::History,
    ];

    /// Name used in the summary and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Action::Home => "home",
            Action::Category => "category",
            Action::Product => "product",
            Action::Search => "search",
            Action::AddToCart => "add_to_cart",
            Action::Checkout => "checkout",
            Action::History => "history",
        }
    }

    /// Position in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One step to run, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The home page.
    Home,
    /// Category page of this category id.
    Category(u64),
    /// Product page of this product id.
    Product(u64),
    /// Search for names starting with this word.
    Search(&'static str),
    /// Add `qty` of `product` to the cart.
    AddToCart {
        /// Product id.
        product: u64,
        /// Quantity.
        qty: u32,
    },
    /// Check the cart out.
    Checkout,
    /// Order history and the newest order's lines.
    History,
}

impl Step {
    /// The action this step is counted under.
    pub fn action(&self) -> Action {
        match self {
            Step::Home => Action::Home,
            Step::Category(_) => Action::Category,
            Step::Product(_) => Action::Product,
            Step::Search(_) => Action::Search,
            Step::AddToCart { .. } => Action::AddToCart,
            Step::Checkout => Action::Checkout,
            Step::History => Action::History,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Browse,
    Viewed(u64),
    CheckedOut,
    Done,
}

/// Chance that a viewed product goes into the cart.
const ADD_TO_CART: f64 = 0.35;
/// Chance that a visit with a non-empty cart checks out.
const CHECKOUT: f64 = 0.7;
/// Most lines a cart gets.
const MAX_CART_LINES: usize = 4;

/// The state of one visit. The executor fills in the cart and the order as steps succeed.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The shopper.
    pub customer: u64,
    /// Their cart, once created.
    pub cart_id: Option<u64>,
    /// Lines in the cart: product id and quantity.
    pub cart: Vec<(u64, u32)>,
    /// The order the checkout committed, and its number of lines.
    pub order: Option<(u64, usize)>,
    browses_left: u32,
    phase: Phase,
}

impl Visit {
    /// A new visit by a random customer of `catalog`.
    pub fn new(rng: &mut impl Rng, catalog: &Catalog) -> Visit {
        Visit {
            customer: rng.random_range(1..=catalog.customers.max(1)),
            cart_id: None,
            cart: Vec::new(),
            order: None,
            browses_left: rng.random_range(3..=8),
            phase: Phase::Start,
        }
    }

    /// The next step, or `None` when the visit is over.
    pub fn next(
        &mut self,
        rng: &mut impl Rng,
        catalog: &Catalog,
        pop: &Popularity,
    ) -> Option<Step> {
        match self.phase {
            Phase::Start => {
                self.phase = Phase::Browse;
                Some(Step::Home)
            }
            Phase::Viewed(p) => {
                self.phase = Phase::Browse;
                let room = self.cart.len() < MAX_CART_LINES;
                if room && !self.cart.iter().any(|&(q, _)| q == p) && rng.random_bool(ADD_TO_CART) {
                    return Some(Step::AddToCart {
                        product: p,
                        qty: rng.random_range(1..=2),
                    });
                }
                self.browse(rng, catalog, pop)
            }
            Phase::Browse => self.browse(rng, catalog, pop),
            Phase::CheckedOut => {
                self.phase = Phase::Done;
                self.order.map(|_| Step::History)
            }
            Phase::Done => None,
        }
    }

    fn browse(&mut self, rng: &mut impl Rng, catalog: &Catalog, pop: &Popularity) -> Option<Step> {
        if self.browses_left == 0 {
            if !self.cart.is_empty() && rng.random_bool(CHECKOUT) {
                self.phase = Phase::CheckedOut;
                return Some(Step::Checkout);
            }
            self.phase = Phase::Done;
            return None;
        }
        self.browses_left -= 1;
        let roll = rng.random_range(0..100u32);
        Some(if roll < 50 {
            let p = pop.sample(rng);
            self.phase = Phase::Viewed(p);
            Step::Product(p)
        } else if roll < 80 {
            Step::Category(rng.random_range(1..=catalog.categories.max(1)))
        } else {
            Step::Search(ADJECTIVES[rng.random_range(0..ADJECTIVES.len())])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    const CATALOG: Catalog = Catalog {
        products: 1000,
        customers: 5000,
        categories: 16,
    };

    /// Runs `visits` visits, pretending every add succeeds and every checkout commits.
    fn simulate(visits: usize) -> HashMap<Action, usize> {
        let mut rng = StdRng::seed_from_u64(3);
        let pop = Popularity::new(CATALOG.products);
        let mut counts = HashMap::new();
        for _ in 0..visits {
            let mut v = Visit::new(&mut rng, &CATALOG);
            let mut steps = Vec::new();
            while let Some(step) = v.next(&mut rng, &CATALOG, &pop) {
                match &step {
                    Step::AddToCart { product, qty } => v.cart.push((*product, *qty)),
                    Step::Checkout => v.order = Some((1, v.cart.len())),
                    _ => {}
                }
                *counts.entry(step.action()).or_default() += 1;
                steps.push(step);
                assert!(steps.len() < 40, "a visit must end: {steps:?}");
            }
            assert_eq!(steps[0], Step::Home);
            let checkout = steps.iter().position(|s| *s == Step::Checkout);
            if let Some(i) = checkout {
                assert_eq!(steps.get(i + 1), Some(&Step::History), "{steps:?}");
                assert_eq!(i + 2, steps.len());
            }
            assert!(v.cart.len() <= MAX_CART_LINES);
        }
        counts
    }

    #[test]
    fn visits_follow_the_shop_flow() {
        let counts = simulate(2000);
        let total: usize = counts.values().sum();
        let share = |a: Action| counts.get(&a).copied().unwrap_or(0) as f64 / total as f64;
        assert_eq!(counts[&Action::Home], 2000);
        assert_eq!(counts[&Action::Checkout], counts[&Action::History]);
        // Reads dominate; a checkout every few visits.
        assert!((0.25..0.5).contains(&share(Action::Product)), "{counts:?}");
        assert!(
            counts[&Action::Checkout] > 400 && counts[&Action::Checkout] < 1600,
            "{counts:?}"
        );
        assert!(
            share(Action::Search) > 0.05 && share(Action::Category) > 0.1,
            "{counts:?}"
        );
    }

    #[test]
    fn no_history_without_a_committed_order() {
        let mut rng = StdRng::seed_from_u64(9);
        let pop = Popularity::new(CATALOG.products);
        for _ in 0..500 {
            let mut v = Visit::new(&mut rng, &CATALOG);
            while let Some(step) = v.next(&mut rng, &CATALOG, &pop) {
                if let Step::AddToCart { product, qty } = step {
                    v.cart.push((product, qty));
                }
                assert_ne!(
                    step,
                    Step::History,
                    "out of stock: the visit ends after checkout"
                );
            }
        }
    }
}

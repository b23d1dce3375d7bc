//! The generated catalog: how many rows each table gets at a scale, and the rows
//! themselves as SQL value tuples. Deterministic for a seed, so two loads at the same
//! scale hold the same shop.

use super::popularity::Popularity;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Words product names start with; `rwproxy bench` searches by these prefixes.
pub const ADJECTIVES: &[&str] = &[
    "Sturdy", "Elegant", "Rustic", "Compact", "Vintage", "Modern", "Classic", "Sleek", "Cozy",
    "Bold", "Gentle", "Bright", "Handmade", "Nordic", "Urban", "Tiny", "Grand", "Quiet", "Rapid",
    "Smart", "Lucky", "Royal", "Sunny", "Wild",
];
const MATERIALS: &[&str] = &[
    "Oak", "Steel", "Cotton", "Leather", "Glass", "Bamboo", "Wool", "Ceramic", "Linen", "Copper",
    "Marble", "Walnut", "Silk", "Granite", "Velvet", "Cedar",
];
const NOUNS: &[&str] = &[
    "Chair", "Lamp", "Table", "Mug", "Backpack", "Scarf", "Clock", "Vase", "Kettle", "Desk",
    "Blanket", "Bowl", "Shelf", "Jacket", "Notebook", "Pillow", "Bench", "Candle", "Rug", "Teapot",
    "Basket", "Mirror", "Stool", "Tray",
];
const CATEGORY_NAMES: &[&str] = &[
    "Home", "Kitchen", "Garden", "Office", "Outdoor", "Lighting", "Textiles", "Decor", "Travel",
    "Bath", "Kids", "Storage",
];
// Some non-ASCII names, so the data exercises utf8mb4 end to end.
const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Björn",
    "Chloé",
    "Dmitri",
    "Elif",
    "François",
    "Grace",
    "Hiroshi",
    "Inés",
    "José",
    "Katarzyna",
    "Lars",
    "Mei",
    "Noah",
    "Olga",
    "Priya",
    "Zoë",
    "Sören",
    "Tomás",
    "Yūki",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Øster",
    "Dubois",
    "Ivanov",
    "Yılmaz",
    "Müller",
    "Hopper",
    "Tanaka",
    "García",
    "Nowak",
    "Andersson",
    "Chen",
    "Smith",
    "Petrova",
    "Patel",
    "Brontë",
    "Kowalski",
    "Rossi",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("Lyon", "FR"),
    ("Kraków", "PL"),
    ("Sevilla", "ES"),
    ("Malmö", "SE"),
    ("Porto", "PT"),
    ("Leeds", "GB"),
    ("Torino", "IT"),
    ("Utrecht", "NL"),
    ("Zürich", "CH"),
];

/// Row counts of the generated shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Categories.
    pub categories: u64,
    /// Products (one inventory row each).
    pub products: u64,
    /// Customers (one or two addresses each).
    pub customers: u64,
    /// Past orders (each with a payment and 1–4 items).
    pub orders: u64,
    /// Abandoned carts (1–3 items each).
    pub carts: u64,
}

impl Sizes {
    /// Counts at `scale`: 1.0 is ~10k products and ~50k customers; small scales keep a
    /// minimum so a tiny shop still has several categories and products to browse.
    pub fn at(scale: f64) -> Sizes {
        let n = |base: f64, min: u64| ((base * scale).round() as u64).max(min);
        Sizes {
            categories: ((50.0 * scale.sqrt()).round() as u64).max(5),
            products: n(10_000.0, 50),
            customers: n(50_000.0, 100),
            orders: n(20_000.0, 40),
            carts: n(5_000.0, 10),
        }
    }
}

/// Quotes `s` as a SQL string literal (the generated text never holds a backslash, but
/// escape it anyway so the function is safe for any input under default sql_mode).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Name of product `id`; the first word is one of `ADJECTIVES`.
pub fn product_name(id: u64) -> String {
    let a = ADJECTIVES[(id as usize * 7) % ADJECTIVES.len()];
    let m = MATERIALS[(id as usize / 3) % MATERIALS.len()];
    let n = NOUNS[(id as usize * 13 + id as usize / 11) % NOUNS.len()];
    format!("{a} {m} {n}")
}

/// Deterministic rows for each table, one `(...)` tuple per call.
pub struct Generator {
    sizes: Sizes,
    popularity: Popularity,
    rng: StdRng,
}

impl Generator {
    /// A generator for `sizes`, reproducible from `seed`.
    pub fn new(sizes: Sizes, seed: u64) -> Generator {
        Generator {
            sizes,
            popularity: Popularity::new(sizes.products),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `categories (id, name, slug, position)`.
    pub fn category(&mut self, id: u64) -> String {
        let base = CATEGORY_NAMES[(id as usize - 1) % CATEGORY_NAMES.len()];
        let round = (id as usize - 1) / CATEGORY_NAMES.len();
        let name = if round == 0 {
            base.to_string()
        } else {
            format!("{base} {}", round + 1)
        };
        let slug = name.to_lowercase().replace(' ', "-");
        format!("({id},{},{},{id})", quote(&name), quote(&slug))
    }

    /// `products (id, category_id, sku, name, description, price_cents, popularity, featured)`.
    pub fn product(&mut self, id: u64) -> String {
        let rank = self.popularity.rank_of_id(id);
        let category = 1 + (id * 31 + rank) % self.sizes.categories;
        let name = product_name(id);
        let description = format!(
            "{name}: built to last, shipped in recycled packaging. Ref {id:06}, batch {}.",
            self.rng.random_range(100..999)
        );
        let price = self.rng.random_range(199..49_999u32);
        let popularity = self.sizes.products - rank;
        let featured = u8::from(rank < 24);
        format!(
            "({id},{category},'SKU-{id:07}',{},{},{price},{popularity},{featured})",
            quote(&name),
            quote(&description)
        )
    }

    /// `inventory (product_id, quantity)`: mostly well stocked, ~3% sold out.
    pub fn inventory(&mut self, product_id: u64) -> String {
        let q = if self.rng.random_bool(0.03) {
            0
        } else {
            self.rng.random_range(200..2000u32)
        };
        format!("({product_id},{q})")
    }

    /// `customers (id, email, full_name, created_at)`.
    pub fn customer(&mut self, id: u64) -> String {
        let first = FIRST_NAMES[self.rng.random_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.random_range(0..LAST_NAMES.len())];
        let days = self.rng.random_range(0..1000u32);
        format!(
            "({id},'customer{id}@example.com',{},NOW() - INTERVAL {days} DAY)",
            quote(&format!("{first} {last}"))
        )
    }

    /// `addresses (customer_id, line1, city, postcode, country, is_default)`: a default
    /// address for every customer, and a second one for one in five.
    pub fn addresses(&mut self, customer_id: u64, out: &mut Vec<String>) {
        let count = if customer_id % 5 == 0 { 2 } else { 1 };
        for i in 0..count {
            let (city, country) = CITIES[self.rng.random_range(0..CITIES.len())];
            let street = self.rng.random_range(1..300u32);
            let postcode = self.rng.random_range(10_000..99_999u32);
            out.push(format!(
                "({customer_id},{},{},'{postcode}','{country}',{})",
                quote(&format!(
                    "{street} {} Street",
                    LAST_NAMES[street as usize % LAST_NAMES.len()]
                )),
                quote(city),
                u8::from(i == 0)
            ));
        }
    }

    /// One past order: the `orders` tuple `(id, customer_id, status, total_cents,
    /// created_at)`, its `order_items` tuples and its `payments` tuple.
    pub fn order(&mut self, id: u64) -> (String, Vec<String>, String) {
        let customer = self.rng.random_range(1..=self.sizes.customers);
        let lines = self
            .rng
            .random_range(1..=4usize)
            .min(self.sizes.products as usize);
        let mut items = Vec::with_capacity(lines);
        let mut seen = Vec::with_capacity(lines);
        let mut total = 0u64;
        while items.len() < lines {
            let product = self.popularity.sample(&mut self.rng);
            if seen.contains(&product) {
                continue;
            }
            seen.push(product);
            let qty = self.rng.random_range(1..=3u64);
            let price = self.rng.random_range(199..49_999u64);
            total += qty * price;
            items.push(format!("({id},{product},{qty},{price})"));
        }
        let days = self.rng.random_range(1..700u32);
        let status = ["delivered", "delivered", "shipped", "cancelled"][id as usize % 4];
        let method = ["card", "card", "paypal", "voucher"][self.rng.random_range(0..4usize)];
        let order = format!("({id},{customer},'{status}',{total},NOW() - INTERVAL {days} DAY)");
        let payment = format!("({id},'{method}',{total},'captured',NOW() - INTERVAL {days} DAY)");
        (order, items, payment)
    }

    /// One abandoned cart: the `carts` tuple `(id, customer_id, status)` and its items.
    pub fn cart(&mut self, id: u64) -> (String, Vec<String>) {
        let customer = self.rng.random_range(1..=self.sizes.customers);
        let mut products: Vec<u64> = (0..self.rng.random_range(1..=3))
            .map(|_| self.popularity.sample(&mut self.rng))
            .collect();
        products.sort_unstable();
        products.dedup();
        let items = products
            .iter()
            .map(|p| format!("({id},{p},{})", self.rng.random_range(1..=2u32)))
            .collect();
        (format!("({id},{customer},'abandoned')"), items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_one_is_the_documented_shop() {
        let s = Sizes::at(1.0);
        assert_eq!(
            (s.products, s.customers, s.categories),
            (10_000, 50_000, 50)
        );
        let tiny = Sizes::at(0.01);
        assert_eq!((tiny.products, tiny.customers), (100, 500));
        assert!(tiny.categories >= 5);
        let zero = Sizes::at(0.0);
        assert!(zero.products >= 50 && zero.customers >= 100 && zero.orders >= 1);
    }

    #[test]
    fn quoting_doubles_quotes_and_backslashes() {
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
    }

    #[test]
    fn names_start_with_a_search_word() {
        for id in 1..500 {
            let name = product_name(id);
            assert!(ADJECTIVES.iter().any(|a| name.starts_with(a)), "{name}");
        }
    }

    #[test]
    fn generation_is_reproducible_and_orders_have_distinct_items() {
        let sizes = Sizes::at(0.01);
        let mut a = Generator::new(sizes, 42);
        let mut b = Generator::new(sizes, 42);
        for id in 1..50 {
            assert_eq!(a.product(id), b.product(id));
            let (o, items, p) = a.order(id);
            assert_eq!((o, items.clone(), p), b.order(id));
            let mut products: Vec<&str> = items
                .iter()
                .map(|i| i.split(',').nth(1).unwrap_or(""))
                .collect();
            let n = products.len();
            products.dedup();
            products.sort_unstable();
            products.dedup();
            assert_eq!(products.len(), n, "{items:?}");
        }
    }
}

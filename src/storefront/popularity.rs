//! The 80/20 rule for product popularity: 20% of the products (the "hot" ones) get 80% of
//! the views. The generator and the workload share this mapping, so the products the
//! workload favours are also the ones the catalog ranks first (`products.popularity`).

use rand::Rng;

/// Share of views that go to the hot products.
pub const HOT_TRAFFIC_SHARE: f64 = 0.8;
/// Share of products that are hot.
pub const HOT_PRODUCT_SHARE: f64 = 0.2;

/// Maps popularity ranks (0 = most popular) to product ids `1..=n` with a fixed
/// permutation, so hot products are spread over categories rather than being ids 1..n/5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Popularity {
    n: u64,
    stride: u64,
    hot: u64,
}

impl Popularity {
    /// The mapping for `n` products (`n >= 1`; 0 is treated as 1).
    pub fn new(n: u64) -> Popularity {
        let n = n.max(1);
        // A stride coprime with n makes `rank * stride mod n` a permutation.
        let mut stride = (7919 % n).max(1);
        while gcd(stride, n) != 1 {
            stride += 1;
        }
        let hot = ((n as f64 * HOT_PRODUCT_SHARE).round() as u64).clamp(1, n);
        Popularity { n, stride, hot }
    }

    /// Number of products.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Always false: there is at least one product.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of hot products.
    pub fn hot(&self) -> u64 {
        self.hot
    }

    /// Product id of popularity rank `rank` (`0..n`).
    pub fn id_of_rank(&self, rank: u64) -> u64 {
        1 + ((rank % self.n) * self.stride) % self.n
    }

    /// Whether product `id` is one of the hot ones.
    pub fn is_hot(&self, id: u64) -> bool {
        self.rank_of_id(id) < self.hot
    }

    /// Popularity rank of product `id` (inverse of `id_of_rank`).
    pub fn rank_of_id(&self, id: u64) -> u64 {
        let inv = mod_inverse(self.stride, self.n);
        (((id - 1) % self.n) * inv) % self.n
    }

    /// Draws a product id: a hot one with probability 0.8, else a cold one.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        let cold = self.n - self.hot;
        let rank = if cold == 0 || rng.random_bool(HOT_TRAFFIC_SHARE) {
            rng.random_range(0..self.hot)
        } else {
            self.hot + rng.random_range(0..cold)
        };
        self.id_of_rank(rank)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Inverse of `a` modulo `n` (`a` coprime with `n`), by the extended Euclidean algorithm.
fn mod_inverse(a: u64, n: u64) -> u64 {
    if n == 1 {
        return 0;
    }
    let (mut t, mut new_t) = (0i128, 1i128);
    let (mut r, mut new_r) = (n as i128, a as i128);
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    t.rem_euclid(n as i128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn ranks_map_to_every_id_once() {
        for n in [1u64, 2, 5, 7919, 7920, 10_000, 15_838] {
            let p = Popularity::new(n);
            let ids: HashSet<u64> = (0..n).map(|r| p.id_of_rank(r)).collect();
            assert_eq!(ids.len() as u64, n, "n = {n}");
            assert!(ids.iter().all(|&id| (1..=n).contains(&id)));
            for r in (0..n).step_by(97) {
                assert_eq!(p.rank_of_id(p.id_of_rank(r)), r, "n = {n}, rank {r}");
            }
        }
    }

    #[test]
    fn twenty_percent_of_products_get_eighty_percent_of_views() {
        let p = Popularity::new(1000);
        assert_eq!(p.hot(), 200);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let draws = 100_000;
        let hot = (0..draws).filter(|_| p.is_hot(p.sample(&mut rng))).count();
        let share = hot as f64 / draws as f64;
        assert!((0.79..0.81).contains(&share), "hot share {share}");
    }

    #[test]
    fn hot_products_are_spread_over_the_id_range() {
        let p = Popularity::new(1000);
        let low_half = (0..p.hot()).filter(|&r| p.id_of_rank(r) <= 500).count();
        assert!(
            (60..140).contains(&low_half),
            "{low_half} of 200 hot ids in 1..=500"
        );
    }

    #[test]
    fn a_single_product_is_always_drawn() {
        let p = Popularity::new(1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(p.sample(&mut rng), 1);
        assert!(p.is_hot(1));
    }
}

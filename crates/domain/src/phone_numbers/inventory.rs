//! The simulated carrier's inventory: a deterministic, seeded set of numbers
//! per block, with no stored table. Each block offers [`BLOCK_INVENTORY`]
//! numbers: the first indices of an affine permutation of its subscriber
//! space seeded by country, type and prefix, so the same numbers come back on
//! every server and every run, look random, and membership is checked in
//! constant time by inverting the permutation.

use super::NumberType;
use super::countries::{Block, Country};

/// Numbers each block offers.
pub const BLOCK_INVENTORY: u64 = 1000;

/// A number the carrier offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// E.164.
    pub phone_number: String,
    pub country_code: &'static str,
    pub number_type: NumberType,
    /// The block's area or city code, when it has one.
    pub code: Option<&'static str>,
    pub city: Option<&'static str>,
    pub region: &'static str,
}

/// What to look for. `code` must already be checked against the country
/// (area code for US/CA, city code elsewhere); `contains` is digits.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    pub country: &'static Country,
    pub number_type: NumberType,
    pub code: Option<&'a str>,
    pub contains: Option<&'a str>,
}

/// FNV-1a: a stable hash, unlike std's, across Rust versions and machines.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `a` modulo `m` (`a` and `m` coprime).
fn inverse(a: u64, m: u64) -> u64 {
    let (mut old_r, mut r) = (i128::from(a), i128::from(m));
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(i128::from(m)) as u64
}

/// The permutation of one block: subscriber `base + (a·i + b) mod space`.
struct Permutation {
    base: u64,
    space: u64,
    a: u64,
    b: u64,
}

impl Permutation {
    fn of(country: &Country, block: &Block) -> Self {
        let seed = fnv1a(&format!("switchboard-sim:{}:{}:{}", country.code, block.number_type.as_str(), block.prefix));
        let unit = 10u64.pow(block.subscriber_digits - 1);
        let first = first_digit(block);
        let space = (10 - first) * unit;
        let mut a = (seed >> 20) % space;
        // A large multiplier spreads consecutive indices over the space.
        if a < space / 3 {
            a += space / 3;
        }
        while gcd(a, space) != 1 {
            a = (a + 1) % space;
        }
        Permutation { base: first * unit, space, a, b: seed % space }
    }

    fn subscriber(&self, index: u64) -> u64 {
        let x = (u128::from(self.a) * u128::from(index) + u128::from(self.b)) % u128::from(self.space);
        self.base + x as u64
    }

    fn index(&self, subscriber: u64) -> Option<u64> {
        let x = subscriber.checked_sub(self.base).filter(|x| *x < self.space)?;
        let shifted = (x + self.space - self.b) % self.space;
        let index = u128::from(shifted) * u128::from(inverse(self.a, self.space)) % u128::from(self.space);
        Some(index as u64)
    }
}

/// Local subscriber numbers start at 2 (0 and 1 are trunk and service
/// prefixes); mobile and toll-free ones at 1.
fn first_digit(block: &Block) -> u64 {
    if block.number_type == NumberType::Local { 2 } else { 1 }
}

/// Numbers a carrier would never sell: in the NANP, exchanges `N11`
/// (service codes) and `555` (fictional).
fn plausible(country: &Country, subscriber: &str) -> bool {
    if !country.is_nanp() {
        return true;
    }
    let exchange = &subscriber[..3];
    !(exchange.ends_with("11") || exchange == "555")
}

fn offer(country: &'static Country, block: &'static Block, subscriber: &str) -> Offer {
    Offer {
        phone_number: format!("+{}{}{}", country.dialing_code, block.prefix, subscriber),
        country_code: country.code,
        number_type: block.number_type,
        code: block.code,
        city: block.city,
        region: block.region,
    }
}

fn block_matches(block: &Block, filter: &Filter<'_>) -> bool {
    block.number_type == filter.number_type && filter.code.is_none_or(|code| block.code == Some(code))
}

/// Every offered number matching the filter, in a stable order that
/// alternates between the matching blocks. Lazy: take what you need.
pub fn search<'a>(filter: Filter<'a>) -> impl Iterator<Item = Offer> + 'a {
    let country = filter.country;
    let blocks: Vec<(&'static Block, Permutation)> =
        country.blocks.iter().filter(|b| block_matches(b, &filter)).map(|b| (b, Permutation::of(country, b))).collect();
    (0..BLOCK_INVENTORY).flat_map(move |i| {
        blocks
            .iter()
            .filter_map(|(block, perm)| {
                let digits = block.subscriber_digits as usize;
                let subscriber = format!("{:0digits$}", perm.subscriber(i));
                plausible(country, &subscriber).then(|| offer(country, block, &subscriber))
            })
            .filter(|o| filter.contains.is_none_or(|c| o.phone_number[1..].contains(c)))
            .collect::<Vec<_>>()
    })
}

/// The offer of `e164` if the carrier sells it as a number of this country
/// and type (whether someone owns it is not known here).
pub fn find(country: &'static Country, number_type: NumberType, e164: &str) -> Option<Offer> {
    let national = e164.strip_prefix('+')?.strip_prefix(country.dialing_code)?;
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    country.blocks_of(number_type).find_map(|block| {
        let subscriber = national.strip_prefix(block.prefix)?;
        if subscriber.len() != block.subscriber_digits as usize || !plausible(country, subscriber) {
            return None;
        }
        let value: u64 = subscriber.parse().ok()?;
        let index = Permutation::of(country, block).index(value)?;
        (index < BLOCK_INVENTORY).then(|| offer(country, block, subscriber))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::E164;
    use crate::phone_numbers::countries::{COUNTRIES, country};

    fn filter(code: &str, number_type: NumberType) -> Filter<'static> {
        Filter { country: country(code).expect("country"), number_type, code: None, contains: None }
    }

    #[test]
    fn inverse_undoes_the_permutation() {
        for c in COUNTRIES {
            for b in c.blocks {
                let perm = Permutation::of(c, b);
                for i in [0, 1, 2, 499, 999] {
                    assert_eq!(perm.index(perm.subscriber(i)), Some(i), "{} {}", c.code, b.prefix);
                }
            }
        }
    }

    #[test]
    fn every_offer_is_valid_e164_and_found_again() {
        for c in COUNTRIES {
            for t in c.number_types() {
                let offers: Vec<Offer> = search(filter(c.code, t)).take(40).collect();
                assert_eq!(offers.len(), 40, "{} {t:?}", c.code);
                for o in &offers {
                    assert!(E164::parse(&o.phone_number).is_some(), "{}", o.phone_number);
                    assert!(o.phone_number.starts_with(&format!("+{}", c.dialing_code)));
                    assert_eq!(find(c, t, &o.phone_number).as_ref(), Some(o));
                }
            }
        }
    }

    #[test]
    fn search_is_deterministic_and_varied() {
        let a: Vec<Offer> = search(filter("US", NumberType::Local)).take(20).collect();
        let b: Vec<Offer> = search(filter("US", NumberType::Local)).take(20).collect();
        assert_eq!(a, b);
        let codes: std::collections::HashSet<_> = a.iter().map(|o| o.code).collect();
        assert!(codes.len() >= 10, "alternates between area codes: {codes:?}");
    }

    #[test]
    fn filters_by_code_and_digits() {
        let us = country("US").expect("US");
        let sf = Filter { code: Some("415"), ..filter("US", NumberType::Local) };
        let offers: Vec<Offer> = search(sf).take(30).collect();
        assert_eq!(offers.len(), 30);
        assert!(offers.iter().all(|o| o.phone_number.starts_with("+1415") && o.city == Some("San Francisco")));
        assert!(offers.iter().all(|o| !o.phone_number[5..8].ends_with("11") && &o.phone_number[5..8] != "555"));
        let seven = Filter { contains: Some("77"), ..sf };
        assert!(search(seven).take(5).all(|o| o.phone_number[1..].contains("77")));
        let none = Filter { code: Some("999"), ..sf };
        assert_eq!(search(none).count(), 0);
        let amsterdam = Filter { code: Some("020"), ..filter("NL", NumberType::Local) };
        assert!(search(amsterdam).take(10).all(|o| o.phone_number.starts_with("+3120") && o.phone_number.len() == 12));
        assert_eq!(find(us, NumberType::Local, "+14155550100"), None);
    }

    #[test]
    fn numbers_outside_the_inventory_are_not_found() {
        let nl = country("NL").expect("NL");
        let offered: Vec<String> =
            search(filter("NL", NumberType::Mobile)).take(1000).map(|o| o.phone_number).collect();
        let mut misses = 0;
        for n in 10_000_000..10_000_200u64 {
            let candidate = format!("+316{n}");
            if !offered.contains(&candidate) {
                assert_eq!(find(nl, NumberType::Mobile, &candidate), None);
                misses += 1;
            }
        }
        assert!(misses > 190);
        assert_eq!(find(nl, NumberType::Local, &offered[0]), None, "wrong type");
        assert_eq!(find(nl, NumberType::Mobile, "+3161234567"), None, "wrong length");
        let de = country("DE").expect("DE");
        assert_eq!(find(de, NumberType::Mobile, &offered[0]), None, "wrong country");
    }
}

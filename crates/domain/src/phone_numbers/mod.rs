//! Phone numbers (Staffify §7): number types, the price and the 28-day billing
//! cycle, the renewal rule, the country catalogue, the simulated carrier's
//! inventory and the search and purchase parameters.

pub mod countries;
pub mod inventory;
pub mod requests;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::Micros;
use crate::tier::Tier;

/// What one number costs per billing cycle: EUR 5.00.
pub const PRICE_MICROS: Micros = 5_000_000;

/// Numbers are billed every 28 days from the purchase date, not by calendar month.
pub const BILLING_CYCLE_MS: i64 = 28 * 24 * 3600 * 1000;

/// The kind of number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Local,
    Mobile,
    TollFree,
}

impl NumberType {
    pub const ALL: [NumberType; 3] = [NumberType::Local, NumberType::Mobile, NumberType::TollFree];

    pub const fn as_str(self) -> &'static str {
        match self {
            NumberType::Local => "local",
            NumberType::Mobile => "mobile",
            NumberType::TollFree => "toll_free",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Whether the org's balance pays for a new number (the first cycle is
/// charged at purchase).
pub const fn can_afford(balance: Micros) -> bool {
    balance >= PRICE_MICROS
}

/// What happens to a live number whose billing cycle is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Charge the cycle, even into a negative balance (the org then pauses).
    Charge,
    /// The org was already paused when the cycle came due: release the
    /// number for non-payment instead of charging again.
    Release,
}

/// The renewal rule, like a carrier suspending an account that cannot pay:
/// a cycle is charged while the org is not paused, even when the charge takes
/// the balance below zero (which pauses the org: writes answer 402 and
/// inbound calls are rejected). If the org is still paused when the next
/// cycle comes due, the number is released. Enterprise orgs never pause, so
/// their numbers are always charged.
pub const fn renewal(tier: Tier, balance: Micros) -> Renewal {
    if tier.is_paused(balance) { Renewal::Release } else { Renewal::Charge }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for t in NumberType::ALL {
            assert_eq!(NumberType::parse(t.as_str()), Some(t));
        }
        assert_eq!(NumberType::parse("landline"), None);
    }

    #[test]
    fn purchase_needs_five_euros() {
        assert!(can_afford(5_000_000));
        assert!(!can_afford(4_999_999));
    }

    #[test]
    fn renewals_charge_until_the_org_is_paused() {
        assert_eq!(renewal(Tier::Payg, 1), Renewal::Charge);
        assert_eq!(renewal(Tier::Payg, 3_000_000), Renewal::Charge);
        assert_eq!(renewal(Tier::Payg, 0), Renewal::Release);
        assert_eq!(renewal(Tier::Growth, -2_000_000), Renewal::Release);
        assert_eq!(renewal(Tier::Enterprise, -50_000_000), Renewal::Charge);
    }

    #[test]
    fn cycle_is_28_days() {
        assert_eq!(BILLING_CYCLE_MS, 2_419_200_000);
    }
}

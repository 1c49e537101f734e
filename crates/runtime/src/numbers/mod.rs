//! Phone numbers and addresses, from the carrier that provisions them: the [`Carrier`]
//! interface (inventory search, ordering and releasing numbers, address
//! review), its embedded default — the simulated carrier — and [`Numbers`],
//! which applies the purchase and address rules around it and runs the
//! worker that lands address reviews and renews numbers every 28 days.

mod addresses;
mod purchase;
pub mod simulated;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::addresses::ReviewOutcome;
use switchboard_domain::phone_numbers::NumberType;
use switchboard_domain::phone_numbers::countries::Country;
use switchboard_domain::phone_numbers::inventory::{Filter, Offer};
use switchboard_store::Store;
use switchboard_store::addresses::{AddressRow, DocumentContent};

pub use addresses::AddressError;
pub use purchase::NumberError;

/// What a carrier call returns.
pub type CarrierFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CarrierError>> + Send + 'a>>;

/// A carrier request that failed.
#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
}

/// Whether a number can be ordered now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available(Offer),
    /// Someone owns it.
    Taken,
    /// Not a number the carrier sells as this country and type.
    NotOffered,
}

/// The carrier's answer to an address submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub outcome: ReviewOutcome,
    /// How long until the decision is known.
    pub delay: Duration,
}

/// A telephony carrier as numbers and addresses need it.
pub trait Carrier: Send + Sync {
    /// Up to `limit` numbers for sale that match the filter and nobody owns.
    fn search<'a>(&'a self, filter: Filter<'a>, limit: usize) -> CarrierFuture<'a, Vec<Offer>>;

    /// Whether `e164` can be ordered as a number of this country and type.
    fn availability<'a>(
        &'a self,
        country: &'static Country,
        number_type: NumberType,
        e164: &'a str,
    ) -> CarrierFuture<'a, Availability>;

    /// Orders a number found available; it is the buyer's once our record of
    /// the purchase commits.
    fn order<'a>(&'a self, offer: &'a Offer) -> CarrierFuture<'a, ()>;

    /// Gives a number back to the carrier.
    fn release<'a>(&'a self, e164: &'a str) -> CarrierFuture<'a, ()>;

    /// Sends an address and its documents for review.
    fn review<'a>(&'a self, address: &'a AddressRow, documents: &'a [DocumentContent]) -> CarrierFuture<'a, Review>;
}

/// Settings of the carrier and its worker (`[carrier]` in the configuration).
#[derive(Debug, Clone)]
pub struct CarrierSettings {
    /// How long the simulated carrier takes to review a submitted address.
    pub review_delay: Duration,
    /// How often the worker lands due reviews and renews due numbers.
    pub poll_interval: Duration,
}

impl Default for CarrierSettings {
    fn default() -> Self {
        Self { review_delay: Duration::from_secs(120), poll_interval: Duration::from_secs(10) }
    }
}

/// Phone numbers and addresses over a carrier. Cheap to clone.
#[derive(Clone)]
pub struct Numbers {
    store: Store,
    carrier: Arc<dyn Carrier>,
    settings: CarrierSettings,
}

impl Numbers {
    pub fn new(store: Store, carrier: Arc<dyn Carrier>, settings: CarrierSettings) -> Self {
        Self { store, carrier, settings }
    }

    /// Over the simulated carrier, the embedded default.
    pub fn simulated(store: Store, settings: CarrierSettings) -> Self {
        let carrier = Arc::new(simulated::SimulatedCarrier::new(store.clone(), settings.review_delay));
        Self::new(store, carrier, settings)
    }
}

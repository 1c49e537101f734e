//! The simulated carrier, like a carrier's test mode: a deterministic
//! inventory per country, type and area (see
//! [`switchboard_domain::phone_numbers::inventory`]) from which the numbers
//! anyone owns are left out, and address reviews decided by the documented
//! rules of [`switchboard_domain::addresses::review`] after a set delay.
//! Ownership lives in our own database: the live-number index is the
//! reservation, so ordering and releasing need no further bookkeeping here.

use std::time::Duration;

use switchboard_domain::addresses::{DocumentFormat, ReviewedDocument, review};
use switchboard_domain::phone_numbers::NumberType;
use switchboard_domain::phone_numbers::countries::Country;
use switchboard_domain::phone_numbers::inventory::{self, Filter, Offer};
use switchboard_store::Store;
use switchboard_store::addresses::{AddressRow, DocumentContent};

use super::{Availability, Carrier, CarrierFuture, Review};

/// Candidates checked against the owned numbers per query.
const BATCH: usize = 200;

pub struct SimulatedCarrier {
    store: Store,
    review_delay: Duration,
}

impl SimulatedCarrier {
    pub fn new(store: Store, review_delay: Duration) -> Self {
        Self { store, review_delay }
    }
}

impl Carrier for SimulatedCarrier {
    fn search<'a>(&'a self, filter: Filter<'a>, limit: usize) -> CarrierFuture<'a, Vec<Offer>> {
        Box::pin(async move {
            let mut candidates = inventory::search(filter);
            let mut found = Vec::with_capacity(limit);
            loop {
                let batch: Vec<Offer> = candidates.by_ref().take(BATCH.max(limit)).collect();
                if batch.is_empty() {
                    break;
                }
                let numbers: Vec<String> = batch.iter().map(|o| o.phone_number.clone()).collect();
                let taken = self.store.taken_numbers(&numbers).await?;
                found.extend(batch.into_iter().filter(|o| !taken.contains(&o.phone_number)).take(limit - found.len()));
                if found.len() == limit {
                    break;
                }
            }
            Ok(found)
        })
    }

    fn availability<'a>(
        &'a self,
        country: &'static Country,
        number_type: NumberType,
        e164: &'a str,
    ) -> CarrierFuture<'a, Availability> {
        Box::pin(async move {
            let Some(offer) = inventory::find(country, number_type, e164) else {
                return Ok(Availability::NotOffered);
            };
            let taken = self.store.taken_numbers(std::slice::from_ref(&offer.phone_number)).await?;
            Ok(if taken.is_empty() { Availability::Available(offer) } else { Availability::Taken })
        })
    }

    fn order<'a>(&'a self, _offer: &'a Offer) -> CarrierFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, _e164: &'a str) -> CarrierFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn review<'a>(&'a self, address: &'a AddressRow, documents: &'a [DocumentContent]) -> CarrierFuture<'a, Review> {
        Box::pin(async move {
            let reviewed: Vec<ReviewedDocument> = documents
                .iter()
                .map(|d| ReviewedDocument {
                    document_type: d.document_type,
                    intact: DocumentFormat::detect(&d.content).is_some_and(|f| f.is_intact(&d.content)),
                })
                .collect();
            let outcome = review(address.fields.company_name.as_deref(), &reviewed);
            Ok(Review { outcome, delay: self.review_delay })
        })
    }
}

//! Submitting an address for the carrier's review, and polling it.

use switchboard_domain::addresses::{self, AddressStatus};
use switchboard_domain::phone_numbers::countries;
use switchboard_store::addresses::AddressRow;

use super::{CarrierError, Numbers};

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("Address not found")]
    NotFound,
    /// Submission cannot be undone (409 `ALREADY_SUBMITTED`).
    #[error("The address was already submitted for review.")]
    AlreadySubmitted,
    /// Required documents are missing (409 `DOCUMENTS_REQUIRED`).
    #[error("{0}")]
    DocumentsRequired(String),
    #[error(transparent)]
    Carrier(#[from] CarrierError),
}

impl From<switchboard_store::Error> for AddressError {
    fn from(err: switchboard_store::Error) -> Self {
        match err {
            switchboard_store::Error::NotFound => AddressError::NotFound,
            other => AddressError::Carrier(CarrierError::Store(other)),
        }
    }
}

impl Numbers {
    /// Sends a draft address with its documents to the carrier: it becomes
    /// `pending` (event `address.verification.pending`) and the decision lands
    /// after the carrier's review delay.
    pub async fn submit_address(&self, org_id: &str, id: &str) -> Result<AddressRow, AddressError> {
        let address = self.store.address(org_id, id).await?;
        if address.status != AddressStatus::Draft {
            return Err(AddressError::AlreadySubmitted);
        }
        let country = countries::country(&address.fields.country_code)
            .ok_or_else(|| switchboard_store::Error::Corrupt(format!("country {}", address.fields.country_code)))?;
        let uploaded: Vec<_> = address.documents.iter().map(|d| d.document_type).collect();
        let missing = addresses::missing(country, &uploaded);
        if !missing.is_empty() {
            let needed: Vec<String> =
                missing.iter().map(|r| r.one_of.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" or ")).collect();
            return Err(AddressError::DocumentsRequired(format!(
                "Upload the required documents before submitting: {}.",
                needed.join("; ")
            )));
        }
        let documents = self.store.address_document_contents(org_id, id).await?;
        let review = self.carrier.review(&address, &documents).await?;
        let delay_ms = i64::try_from(review.delay.as_millis()).unwrap_or(i64::MAX);
        let due_at = self.store.clock().now_ms().saturating_add(delay_ms);
        self.store
            .submit_address(org_id, id, &review.outcome, due_at)
            .await?
            .map_err(|_| AddressError::AlreadySubmitted)
    }

    /// The address after landing its review, if it is due.
    pub async fn check_address(&self, org_id: &str, id: &str) -> Result<AddressRow, AddressError> {
        self.store.land_due_reviews(Some((org_id, id))).await?;
        Ok(self.store.address(org_id, id).await?)
    }
}

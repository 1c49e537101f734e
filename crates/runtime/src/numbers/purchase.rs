//! Searching, buying and releasing numbers: the address gate of search, and
//! every purchase rule of Staffify §7.2 around the carrier's order.

use switchboard_domain::addresses::AddressStatus;
use switchboard_domain::phone_numbers::NumberType;
use switchboard_domain::phone_numbers::inventory::{Filter, Offer};
use switchboard_domain::phone_numbers::requests::{Purchase, Search};
use switchboard_domain::validation::FieldErrors;
use switchboard_store::addresses::AddressRow;
use switchboard_store::phone_numbers::{NewPhoneNumber, PhoneNumberRow, PurchaseRefusal};

use super::{Availability, CarrierError, Numbers};

/// Why a search or purchase was refused.
#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    /// A field is wrong (400 `VALIDATION_ERROR`).
    #[error("invalid request")]
    Invalid(FieldErrors),
    /// The org lacks the verified address the country needs (403 `ADDRESS_REQUIRED`).
    #[error("{0}")]
    AddressRequired(String),
    /// `address_id` is not an address of the org (404).
    #[error("Address not found")]
    AddressNotFound,
    /// The address is not (yet) verified (409 `ADDRESS_NOT_VERIFIED`).
    #[error("{0}")]
    AddressNotVerified(String),
    /// The balance is below EUR 5.00 (402 `INSUFFICIENT_CREDITS`).
    #[error("Buying a number needs a balance of at least EUR 5.00.")]
    InsufficientCredits,
    /// Someone owns the number (409 `NUMBER_UNAVAILABLE`).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Carrier(#[from] CarrierError),
}

impl From<switchboard_store::Error> for NumberError {
    fn from(err: switchboard_store::Error) -> Self {
        NumberError::Carrier(CarrierError::Store(err))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> NumberError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    NumberError::Invalid(errors)
}

const USABLE: [AddressStatus; 2] = [AddressStatus::Verified, AddressStatus::PartiallyVerified];

impl Numbers {
    /// Numbers for sale. In a country that requires an address, the org needs
    /// a verified or partially verified address there first.
    pub async fn search(&self, org_id: &str, search: &Search) -> Result<Vec<Offer>, NumberError> {
        let country = search.country;
        if country.requires_address && !self.store.has_address_with_status(org_id, Some(country.code), &USABLE).await? {
            return Err(NumberError::AddressRequired(format!(
                "Numbers in {} need a verified or partially verified address in {}: create one with POST \
                 /v1/addresses, upload its documents and submit it.",
                country.code, country.code
            )));
        }
        let filter = Filter {
            country,
            number_type: search.number_type,
            code: search.code.as_deref(),
            contains: search.contains.as_deref(),
        };
        Ok(self.carrier.search(filter, search.limit).await?)
    }

    /// The address a purchase names, checked against the country's rules.
    async fn purchase_address(&self, org_id: &str, purchase: &Purchase) -> Result<Option<AddressRow>, NumberError> {
        let country = purchase.country;
        if !country.requires_address
            && !self.store.has_address_with_status(org_id, None, &[AddressStatus::Verified]).await?
        {
            return Err(NumberError::AddressRequired(format!(
                "{} numbers need at least one verified address on file for the org.",
                country.code
            )));
        }
        let Some(address_id) = &purchase.address_id else {
            if country.requires_address {
                return Err(invalid(
                    "address_id",
                    format!(
                        "Required for numbers in {0}: a verified or partially verified address in {0}.",
                        country.code
                    ),
                ));
            }
            return Ok(None);
        };
        let address = self.store.address(org_id, address_id).await.map_err(|e| match e {
            switchboard_store::Error::NotFound => NumberError::AddressNotFound,
            other => other.into(),
        })?;
        if address.fields.country_code != country.code {
            return Err(invalid(
                "address_id",
                format!(
                    "Is an address in {}; numbers in {} need an address in {}.",
                    address.fields.country_code, country.code, country.code
                ),
            ));
        }
        if !address.status.is_usable() {
            return Err(NumberError::AddressNotVerified(format!(
                "Address {} is {}; numbers can be bought on it once it is verified or partially_verified.",
                address.id,
                address.status.as_str()
            )));
        }
        Ok(Some(address))
    }

    /// Buys a number for the project: the rules of Staffify §7.2, then the
    /// carrier's order and our record of it with the first 28-day charge.
    pub async fn purchase(
        &self,
        org_id: &str,
        project_id: &str,
        purchase: &Purchase,
    ) -> Result<PhoneNumberRow, NumberError> {
        let country = purchase.country;
        let offer = match self.carrier.availability(country, purchase.number_type, &purchase.phone_number).await? {
            Availability::Available(offer) => offer,
            Availability::Taken => {
                return Err(NumberError::Unavailable(format!("{} is no longer available.", purchase.phone_number)));
            }
            Availability::NotOffered => {
                return Err(invalid(
                    "phone_number",
                    format!(
                        "Is not a {} number the carrier offers in {}; pick one from GET /v1/phone-numbers/search.",
                        purchase.number_type.as_str(),
                        country.code
                    ),
                ));
            }
        };
        let address = self.purchase_address(org_id, purchase).await?;
        if country.local_presence && purchase.number_type == NumberType::Local {
            let Some(city_code) = &purchase.city_code else {
                return Err(invalid(
                    "city_code",
                    format!("Required for local numbers in {}: the city_code of the address.", country.code),
                ));
            };
            let address_code = address.as_ref().and_then(|a| a.fields.city_code.as_deref());
            if address_code != Some(city_code.as_str()) {
                return Err(invalid(
                    "city_code",
                    match address_code {
                        Some(code) => format!("Must equal the city_code of the address ({code})."),
                        None => "The address has no city_code; local numbers here need an address with one.".into(),
                    },
                ));
            }
        }
        if let Some(city_code) = &purchase.city_code
            && offer.code != Some(city_code.as_str())
        {
            return Err(invalid("phone_number", format!("Is not a number of city code {city_code}.")));
        }
        self.carrier.order(&offer).await?;
        let new = NewPhoneNumber {
            project_id: project_id.to_owned(),
            phone_number: offer.phone_number.clone(),
            country_code: country.code.to_owned(),
            number_type: offer.number_type,
            address_id: address.map(|a| a.id),
            city_code: if offer.number_type == NumberType::Local { offer.code.map(str::to_owned) } else { None },
        };
        match self.store.purchase_number(org_id, &new).await? {
            Ok(row) => Ok(row),
            Err(refusal) => {
                self.carrier.release(&offer.phone_number).await?;
                Err(match refusal {
                    PurchaseRefusal::InsufficientCredits => NumberError::InsufficientCredits,
                    PurchaseRefusal::Taken => {
                        NumberError::Unavailable(format!("{} is no longer available.", offer.phone_number))
                    }
                })
            }
        }
    }

    /// Releases a number of the project; billing stops, nothing is refunded.
    pub async fn release(&self, project_id: &str, id: &str) -> Result<PhoneNumberRow, NumberError> {
        let row = self.store.release_number(project_id, id).await?;
        self.carrier.release(&row.phone_number).await?;
        Ok(row)
    }
}

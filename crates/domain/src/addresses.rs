//! Addresses for regulatory verification (Staffify §8): statuses, document
//! types and formats, field validation, the documents each country needs, and
//! the simulated carrier's review rules.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::IdKind;
use crate::phone::{E164, E164_PROBLEM};
use crate::phone_numbers::countries::{self, Country};
use crate::validation::{FieldErrors, optional_text, required_text};

/// Where an address is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressStatus {
    /// Created; documents can be uploaded; not yet submitted.
    Draft,
    /// Submitted; the carrier is reviewing it.
    Pending,
    Verified,
    /// Verified for the contact person, not for the company.
    PartiallyVerified,
    Rejected,
}

impl AddressStatus {
    pub const ALL: [AddressStatus; 5] = [
        AddressStatus::Draft,
        AddressStatus::Pending,
        AddressStatus::Verified,
        AddressStatus::PartiallyVerified,
        AddressStatus::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AddressStatus::Draft => "draft",
            AddressStatus::Pending => "pending",
            AddressStatus::Verified => "verified",
            AddressStatus::PartiallyVerified => "partially_verified",
            AddressStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether numbers may be bought on this address.
    pub const fn is_usable(self) -> bool {
        matches!(self, AddressStatus::Verified | AddressStatus::PartiallyVerified)
    }
}

/// What a document proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Passport, national identity card or driving licence of the contact.
    GovernmentId,
    /// Extract of the company register (KvK, Handelsregister, Companies House …).
    BusinessRegistration,
    /// Utility bill, bank statement or lease at the address, under 3 months old.
    ProofOfAddress,
}

impl DocumentType {
    pub const ALL: [DocumentType; 3] =
        [DocumentType::GovernmentId, DocumentType::BusinessRegistration, DocumentType::ProofOfAddress];

    pub const fn as_str(self) -> &'static str {
        match self {
            DocumentType::GovernmentId => "government_id",
            DocumentType::BusinessRegistration => "business_registration",
            DocumentType::ProofOfAddress => "proof_of_address",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The file formats accepted, recognised by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Pdf,
    Jpeg,
    Png,
}

impl DocumentFormat {
    /// The format the bytes are, whatever the client says.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(DocumentFormat::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(DocumentFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(DocumentFormat::Png)
        } else {
            None
        }
    }

    pub const fn mime(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::Jpeg => "image/jpeg",
            DocumentFormat::Png => "image/png",
        }
    }

    /// The format a declared content type names, if it is one of ours.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let mime = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/pdf" => Some(DocumentFormat::Pdf),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(DocumentFormat::Jpeg),
            "image/png" => Some(DocumentFormat::Png),
            _ => None,
        }
    }

    /// Whether the file is complete: a PDF ends with `%%EOF`, a JPEG with its
    /// end-of-image marker, a PNG with its `IEND` chunk. A truncated or
    /// damaged upload fails this and the review rejects the address.
    pub fn is_intact(self, bytes: &[u8]) -> bool {
        let tail = trim_trailing_whitespace(bytes);
        match self {
            DocumentFormat::Pdf => {
                tail.len() >= 5 && tail[tail.len().saturating_sub(1024)..].windows(5).any(|w| w == b"%%EOF")
            }
            DocumentFormat::Jpeg => bytes.len() > 4 && bytes.ends_with(&[0xFF, 0xD9]),
            DocumentFormat::Png => {
                bytes.len() > 20 && bytes.ends_with(&[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
            }
        }
    }
}

fn trim_trailing_whitespace(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// A fresh id of an uploaded document: `doc_` and a time-sortable suffix.
pub fn new_document_id() -> String {
    let address_id = IdKind::Address.new_id();
    format!("doc_{}", &address_id[IdKind::Address.prefix().len() + 1..])
}

/// The fields of `POST /v1/addresses`, trimmed; `country_code` upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFields {
    pub street_address: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub company_name: Option<String>,
    pub city_code: Option<String>,
}

impl AddressFields {
    /// Normalises spacing and case; empty optional fields become `None`.
    pub fn normalized(mut self) -> Self {
        for field in [
            &mut self.street_address,
            &mut self.city,
            &mut self.postal_code,
            &mut self.contact_name,
            &mut self.contact_email,
            &mut self.contact_phone,
        ] {
            *field = field.trim().to_owned();
        }
        self.country_code = self.country_code.trim().to_ascii_uppercase();
        self.company_name = self.company_name.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.city_code = self.city_code.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self
    }

    /// Every field rule; all failures at once.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.check("street_address", required_text(&self.street_address, 200));
        errors.check("city", required_text(&self.city, 100));
        errors.check("contact_name", required_text(&self.contact_name, 200));
        if let Some(company) = &self.company_name {
            errors.check("company_name", optional_text(company, 200));
        }
        if !is_email(&self.contact_email) {
            errors.add("contact_email", "Must be a valid email address.");
        }
        if E164::parse(&self.contact_phone).is_none() {
            errors.add("contact_phone", E164_PROBLEM);
        }
        match countries::country(&self.country_code) {
            None => errors.add(
                "country_code",
                "Must be an ISO 3166-1 alpha-2 code of a supported country (see GET /v1/phone-numbers/countries).",
            ),
            Some(country) => {
                errors.check("postal_code", postal_code(country, &self.postal_code));
                if let Some(code) = &self.city_code {
                    errors.check("city_code", city_code(country, code));
                }
            }
        }
        errors.finish()
    }
}

/// A plausible email: one `@`, a local part, a dotted domain, no spaces.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else { return false };
    !local.is_empty()
        && value.len() <= 254
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// The postal code formats per country: `9` a digit, `A` a letter, `?` an
/// optional space; GB is checked loosely (outward and inward code).
fn postal_code(country: &Country, value: &str) -> Result<(), String> {
    let patterns: &[&str] = match country.code {
        "US" => &["99999", "99999-9999"],
        "CA" => &["A9A?9A9"],
        "NL" => &["9999?AA"],
        "DE" | "FR" | "IT" | "ES" => &["99999"],
        "BE" | "AT" | "DK" | "AU" => &["9999"],
        "SE" => &["999?99"],
        _ => &[],
    };
    let ok = if patterns.is_empty() { is_uk_postcode(value) } else { patterns.iter().any(|p| fits(p, value)) };
    if ok { Ok(()) } else { Err(format!("Must be a valid postal code of {}.", country.code)) }
}

fn fits(pattern: &str, value: &str) -> bool {
    let mut chars = value.chars().peekable();
    for p in pattern.chars() {
        match p {
            '?' => {
                if chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            '9' => {
                if !chars.next().is_some_and(|c| c.is_ascii_digit()) {
                    return false;
                }
            }
            'A' => {
                if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
                    return false;
                }
            }
            literal => {
                if chars.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    chars.next().is_none()
}

/// `SW1A 1AA`, `M1 1AE`, `EC1A 1BB`: outward code of 2–4 characters starting
/// with a letter, then a digit and two letters.
fn is_uk_postcode(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    let n = compact.len();
    if !(5..=7).contains(&n) || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let bytes = compact.as_bytes();
    bytes[0].is_ascii_alphabetic()
        && bytes[n - 3].is_ascii_digit()
        && bytes[n - 2].is_ascii_alphabetic()
        && bytes[n - 1].is_ascii_alphabetic()
}

/// A city dialling code as dialled nationally (`020`, `030`, `91`).
fn city_code(country: &Country, value: &str) -> Result<(), String> {
    if country.is_nanp() {
        return Err("Not used in US and CA: the address's area code is not needed.".into());
    }
    if !country.has_city_codes() {
        return Err(format!("{} has no city codes.", country.code));
    }
    if (2..=5).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("Must be 2 to 5 digits, as dialled nationally (e.g. 020).".into())
    }
}

/// One requirement: at least one document of any of these types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub one_of: &'static [DocumentType],
    pub description: &'static str,
}

const IDENTITY: Requirement = Requirement {
    one_of: &[DocumentType::GovernmentId, DocumentType::BusinessRegistration],
    description: "Identity of the number's user: a government_id of the contact person, or a business_registration \
                  of the company (with company_name set).",
};

const LOCAL_PROOF: Requirement = Requirement {
    one_of: &[DocumentType::ProofOfAddress],
    description: "Local presence: a proof_of_address (utility bill, bank statement or lease under 3 months old) \
                  showing the street address in the city of the city_code.",
};

/// The documents `submit` needs for an address in `country`: nothing in
/// US/CA, an identity document elsewhere, plus a proof of address in
/// local-presence countries.
pub fn requirements(country: &Country) -> Vec<Requirement> {
    match (country.requires_address, country.local_presence) {
        (false, _) => Vec::new(),
        (true, false) => vec![IDENTITY],
        (true, true) => vec![IDENTITY, LOCAL_PROOF],
    }
}

/// The requirements the uploaded documents do not meet yet.
pub fn missing(country: &Country, uploaded: &[DocumentType]) -> Vec<Requirement> {
    requirements(country).into_iter().filter(|r| !r.one_of.iter().any(|t| uploaded.contains(t))).collect()
}

/// One uploaded document as the reviewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewedDocument {
    pub document_type: DocumentType,
    pub intact: bool,
}

/// The simulated carrier's decision: a final status and, unless verified, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewOutcome {
    pub status: AddressStatus,
    pub reason: Option<String>,
}

/// The review rules, in order:
/// 1. a damaged or truncated document → `rejected`;
/// 2. a `business_registration` without `company_name` → `partially_verified`
///    (the company cannot be matched);
/// 3. a `company_name` without a `business_registration` → `partially_verified`
///    (verified for the contact person only);
/// 4. otherwise `verified`.
pub fn review(company_name: Option<&str>, documents: &[ReviewedDocument]) -> ReviewOutcome {
    if let Some(bad) = documents.iter().find(|d| !d.intact) {
        return ReviewOutcome {
            status: AddressStatus::Rejected,
            reason: Some(format!(
                "The {} document is damaged or truncated and could not be read; create a new address with a \
                 complete document.",
                bad.document_type.as_str()
            )),
        };
    }
    let registration = documents.iter().any(|d| d.document_type == DocumentType::BusinessRegistration);
    let partial = match (company_name.is_some(), registration) {
        (false, true) => Some(
            "A business_registration was supplied without company_name: the company could not be matched; \
             verified for the contact person only.",
        ),
        (true, false) => Some(
            "company_name could not be verified without a business_registration; verified for the contact person only.",
        ),
        _ => None,
    };
    match partial {
        Some(reason) => ReviewOutcome { status: AddressStatus::PartiallyVerified, reason: Some(reason.into()) },
        None => ReviewOutcome { status: AddressStatus::Verified, reason: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> AddressFields {
        AddressFields {
            street_address: " Keizersgracht 123 ".into(),
            city: "Amsterdam".into(),
            postal_code: "1015 CJ".into(),
            country_code: "nl".into(),
            contact_name: "Anna de Vries".into(),
            contact_email: "anna@example.nl".into(),
            contact_phone: "+31612345678".into(),
            company_name: Some(" ".into()),
            city_code: Some("020".into()),
        }
        .normalized()
    }

    #[test]
    fn normalizes_and_accepts_a_valid_address() {
        let f = fields();
        assert_eq!(f.country_code, "NL");
        assert_eq!(f.street_address, "Keizersgracht 123");
        assert_eq!(f.company_name, None);
        assert_eq!(f.validate(), Ok(()));
    }

    #[test]
    fn reports_every_bad_field() {
        let f = AddressFields {
            contact_email: "anna@".into(),
            contact_phone: "0612345678".into(),
            postal_code: "ABC".into(),
            city: " ".into(),
            ..fields()
        };
        let errors = f.validate().expect_err("invalid").into_map();
        for field in ["contact_email", "contact_phone", "postal_code", "city"] {
            assert!(errors.contains_key(field), "{field}: {errors:?}");
        }
        let f = AddressFields { country_code: "XX".into(), ..fields() };
        assert!(f.validate().expect_err("country").into_map().contains_key("country_code"));
    }

    #[test]
    fn postal_codes_per_country() {
        let c = |code| countries::country(code).expect("country");
        assert!(postal_code(c("US"), "94105").is_ok());
        assert!(postal_code(c("US"), "94105-1234").is_ok());
        assert!(postal_code(c("US"), "9410").is_err());
        assert!(postal_code(c("CA"), "M5V 2T6").is_ok());
        assert!(postal_code(c("NL"), "1015CJ").is_ok());
        assert!(postal_code(c("DE"), "10115").is_ok());
        assert!(postal_code(c("DE"), "1011").is_err());
        assert!(postal_code(c("GB"), "SW1A 1AA").is_ok());
        assert!(postal_code(c("GB"), "M1 1AE").is_ok());
        assert!(postal_code(c("GB"), "12345").is_err());
        assert!(postal_code(c("SE"), "114 55").is_ok());
    }

    #[test]
    fn city_codes_only_where_they_exist() {
        let c = |code| countries::country(code).expect("country");
        assert!(city_code(c("DE"), "030").is_ok());
        assert!(city_code(c("DE"), "3a").is_err());
        assert!(city_code(c("US"), "415").is_err());
        assert!(city_code(c("DK"), "33").is_err());
    }

    #[test]
    fn emails() {
        assert!(is_email("a@b.co"));
        for bad in ["", "a", "a@b", "a@@b.co", "a b@c.de", "@b.co", "a@b..co"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn formats_by_magic_bytes_and_integrity() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";
        assert_eq!(DocumentFormat::detect(pdf), Some(DocumentFormat::Pdf));
        assert!(DocumentFormat::Pdf.is_intact(pdf));
        assert!(!DocumentFormat::Pdf.is_intact(&pdf[..20]));
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0xFF, 0xD9];
        assert_eq!(DocumentFormat::detect(&jpeg), Some(DocumentFormat::Jpeg));
        assert!(DocumentFormat::Jpeg.is_intact(&jpeg));
        assert!(!DocumentFormat::Jpeg.is_intact(&jpeg[..6]));
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(DocumentFormat::detect(&png), Some(DocumentFormat::Png));
        assert!(DocumentFormat::Png.is_intact(&png));
        assert_eq!(DocumentFormat::detect(b"GIF89a"), None);
        assert_eq!(DocumentFormat::from_mime("image/png; charset=binary"), Some(DocumentFormat::Png));
        assert_eq!(DocumentFormat::from_mime("text/plain"), None);
    }

    #[test]
    fn requirements_per_country() {
        let c = |code| countries::country(code).expect("country");
        assert!(requirements(c("US")).is_empty());
        assert_eq!(requirements(c("NL")), vec![IDENTITY]);
        assert_eq!(requirements(c("DE")), vec![IDENTITY, LOCAL_PROOF]);
        assert_eq!(missing(c("NL"), &[DocumentType::BusinessRegistration]), vec![]);
        assert_eq!(missing(c("DE"), &[DocumentType::GovernmentId]), vec![LOCAL_PROOF]);
        assert_eq!(missing(c("DE"), &[]).len(), 2);
    }

    #[test]
    fn review_rules() {
        let doc = |document_type, intact| ReviewedDocument { document_type, intact };
        let id = doc(DocumentType::GovernmentId, true);
        let reg = doc(DocumentType::BusinessRegistration, true);
        assert_eq!(review(None, &[id]).status, AddressStatus::Verified);
        assert_eq!(review(None, &[]).status, AddressStatus::Verified);
        assert_eq!(review(Some("Acme BV"), &[reg]).status, AddressStatus::Verified);
        assert_eq!(review(None, &[reg]).status, AddressStatus::PartiallyVerified);
        assert_eq!(review(Some("Acme BV"), &[id]).status, AddressStatus::PartiallyVerified);
        let broken = review(Some("Acme BV"), &[reg, doc(DocumentType::ProofOfAddress, false)]);
        assert_eq!(broken.status, AddressStatus::Rejected);
        assert!(broken.reason.is_some_and(|r| r.contains("proof_of_address")));
        assert!(review(None, &[id]).reason.is_none());
    }

    #[test]
    fn statuses_and_types_round_trip() {
        for s in AddressStatus::ALL {
            assert_eq!(AddressStatus::parse(s.as_str()), Some(s));
        }
        for t in DocumentType::ALL {
            assert_eq!(DocumentType::parse(t.as_str()), Some(t));
        }
        assert!(new_document_id().starts_with("doc_"));
        assert!(AddressStatus::PartiallyVerified.is_usable() && !AddressStatus::Pending.is_usable());
    }
}

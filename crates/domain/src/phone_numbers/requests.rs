//! The rules of the search and purchase parameters: defaults, formats, and
//! which code filter applies where (area codes in US/CA, city codes elsewhere).

use super::NumberType;
use super::countries::{self, Country};
use crate::phone::E164;
use crate::validation::FieldErrors;

/// Search results by default, and at most.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
pub const MAX_SEARCH_LIMIT: usize = 100;

/// The raw query of `GET /v1/phone-numbers/search`.
#[derive(Debug, Clone, Default)]
pub struct SearchParams {
    pub country_code: Option<String>,
    pub number_type: Option<String>,
    pub area_code: Option<String>,
    pub city_code: Option<String>,
    pub contains: Option<String>,
    pub limit: Option<u32>,
}

/// A checked search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub country: &'static Country,
    pub number_type: NumberType,
    /// The area code (US/CA) or city code (elsewhere) to keep.
    pub code: Option<String>,
    pub contains: Option<String>,
    pub limit: usize,
}

fn country_of(errors: &mut FieldErrors, field: &str, code: Option<&str>) -> Option<&'static Country> {
    let code = code.unwrap_or("US");
    let country = countries::country(code.trim());
    if country.is_none() {
        errors.add(field, "Must be a supported ISO 3166-1 alpha-2 code (see GET /v1/phone-numbers/countries).");
    }
    country
}

fn type_in(errors: &mut FieldErrors, field: &str, raw: Option<&str>, country: Option<&Country>) -> Option<NumberType> {
    let Some(number_type) = NumberType::parse(raw.unwrap_or("local")) else {
        errors.add(field, "Must be local, mobile or toll_free.");
        return None;
    };
    if let Some(country) = country {
        let offered = country.number_types();
        if !offered.contains(&number_type) {
            let names: Vec<&str> = offered.iter().map(|t| t.as_str()).collect();
            errors.add(field, format!("{} offers {} numbers only.", country.code, names.join(", ")));
            return None;
        }
    }
    Some(number_type)
}

/// A code filter: digits of a sane length, of the kind the country uses.
fn code_filter(
    errors: &mut FieldErrors,
    country: &Country,
    number_type: NumberType,
    area_code: Option<&str>,
    city_code: Option<&str>,
) -> Option<String> {
    let digits =
        |s: &str, len: std::ops::RangeInclusive<usize>| len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if country.is_nanp() {
        if city_code.is_some() {
            errors.add("city_code", format!("Not used in {}; filter with area_code.", country.code));
        }
        let code = area_code?;
        if !digits(code, 3..=3) || code.starts_with(['0', '1']) {
            errors.add("area_code", "Must be a 3-digit area code, e.g. 415.");
            return None;
        }
        return Some(code.to_owned());
    }
    if area_code.is_some() {
        errors.add("area_code", "Only used for US and CA; filter with city_code.");
    }
    let code = city_code?;
    if !country.has_city_codes() {
        errors.add("city_code", format!("{} has no city codes.", country.code));
    } else if number_type != NumberType::Local {
        errors.add("city_code", "Applies to local numbers only.");
    } else if !digits(code, 2..=5) {
        errors.add("city_code", "Must be 2 to 5 digits as dialled nationally, e.g. 020.");
    } else {
        return Some(code.to_owned());
    }
    None
}

impl SearchParams {
    /// Applies the defaults (US, local, 20 results) and checks every parameter.
    pub fn check(&self) -> Result<Search, FieldErrors> {
        let mut errors = FieldErrors::new();
        let country = country_of(&mut errors, "country_code", self.country_code.as_deref());
        let number_type = type_in(&mut errors, "type", self.number_type.as_deref(), country);
        let code = match (country, number_type) {
            (Some(c), Some(t)) => code_filter(&mut errors, c, t, self.area_code.as_deref(), self.city_code.as_deref()),
            _ => None,
        };
        let contains = self.contains.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if contains.is_some_and(|c| c.len() > 10 || !c.bytes().all(|b| b.is_ascii_digit())) {
            errors.add("contains", "Must be 1 to 10 digits.");
        }
        let limit = self.limit.map_or(DEFAULT_SEARCH_LIMIT, |n| n as usize);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            errors.add("limit", "Must be between 1 and 100.");
        }
        errors.finish()?;
        match (country, number_type) {
            (Some(country), Some(number_type)) => {
                Ok(Search { country, number_type, code, contains: contains.map(str::to_owned), limit })
            }
            _ => Err(FieldErrors::new()),
        }
    }
}

/// The raw body of `POST /v1/phone-numbers`.
#[derive(Debug, Clone, Default)]
pub struct PurchaseParams {
    pub phone_number: String,
    pub country_code: Option<String>,
    pub number_type: Option<String>,
    pub address_id: Option<String>,
    pub city_code: Option<String>,
}

/// A checked purchase (address rules are checked against the store later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub phone_number: String,
    pub country: &'static Country,
    pub number_type: NumberType,
    pub address_id: Option<String>,
    pub city_code: Option<String>,
}

impl PurchaseParams {
    /// Applies the defaults (US, local) and checks formats.
    pub fn check(&self) -> Result<Purchase, FieldErrors> {
        let mut errors = FieldErrors::new();
        let phone_number = self.phone_number.trim().to_owned();
        if E164::parse(&phone_number).is_none() {
            errors.add("phone_number", "Must be a valid E.164 phone number from the search results.");
        }
        let country = country_of(&mut errors, "country_code", self.country_code.as_deref());
        let number_type = type_in(&mut errors, "number_type", self.number_type.as_deref(), country);
        let city_code = self.city_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if city_code.is_some_and(|c| !(2..=5).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit())) {
            errors.add("city_code", "Must be 2 to 5 digits as dialled nationally, e.g. 030.");
        }
        let address_id = self.address_id.as_deref().map(str::trim).filter(|a| !a.is_empty());
        errors.finish()?;
        match (country, number_type) {
            (Some(country), Some(number_type)) => Ok(Purchase {
                phone_number,
                country,
                number_type,
                address_id: address_id.map(str::to_owned),
                city_code: city_code.map(str::to_owned),
            }),
            _ => Err(FieldErrors::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_defaults() {
        let search = SearchParams::default().check().expect("defaults");
        assert_eq!(search.country.code, "US");
        assert_eq!(search.number_type, NumberType::Local);
        assert_eq!(search.limit, 20);
        assert_eq!(search.code, None);
    }

    #[test]
    fn search_codes_per_country() {
        let p = |country: &str, t: &str, area: Option<&str>, city: Option<&str>| SearchParams {
            country_code: Some(country.into()),
            number_type: Some(t.into()),
            area_code: area.map(Into::into),
            city_code: city.map(Into::into),
            ..SearchParams::default()
        };
        assert_eq!(p("US", "local", Some("415"), None).check().map(|s| s.code), Ok(Some("415".into())));
        assert_eq!(p("nl", "local", None, Some("020")).check().map(|s| s.code), Ok(Some("020".into())));
        let err = |params: SearchParams| params.check().expect_err("invalid").into_map();
        assert!(err(p("US", "local", Some("41"), None)).contains_key("area_code"));
        assert!(err(p("US", "local", None, Some("020"))).contains_key("city_code"));
        assert!(err(p("NL", "local", Some("415"), None)).contains_key("area_code"));
        assert!(err(p("NL", "mobile", None, Some("020"))).contains_key("city_code"));
        assert!(err(p("DK", "local", None, Some("33"))).contains_key("city_code"));
        assert!(err(p("US", "mobile", None, None)).contains_key("type"));
        assert!(err(p("XX", "local", None, None)).contains_key("country_code"));
        assert!(err(p("US", "landline", None, None)).contains_key("type"));
    }

    #[test]
    fn search_limits_and_contains() {
        let with = |limit: Option<u32>, contains: Option<&str>| SearchParams {
            limit,
            contains: contains.map(Into::into),
            ..SearchParams::default()
        };
        assert_eq!(with(Some(100), Some("42")).check().map(|s| s.limit), Ok(100));
        assert!(with(Some(101), None).check().is_err());
        assert!(with(Some(0), None).check().is_err());
        assert!(with(None, Some("4a")).check().is_err());
        assert!(with(None, Some("12345678901")).check().is_err());
    }

    #[test]
    fn purchase_defaults_and_formats() {
        let p = PurchaseParams { phone_number: "+14155550123".into(), ..PurchaseParams::default() };
        let checked = p.check().expect("valid");
        assert_eq!((checked.country.code, checked.number_type), ("US", NumberType::Local));
        let bad = PurchaseParams { phone_number: "0612".into(), city_code: Some("x".into()), ..p };
        let errors = bad.check().expect_err("invalid").into_map();
        assert!(errors.contains_key("phone_number") && errors.contains_key("city_code"));
    }
}

//! The countries numbers are sold in: dialling code, whether an address is
//! needed, local-presence rules, and the number blocks of each type with their
//! real area / city codes and national number lengths.

use super::NumberType;

/// A range of numbers sharing a national prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub number_type: NumberType,
    /// The national significant digits after the country code that every
    /// number of the block starts with (`20` for Amsterdam, `415`).
    pub prefix: &'static str,
    /// Digits after the prefix.
    pub subscriber_digits: u32,
    /// The code searched on: the US/CA area code (`415`, also `800` for toll
    /// free) or, for local numbers elsewhere, the city code as dialled
    /// nationally (`020`, `030`, `91`). `None` where the country has none.
    pub code: Option<&'static str>,
    /// The city of a local number.
    pub city: Option<&'static str>,
    /// State, province or region; `Nationwide` for mobile and toll-free.
    pub region: &'static str,
}

/// A country of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2.
    pub code: &'static str,
    pub name: &'static str,
    /// The international dialling code, without `+`.
    pub dialing_code: &'static str,
    /// Whether numbers need a verified address in the country: search answers
    /// and purchase needs an `address_id` only then.
    pub requires_address: bool,
    /// Local numbers need a `city_code` equal to the address's `city_code`.
    pub local_presence: bool,
    pub blocks: &'static [Block],
}

impl Country {
    /// The number types sold here, in catalogue order.
    pub fn number_types(&self) -> Vec<NumberType> {
        NumberType::ALL.into_iter().filter(|t| self.blocks.iter().any(|b| b.number_type == *t)).collect()
    }

    /// US and Canada: numbering plan of `+1`, searched by `area_code`.
    pub fn is_nanp(&self) -> bool {
        self.dialing_code == "1"
    }

    /// Whether local numbers are searched by a city code.
    pub fn has_city_codes(&self) -> bool {
        !self.is_nanp() && self.blocks.iter().any(|b| b.number_type == NumberType::Local && b.code.is_some())
    }

    pub fn blocks_of(&self, number_type: NumberType) -> impl Iterator<Item = &'static Block> + use<> {
        self.blocks.iter().filter(move |b| b.number_type == number_type)
    }
}

const fn local(
    prefix: &'static str,
    subscriber_digits: u32,
    code: &'static str,
    city: &'static str,
    region: &'static str,
) -> Block {
    Block { number_type: NumberType::Local, prefix, subscriber_digits, code: Some(code), city: Some(city), region }
}

/// A local block of a country without city codes (Denmark).
const fn local_uncoded(
    prefix: &'static str,
    subscriber_digits: u32,
    city: &'static str,
    region: &'static str,
) -> Block {
    Block { number_type: NumberType::Local, prefix, subscriber_digits, code: None, city: Some(city), region }
}

const fn mobile(prefix: &'static str, subscriber_digits: u32) -> Block {
    Block { number_type: NumberType::Mobile, prefix, subscriber_digits, code: None, city: None, region: "Nationwide" }
}

const fn toll_free(prefix: &'static str, subscriber_digits: u32) -> Block {
    Block { number_type: NumberType::TollFree, prefix, subscriber_digits, code: None, city: None, region: "Nationwide" }
}

/// NANP toll-free blocks carry their prefix as the searchable area code.
const fn nanp_toll_free(prefix: &'static str) -> Block {
    Block {
        number_type: NumberType::TollFree,
        prefix,
        subscriber_digits: 7,
        code: Some(prefix),
        city: None,
        region: "Nationwide",
    }
}

const fn nanp(prefix: &'static str, city: &'static str, region: &'static str) -> Block {
    local(prefix, 7, prefix, city, region)
}

/// Every country, in the order `GET /v1/phone-numbers/countries` lists them.
pub const COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        name: "United States",
        dialing_code: "1",
        requires_address: false,
        local_presence: false,
        blocks: &[
            nanp("415", "San Francisco", "CA"),
            nanp("212", "New York", "NY"),
            nanp("310", "Los Angeles", "CA"),
            nanp("312", "Chicago", "IL"),
            nanp("617", "Boston", "MA"),
            nanp("206", "Seattle", "WA"),
            nanp("512", "Austin", "TX"),
            nanp("305", "Miami", "FL"),
            nanp("404", "Atlanta", "GA"),
            nanp("720", "Denver", "CO"),
            nanp_toll_free("800"),
            nanp_toll_free("833"),
            nanp_toll_free("844"),
            nanp_toll_free("855"),
            nanp_toll_free("866"),
            nanp_toll_free("877"),
            nanp_toll_free("888"),
        ],
    },
    Country {
        code: "CA",
        name: "Canada",
        dialing_code: "1",
        requires_address: false,
        local_presence: false,
        blocks: &[
            nanp("416", "Toronto", "ON"),
            nanp("604", "Vancouver", "BC"),
            nanp("514", "Montreal", "QC"),
            nanp("403", "Calgary", "AB"),
            nanp("613", "Ottawa", "ON"),
            nanp_toll_free("800"),
            nanp_toll_free("888"),
        ],
    },
    Country {
        code: "GB",
        name: "United Kingdom",
        dialing_code: "44",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("20", 8, "020", "London", "England"),
            local("161", 7, "0161", "Manchester", "England"),
            local("121", 7, "0121", "Birmingham", "England"),
            local("113", 7, "0113", "Leeds", "England"),
            local("131", 7, "0131", "Edinburgh", "Scotland"),
            local("141", 7, "0141", "Glasgow", "Scotland"),
            mobile("74", 8),
            mobile("75", 8),
            mobile("77", 8),
            mobile("78", 8),
            mobile("79", 8),
            toll_free("800", 7),
            toll_free("808", 7),
        ],
    },
    Country {
        code: "NL",
        name: "Netherlands",
        dialing_code: "31",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("20", 7, "020", "Amsterdam", "Noord-Holland"),
            local("10", 7, "010", "Rotterdam", "Zuid-Holland"),
            local("70", 7, "070", "Den Haag", "Zuid-Holland"),
            local("30", 7, "030", "Utrecht", "Utrecht"),
            local("40", 7, "040", "Eindhoven", "Noord-Brabant"),
            mobile("6", 8),
            toll_free("800", 4),
        ],
    },
    Country {
        code: "DE",
        name: "Germany",
        dialing_code: "49",
        requires_address: true,
        local_presence: true,
        blocks: &[
            local("30", 8, "030", "Berlin", "Berlin"),
            local("89", 8, "089", "München", "Bayern"),
            local("40", 8, "040", "Hamburg", "Hamburg"),
            local("69", 8, "069", "Frankfurt am Main", "Hessen"),
            local("221", 7, "0221", "Köln", "Nordrhein-Westfalen"),
            local("211", 7, "0211", "Düsseldorf", "Nordrhein-Westfalen"),
            mobile("151", 8),
            mobile("160", 8),
            mobile("170", 8),
            mobile("171", 8),
            mobile("176", 8),
            toll_free("800", 7),
        ],
    },
    Country {
        code: "FR",
        name: "France",
        dialing_code: "33",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("1", 8, "01", "Paris", "Île-de-France"),
            local("2", 8, "02", "Nantes", "Pays de la Loire"),
            local("3", 8, "03", "Strasbourg", "Grand Est"),
            local("4", 8, "04", "Lyon", "Auvergne-Rhône-Alpes"),
            local("5", 8, "05", "Bordeaux", "Nouvelle-Aquitaine"),
            mobile("6", 8),
            mobile("7", 8),
            toll_free("800", 6),
        ],
    },
    Country {
        code: "IT",
        name: "Italy",
        dialing_code: "39",
        requires_address: true,
        local_presence: true,
        blocks: &[
            local("02", 8, "02", "Milano", "Lombardia"),
            local("06", 8, "06", "Roma", "Lazio"),
            local("011", 7, "011", "Torino", "Piemonte"),
            local("055", 7, "055", "Firenze", "Toscana"),
            local("081", 7, "081", "Napoli", "Campania"),
            mobile("320", 7),
            mobile("333", 7),
            mobile("347", 7),
            mobile("388", 7),
            toll_free("800", 6),
        ],
    },
    Country {
        code: "ES",
        name: "Spain",
        dialing_code: "34",
        requires_address: true,
        local_presence: true,
        blocks: &[
            local("91", 7, "91", "Madrid", "Comunidad de Madrid"),
            local("93", 7, "93", "Barcelona", "Cataluña"),
            local("96", 7, "96", "Valencia", "Comunitat Valenciana"),
            local("95", 7, "95", "Sevilla", "Andalucía"),
            local("94", 7, "94", "Bilbao", "País Vasco"),
            mobile("6", 8),
            mobile("71", 7),
            toll_free("900", 6),
        ],
    },
    Country {
        code: "BE",
        name: "Belgium",
        dialing_code: "32",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("2", 7, "02", "Bruxelles", "Brussels-Capital"),
            local("3", 7, "03", "Antwerpen", "Flanders"),
            local("9", 7, "09", "Gent", "Flanders"),
            local("4", 7, "04", "Liège", "Wallonia"),
            mobile("470", 6),
            mobile("475", 6),
            mobile("478", 6),
            mobile("486", 6),
            mobile("496", 6),
            toll_free("800", 5),
        ],
    },
    Country {
        code: "AT",
        name: "Austria",
        dialing_code: "43",
        requires_address: true,
        local_presence: true,
        blocks: &[
            local("1", 7, "01", "Wien", "Wien"),
            local("316", 6, "0316", "Graz", "Steiermark"),
            local("512", 6, "0512", "Innsbruck", "Tirol"),
            local("662", 6, "0662", "Salzburg", "Salzburg"),
            local("732", 6, "0732", "Linz", "Oberösterreich"),
            mobile("650", 7),
            mobile("660", 7),
            mobile("664", 7),
            mobile("676", 7),
            mobile("699", 7),
            toll_free("800", 6),
        ],
    },
    Country {
        code: "SE",
        name: "Sweden",
        dialing_code: "46",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("8", 7, "08", "Stockholm", "Stockholms län"),
            local("31", 7, "031", "Göteborg", "Västra Götaland"),
            local("40", 6, "040", "Malmö", "Skåne"),
            local("18", 6, "018", "Uppsala", "Uppsala län"),
            mobile("70", 7),
            mobile("72", 7),
            mobile("73", 7),
            mobile("76", 7),
            toll_free("20", 6),
        ],
    },
    Country {
        code: "DK",
        name: "Denmark",
        dialing_code: "45",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local_uncoded("33", 6, "København", "Hovedstaden"),
            local_uncoded("38", 6, "Frederiksberg", "Hovedstaden"),
            local_uncoded("86", 6, "Aarhus", "Midtjylland"),
            local_uncoded("66", 6, "Odense", "Syddanmark"),
            local_uncoded("98", 6, "Aalborg", "Nordjylland"),
            mobile("20", 6),
            mobile("30", 6),
            mobile("40", 6),
            mobile("50", 6),
            mobile("60", 6),
            toll_free("80", 6),
        ],
    },
    Country {
        code: "AU",
        name: "Australia",
        dialing_code: "61",
        requires_address: true,
        local_presence: false,
        blocks: &[
            local("2", 8, "02", "Sydney", "New South Wales"),
            local("3", 8, "03", "Melbourne", "Victoria"),
            local("7", 8, "07", "Brisbane", "Queensland"),
            local("8", 8, "08", "Perth", "Western Australia"),
            mobile("4", 8),
            toll_free("1800", 6),
        ],
    },
];

/// The catalogue entry of an ISO code (case-insensitive).
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_countries_are_listed() {
        for code in ["US", "CA", "GB", "NL", "DE", "FR", "IT", "ES", "BE", "AT", "SE", "DK", "AU"] {
            assert!(country(code).is_some(), "{code}");
        }
        assert_eq!(country("nl").map(|c| c.code), Some("NL"));
        assert!(country("XX").is_none());
    }

    #[test]
    fn only_north_america_skips_the_address() {
        for c in COUNTRIES {
            assert_eq!(c.requires_address, !c.is_nanp(), "{}", c.code);
        }
        assert!(country("DE").is_some_and(|c| c.local_presence));
        assert!(country("ES").is_some_and(|c| c.local_presence));
        assert!(country("NL").is_some_and(|c| !c.local_presence));
    }

    #[test]
    fn national_numbers_have_plausible_lengths() {
        for c in COUNTRIES {
            for b in c.blocks {
                let nsn = b.prefix.len() as u32 + b.subscriber_digits;
                let total = c.dialing_code.len() as u32 + nsn;
                assert!((7..=15).contains(&total), "{} {}", c.code, b.prefix);
                if c.is_nanp() {
                    assert_eq!(nsn, 10, "{}", b.prefix);
                }
            }
        }
        let nl = country("NL").map(|c| c.blocks_of(NumberType::Mobile).count());
        assert_eq!(nl, Some(1));
    }

    #[test]
    fn types_and_codes() {
        let us = country("US").expect("US");
        assert_eq!(us.number_types(), vec![NumberType::Local, NumberType::TollFree]);
        assert!(!us.has_city_codes());
        assert!(country("NL").is_some_and(Country::has_city_codes));
        assert!(country("DK").is_some_and(|c| !c.has_city_codes()));
    }
}

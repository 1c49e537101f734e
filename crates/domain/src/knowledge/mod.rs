//! Knowledge bases: their settings and rules (validation, the `source_url`
//! rules of Staffify §6.3, crawl schedules, auto-disable), and the text work
//! behind ingestion and retrieval (HTML and documents into sections, spoken
//! queries into search terms, how well an entry covers a query).

pub mod entries;
pub mod html;
pub mod normalize;
pub mod refresh;
pub mod score;
pub mod sections;
pub mod settings;

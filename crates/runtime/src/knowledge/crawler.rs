//! The website crawl of a knowledge base: from its `source_url`, breadth
//! first, same site only, within `max_depth` links and `max_pages` pages,
//! obeying robots.txt (its rules and, up to a cap, its `Crawl-delay`), every
//! request through the SSRF-guarded outbound client. Redirects are followed
//! by hand, and only within the site.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use switchboard_domain::knowledge::entries::EntryContent;
use switchboard_domain::knowledge::html::{parse_page, same_site_link};
use switchboard_domain::knowledge::sections::entries_from_sections;
use texting_robots::Robot;
use tokio::time::Instant;
use url::Url;

use crate::outbound::{OutboundClient, OutboundResponse};

/// The user agent robots.txt rules are matched against.
pub const ROBOTS_AGENT: &str = "Switchboard";
const MAX_REDIRECTS: usize = 5;

/// How far and how long one crawl may go.
#[derive(Debug, Clone)]
pub struct CrawlLimits {
    pub max_depth: usize,
    pub max_pages: usize,
    /// Time allowed for each request.
    pub request_timeout: Duration,
    /// The longest `Crawl-delay` honoured between requests.
    pub max_delay: Duration,
    /// When the crawl stops, with what it has.
    pub deadline: Instant,
}

/// What robots.txt allows us.
enum Rules {
    All,
    Robot(Box<Robot>),
}

impl Rules {
    fn allowed(&self, url: &Url) -> bool {
        match self {
            Rules::All => true,
            Rules::Robot(robot) => robot.allowed(url.as_str()),
        }
    }
}

/// Crawls the site at `start` and returns its entries (each with the page's
/// URL as `source`), or why the crawl failed: the site or its robots.txt
/// could not be read, robots.txt forbids the start page, the start page is
/// no HTML page, or no page had readable content.
pub async fn crawl(client: &OutboundClient, start: &str, limits: &CrawlLimits) -> Result<Vec<EntryContent>, String> {
    let start = Url::parse(start).map_err(|e| format!("source_url is not a URL: {e}"))?;
    let (rules, delay) = robots(client, &start, limits).await?;
    if !rules.allowed(&start) {
        return Err(format!("robots.txt does not allow crawling {start}"));
    }
    let mut queue: VecDeque<(Url, usize)> = VecDeque::from([(start.clone(), 0)]);
    let mut seen: HashSet<String> = HashSet::from([start.to_string()]);
    let mut entries: Vec<EntryContent> = Vec::new();
    let mut pages = 0;
    while let Some((url, depth)) = queue.pop_front() {
        if pages >= limits.max_pages || Instant::now() >= limits.deadline {
            break;
        }
        if pages > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        pages += 1;
        let fetched = fetch_page(client, &url, &start, &rules, limits).await;
        let (final_url, html) = match fetched {
            Ok(Some(page)) => page,
            Ok(None) if pages == 1 => return Err(format!("{url} is not an HTML page")),
            Ok(None) => continue,
            Err(err) if pages == 1 => return Err(err),
            Err(err) => {
                tracing::debug!(%url, error = %err, "page skipped");
                continue;
            }
        };
        seen.insert(final_url.to_string());
        let page = parse_page(&html);
        for draft in entries_from_sections(page.title.as_deref(), &page.sections) {
            let entry =
                EntryContent { question: draft.question, answer: draft.answer, source: Some(final_url.to_string()) };
            if !entries.iter().any(|e| e.question == entry.question && e.answer == entry.answer) {
                entries.push(entry);
            }
        }
        if depth < limits.max_depth {
            for href in &page.links {
                if let Some(link) = same_site_link(&final_url, href, &start)
                    && rules.allowed(&link)
                    && seen.insert(link.to_string())
                {
                    queue.push_back((link, depth + 1));
                }
            }
        }
    }
    if entries.is_empty() {
        return Err(format!("No readable content found on {pages} crawled page(s)"));
    }
    Ok(entries)
}

/// The site's robots.txt rules and the delay between requests they ask for
/// (capped). A missing robots.txt (4xx) allows everything; a server error
/// stops the crawl, as the robots.txt standard asks.
async fn robots(client: &OutboundClient, start: &Url, limits: &CrawlLimits) -> Result<(Rules, Duration), String> {
    let robots_url = start.join("/robots.txt").map_err(|e| e.to_string())?;
    let response = client
        .get(robots_url.as_str(), &[], limits.request_timeout)
        .await
        .map_err(|e| format!("cannot reach {}: {e}", origin_of(start)))?;
    match response.status {
        200..=299 => match Robot::new(ROBOTS_AGENT, &response.body) {
            Ok(robot) => {
                let asked = Duration::from_secs_f32(robot.delay.unwrap_or(0.0).clamp(0.0, 3600.0));
                Ok((Rules::Robot(Box::new(robot)), asked.min(limits.max_delay)))
            }
            Err(_) => Ok((Rules::All, Duration::ZERO)),
        },
        300..=499 => Ok((Rules::All, Duration::ZERO)),
        status => Err(format!("robots.txt answered HTTP {status}; not crawling until it is readable")),
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Fetches a page, following same-site redirects that robots.txt allows.
/// `Ok(None)` when it is not HTML; `Err` when it could not be fetched.
async fn fetch_page(
    client: &OutboundClient,
    url: &Url,
    site: &Url,
    rules: &Rules,
    limits: &CrawlLimits,
) -> Result<Option<(Url, String)>, String> {
    let mut current = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response =
            client.get(current.as_str(), &[], limits.request_timeout).await.map_err(|e| format!("{current}: {e}"))?;
        if (300..400).contains(&response.status) {
            let next = location(&response)
                .and_then(|to| same_site_link(&current, &to, site))
                .filter(|to| rules.allowed(to))
                .ok_or_else(|| format!("{current} redirects outside the site"))?;
            current = next;
            continue;
        }
        if !response.is_success() {
            return Err(format!("{current} answered HTTP {}", response.status));
        }
        if !is_html(&response) {
            return Ok(None);
        }
        return Ok(Some((current, String::from_utf8_lossy(&response.body).into_owned())));
    }
    Err(format!("{url} redirects too often"))
}

fn location(response: &OutboundResponse) -> Option<String> {
    response.headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// HTML by its content type, or (without one) by its first bytes.
fn is_html(response: &OutboundResponse) -> bool {
    match response.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(content_type) => {
            let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            mime == "text/html" || mime == "application/xhtml+xml"
        }
        None => {
            let head = String::from_utf8_lossy(&response.body[..response.body.len().min(512)]).to_ascii_lowercase();
            head.contains("<html") || head.contains("<!doctype html")
        }
    }
}

//! Web pages into sections and links. The page's readable text is walked in
//! document order: headings (`h1`–`h6`, a `details` summary, a `dt`) open a
//! section, block elements end paragraphs, and navigation, scripts, forms and
//! other chrome are left out. Links are resolved for the crawler, which only
//! follows those to the same site. `<meta name="robots">` is honoured:
//! `noindex` keeps the page's text out, `nofollow` its links.

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::sections::{Section, SectionBuilder, collapse_spaces};

/// What a crawled page contributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub title: Option<String>,
    pub sections: Vec<Section>,
    /// Every link target as written (`href`), in document order.
    pub links: Vec<String>,
}

/// Elements whose content is never knowledge: chrome, code, forms, media.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "select",
    "textarea", "svg", "canvas", "iframe", "object", "video", "audio", "head", "menu",
];
const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6", "summary", "dt"];
/// Elements that end a paragraph where they start and where they end.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dd",
    "table",
    "tr",
    "td",
    "th",
    "pre",
    "blockquote",
    "details",
    "figure",
    "figcaption",
    "hr",
    "br",
    "address",
    "body",
];

/// Parses a page.
pub fn parse_page(html: &str) -> Page {
    let document = Html::parse_document(html);
    let (index, follow) = robots_meta(&document);
    let title = select_text(&document, "title").or_else(|| select_text(&document, "h1"));
    let sections = if index {
        let mut builder = SectionBuilder::default();
        walk(document.root_element(), &mut builder);
        builder.finish()
    } else {
        Vec::new()
    };
    let links = if follow { links(&document) } else { Vec::new() };
    Page { title, sections, links }
}

/// `(index, follow)` from `<meta name="robots" content="…">`.
fn robots_meta(document: &Html) -> (bool, bool) {
    let Ok(selector) = Selector::parse("meta[name]") else { return (true, true) };
    let mut directives = String::new();
    for meta in document.select(&selector) {
        if meta.attr("name").is_some_and(|n| n.eq_ignore_ascii_case("robots")) {
            directives.push_str(&meta.attr("content").unwrap_or_default().to_ascii_lowercase());
            directives.push(',');
        }
    }
    let has = |d: &str| directives.split(',').any(|x| x.trim() == d);
    (!has("noindex") && !has("none"), !has("nofollow") && !has("none"))
}

fn select_text(document: &Html, css: &str) -> Option<String> {
    let selector = Selector::parse(css).ok()?;
    document.select(&selector).map(|e| collapse_spaces(&e.text().collect::<String>())).find(|t| !t.is_empty())
}

fn links(document: &Html) -> Vec<String> {
    let Ok(selector) = Selector::parse("a[href]") else { return Vec::new() };
    document
        .select(&selector)
        .filter(|a| {
            !a.attr("rel").is_some_and(|rel| rel.split_whitespace().any(|r| r.eq_ignore_ascii_case("nofollow")))
        })
        .filter_map(|a| a.attr("href"))
        .map(|href| href.trim().to_owned())
        .filter(|href| !href.is_empty())
        .collect()
}

fn walk(element: ElementRef<'_>, out: &mut SectionBuilder) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.add_text(text),
            Node::Element(_) => {
                if let Some(child) = ElementRef::wrap(child) {
                    visit(child, out);
                }
            }
            _ => {}
        }
    }
}

fn visit(element: ElementRef<'_>, out: &mut SectionBuilder) {
    let el = element.value();
    let name = el.name();
    let hidden = el.attr("hidden").is_some() || el.attr("aria-hidden").is_some_and(|v| v == "true");
    if hidden || SKIPPED.contains(&name) || el.attr("role").is_some_and(|r| r == "navigation") {
        return;
    }
    if HEADINGS.contains(&name) {
        let text = collapse_spaces(&element.text().collect::<String>());
        if !text.is_empty() {
            out.start(text);
        }
        return;
    }
    let block = BLOCKS.contains(&name);
    if block {
        out.end_paragraph();
    }
    walk(element, out);
    if block {
        out.end_paragraph();
    }
}

/// Resolves a link found on `page` and returns it when a crawl of `site`
/// should follow it: http(s), same origin (scheme, host and port), not a file
/// that is no web page; the `#fragment` is dropped.
pub fn same_site_link(page: &Url, href: &str, site: &Url) -> Option<Url> {
    let mut url = page.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.origin() != site.origin() {
        return None;
    }
    url.set_fragment(None);
    let path = url.path().to_ascii_lowercase();
    const NOT_PAGES: &[&str] = &[
        ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".css", ".js", ".json", ".xml", ".zip",
        ".gz", ".mp3", ".mp4", ".mov", ".avi", ".woff", ".woff2", ".ttf", ".doc", ".docx", ".xls", ".xlsx", ".ppt",
    ];
    if NOT_PAGES.iter().any(|ext| path.ends_with(ext)) {
        return None;
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::sections::entries_from_sections;

    const PAGE: &str = r#"<!doctype html><html><head><title>Acme Help</title>
        <style>.x{}</style><script>var secret = 1;</script></head>
        <body><header><a href="/">Home</a> Site header</header>
        <nav><a href="/pricing">Pricing</a></nav>
        <main><h1>Frequently asked questions</h1>
        <p>Answers to the questions we hear most.</p>
        <h2>What are your opening hours?</h2>
        <p>We are open <b>9 to 5</b>,<br>Monday to Friday.</p>
        <details><summary>Do you ship abroad?</summary><p>Yes, to every EU country.</p></details>
        <dl><dt>Can I return an item?</dt><dd>Within 30 days, see <a href="returns.html#top">returns</a>.</dd></dl>
        <form><label>Search</label><input></form>
        </main><footer>© Acme <a href="mailto:help@acme.test">mail</a></footer></body></html>"#;

    #[test]
    fn headings_open_sections_and_chrome_is_left_out() {
        let page = parse_page(PAGE);
        assert_eq!(page.title.as_deref(), Some("Acme Help"));
        let entries = entries_from_sections(page.title.as_deref(), &page.sections);
        let pairs: Vec<(&str, &str)> = entries.iter().map(|e| (e.question.as_str(), e.answer.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("Frequently asked questions", "Answers to the questions we hear most."),
                ("What are your opening hours?", "We are open 9 to 5,\nMonday to Friday."),
                ("Do you ship abroad?", "Yes, to every EU country."),
                ("Can I return an item?", "Within 30 days, see returns."),
            ]
        );
        let all = format!("{:?}", page.sections);
        assert!(!all.contains("secret") && !all.contains("Site header") && !all.contains("Search"), "{all}");
        assert_eq!(page.links, ["/", "/pricing", "returns.html#top", "mailto:help@acme.test"]);
    }

    #[test]
    fn robots_meta_is_honoured() {
        let page = parse_page(
            r#"<html><head><meta name="ROBOTS" content="noindex, nofollow"></head><body><h2>Q?</h2><p>An answer here.</p><a href="/x">x</a></body></html>"#,
        );
        assert!(page.sections.is_empty() && page.links.is_empty());
        let page = parse_page(
            r#"<html><body><p>Some text that is long enough.</p><a rel="nofollow" href="/x">x</a><a href="/y">y</a></body></html>"#,
        );
        assert_eq!(page.sections.len(), 1);
        assert_eq!(page.links, ["/y"]);
    }

    #[test]
    fn only_same_site_pages_are_followed() {
        let site = Url::parse("https://help.acme.test/").unwrap();
        let page = Url::parse("https://help.acme.test/faq/index.html").unwrap();
        let follow = |href: &str| same_site_link(&page, href, &site).map(|u| u.to_string());
        assert_eq!(follow("returns.html#top").as_deref(), Some("https://help.acme.test/faq/returns.html"));
        assert_eq!(follow("/pricing?x=1").as_deref(), Some("https://help.acme.test/pricing?x=1"));
        assert_eq!(follow("https://other.test/"), None);
        assert_eq!(follow("http://help.acme.test/"), None, "another scheme is another origin");
        assert_eq!(follow("mailto:a@b.c"), None);
        assert_eq!(follow("javascript:void(0)"), None);
        assert_eq!(follow("/files/manual.PDF"), None);
    }
}

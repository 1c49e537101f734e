//! Uploaded documents into entries: which kinds are accepted (plain text,
//! Markdown, PDF, DOCX), the checks made before a document is taken
//! (extension or content type, then the bytes must really be of that kind),
//! and the parsing itself, done later on a blocking thread.

use std::io::{Cursor, Read};

use quick_xml::events::Event;
use switchboard_domain::knowledge::entries::EntryContent;
use switchboard_domain::knowledge::sections::{TextFormat, entries_from_sections, text_sections};

/// A document kind we can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Text,
    Markdown,
    Pdf,
    Docx,
}

/// Why a document was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not a kind we parse (answered with 415).
    #[error("Unsupported document type; upload a .txt, .md, .pdf or .docx file.")]
    Unsupported,
    /// The bytes are not what the name or content type says (answered with 400).
    #[error("{0}")]
    Invalid(String),
}

const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// Largest `word/document.xml` read out of a DOCX: protects against zip bombs.
const MAX_DOCX_XML_BYTES: u64 = 20 * 1024 * 1024;

/// The kind of an uploaded file from its name (first) or its content type,
/// checked against its bytes.
pub fn detect(file_name: &str, content_type: Option<&str>, bytes: &[u8]) -> Result<DocumentKind, DocumentError> {
    let extension = file_name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
    let by_name = match extension.as_deref() {
        Some("txt" | "text") => Some(DocumentKind::Text),
        Some("md" | "markdown") => Some(DocumentKind::Markdown),
        Some("pdf") => Some(DocumentKind::Pdf),
        Some("docx") => Some(DocumentKind::Docx),
        _ => None,
    };
    let mime = content_type.and_then(|c| c.split(';').next()).map(|c| c.trim().to_ascii_lowercase());
    let by_type = match mime.as_deref() {
        Some("text/plain") => Some(DocumentKind::Text),
        Some("text/markdown" | "text/x-markdown") => Some(DocumentKind::Markdown),
        Some("application/pdf") => Some(DocumentKind::Pdf),
        Some(DOCX_MIME) => Some(DocumentKind::Docx),
        _ => None,
    };
    let kind = by_name.or(by_type).ok_or(DocumentError::Unsupported)?;
    if bytes.is_empty() {
        return Err(DocumentError::Invalid("The file is empty.".into()));
    }
    let valid = match kind {
        DocumentKind::Text | DocumentKind::Markdown => text_of(bytes).is_some(),
        DocumentKind::Pdf => bytes.starts_with(b"%PDF-"),
        DocumentKind::Docx => bytes.starts_with(b"PK\x03\x04"),
    };
    if !valid {
        let what = match kind {
            DocumentKind::Text | DocumentKind::Markdown => "UTF-8 text",
            DocumentKind::Pdf => "a PDF document",
            DocumentKind::Docx => "a DOCX document",
        };
        return Err(DocumentError::Invalid(format!("The file is not {what}.")));
    }
    Ok(kind)
}

/// UTF-8 text without NUL bytes (which mark a binary file), BOM removed.
fn text_of(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).ok()?;
    (!text.contains('\0')).then_some(text)
}

/// Parses a document into entries; the file name (without extension) is the
/// question of text that has no heading, and every entry's `source`.
/// Blocking: PDF parsing can take a while.
pub fn parse(kind: DocumentKind, file_name: &str, bytes: &[u8]) -> Result<Vec<EntryContent>, String> {
    let (text, format) = match kind {
        DocumentKind::Text => (text_of(bytes).unwrap_or_default().to_owned(), TextFormat::Plain),
        DocumentKind::Markdown => (text_of(bytes).unwrap_or_default().to_owned(), TextFormat::Markdown),
        DocumentKind::Pdf => (
            pdf_extract::extract_text_from_mem(bytes).map_err(|e| format!("The PDF could not be read: {e}"))?,
            TextFormat::Plain,
        ),
        DocumentKind::Docx => (docx_markdown(bytes)?, TextFormat::Markdown),
    };
    let title = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    let entries: Vec<EntryContent> = entries_from_sections(Some(title), &text_sections(&text, format))
        .into_iter()
        .map(|d| EntryContent { question: d.question, answer: d.answer, source: Some(file_name.to_owned()) })
        .collect();
    if entries.is_empty() {
        return Err("No readable text was found in the document.".into());
    }
    Ok(entries)
}

/// The text of a DOCX as Markdown: heading paragraphs (styles `Title`,
/// `Heading…`, or an outline level) become `#` lines, other paragraphs
/// plain lines, each paragraph followed by a blank line.
fn docx_markdown(bytes: &[u8]) -> Result<String, String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("The DOCX could not be read: {e}");
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let file = archive.by_name("word/document.xml").map_err(|e| unreadable(&e))?;
    if file.size() > MAX_DOCX_XML_BYTES {
        return Err("The DOCX is too large to read.".into());
    }
    let mut xml = String::new();
    file.take(MAX_DOCX_XML_BYTES).read_to_string(&mut xml).map_err(|e| unreadable(&e))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut heading = false;
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| unreadable(&e))? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "p" => {
                    paragraph.clear();
                    heading = false;
                }
                "pStyle" => {
                    let style = attribute(&e, "val").to_ascii_lowercase();
                    heading |= style == "title" || style.starts_with("heading") || style.starts_with("kop");
                }
                "outlineLvl" => heading = true,
                "t" => in_text = true,
                "tab" | "br" | "cr" => paragraph.push(' '),
                _ => {}
            },
            Event::Text(t) if in_text => paragraph.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => {
                let entity = format!("&{};", r.xml10_content());
                paragraph.push_str(&quick_xml::escape::unescape(&entity).unwrap_or_default());
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let line = paragraph.trim().trim_start_matches('#').trim();
                    if !line.is_empty() {
                        if heading {
                            out.push_str("## ");
                        }
                        out.push_str(line);
                        out.push_str("\n\n");
                    }
                    paragraph.clear();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, local: &str) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_name_or_the_content_type() {
        assert_eq!(detect("faq.MD", None, b"# Hi"), Ok(DocumentKind::Markdown));
        assert_eq!(detect("upload", Some("text/plain; charset=utf-8"), b"hello"), Ok(DocumentKind::Text));
        assert_eq!(detect("a.pdf", Some("application/octet-stream"), b"%PDF-1.4"), Ok(DocumentKind::Pdf));
        assert_eq!(detect("photo.png", Some("image/png"), b"\x89PNG"), Err(DocumentError::Unsupported));
        assert_eq!(detect("noext", None, b"x"), Err(DocumentError::Unsupported));
    }

    #[test]
    fn bytes_must_match_the_kind() {
        assert!(matches!(detect("a.pdf", None, b"hello"), Err(DocumentError::Invalid(m)) if m.contains("PDF")));
        assert!(matches!(detect("a.docx", None, b"%PDF-1.4"), Err(DocumentError::Invalid(_))));
        assert!(matches!(detect("a.txt", None, b"\xff\xfe\x00b"), Err(DocumentError::Invalid(_))));
        assert!(matches!(detect("a.txt", None, b""), Err(DocumentError::Invalid(m)) if m.contains("empty")));
        assert_eq!(detect("bom.txt", None, b"\xEF\xBB\xBFhello"), Ok(DocumentKind::Text));
    }

    #[test]
    fn text_documents_become_entries_with_their_source() {
        let entries = parse(DocumentKind::Text, "returns.txt", b"You can return any item within 30 days.").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].question, "returns");
        assert_eq!(entries[0].source.as_deref(), Some("returns.txt"));
        assert!(parse(DocumentKind::Text, "empty.txt", b"   \n ").is_err());
    }

    #[test]
    fn docx_headings_and_entities() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Opening hours</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Monday </w:t></w:r><w:r><w:t>to Friday, 9 &amp; 5.</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let mut buffer = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buffer);
        zip.start_file("word/document.xml", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, xml.as_bytes()).unwrap();
        zip.finish().unwrap();
        let bytes = buffer.into_inner();
        assert_eq!(docx_markdown(&bytes).unwrap(), "## Opening hours\n\nMonday to Friday, 9 & 5.\n\n");
        let entries = parse(DocumentKind::Docx, "hours.docx", &bytes).unwrap();
        assert_eq!(
            (entries[0].question.as_str(), entries[0].answer.as_str()),
            ("Opening hours", "Monday to Friday, 9 & 5.")
        );
    }
}

//! Document uploads: TXT, Markdown, PDF and DOCX parsed into entries in the
//! background; wrong types, bad bytes, missing files and oversized bodies
//! refused at once in our error format.

use std::io::Write;

use serde_json::{Value, json};

use super::{all_entries, create_kb, id, settled};
use crate::common::{Resp, TestServer, assert_error, send};

const BOUNDARY: &str = "sb-test-boundary-7f3a";

/// A multipart body with one part per `(field, file name, content type, bytes)`.
fn multipart(parts: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file_name, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n").as_bytes(),
        );
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload_body(s: &TestServer, kb: &str, body: Vec<u8>) -> Resp {
    let req = s
        .request(reqwest::Method::POST, &format!("/v1/knowledge-bases/{kb}/documents"))
        .bearer_auth(s.key())
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    send(req).await
}

async fn upload(s: &TestServer, kb: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> Resp {
    upload_body(s, kb, multipart(&[("file", file_name, content_type, bytes)])).await
}

/// Uploads and waits for the parse; returns the settled knowledge base.
async fn ingested(s: &TestServer, kb: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> Value {
    let resp = upload(s, kb, file_name, content_type, bytes).await;
    assert_eq!(resp.status, 202, "{}", resp.body);
    assert_eq!(resp.body["last_refresh_status"], "crawling");
    settled(s, kb).await
}

/// A one-page PDF with one line of Helvetica text per string.
fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 16 TL\n");
    for line in lines {
        content.push_str(&format!("({line}) Tj T*\n"));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A DOCX whose paragraphs are `(style, text)`.
fn docx(paragraphs: &[(Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (style, text) in paragraphs {
        let props = style.map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>")).unwrap_or_default();
        body.push_str(&format!("<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"));
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document \
         xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", options).expect("zip");
    zip.write_all(b"<Types/>").expect("zip");
    zip.start_file("word/document.xml", options).expect("zip");
    zip.write_all(xml.as_bytes()).expect("zip");
    zip.finish().expect("zip");
    buffer.into_inner()
}

fn pairs(entries: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["question"].as_str().unwrap_or_default().into(), e["answer"].as_str().unwrap_or_default().into()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn text_and_markdown_documents_become_entries() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "Docs"})).await);
    let text = "Shipping\n\nDo you ship abroad?\nYes, to every EU country within five days.\n\n\
                Q: Can I pay by invoice?\nA: Business customers can pay by invoice.";
    let done = ingested(&s, &kb, "shipping.txt", "text/plain", text.as_bytes()).await;
    assert_eq!(done["last_refresh_status"], "done", "{done}");
    let markdown =
        "# Returns\n\nReturn any item within **30 days**.\n\n## Refunds\n\nRefunds arrive within five working days.";
    assert_eq!(
        ingested(&s, &kb, "policies.md", "text/markdown", markdown.as_bytes()).await["last_refresh_status"],
        "done"
    );
    let entries = all_entries(&s, &kb).await;
    assert_eq!(
        pairs(&entries),
        [
            ("Can I pay by invoice?".into(), "Business customers can pay by invoice.".into()),
            ("Do you ship abroad?".into(), "Yes, to every EU country within five days.".into()),
            ("Refunds".into(), "Refunds arrive within five working days.".into()),
            ("Returns".into(), "Return any item within 30 days.".into()),
        ]
    );
    assert!(entries.iter().all(|e| e["origin"] == "upload"));
    let from_text = entries.iter().find(|e| e["question"] == "Do you ship abroad?").expect("entry");
    assert_eq!(from_text["source"], "shipping.txt");

    // Uploading a file of the same name again replaces its entries.
    let newer = "Do you ship abroad?\nOnly to Belgium and Germany.";
    ingested(&s, &kb, "shipping.txt", "text/plain", newer.as_bytes()).await;
    let entries = all_entries(&s, &kb).await;
    assert_eq!(entries.len(), 3);
    assert!(pairs(&entries).contains(&("Do you ship abroad?".into(), "Only to Belgium and Germany.".into())));
}

#[tokio::test]
async fn pdf_and_docx_documents_become_entries() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "Docs"})).await);
    let done =
        ingested(&s, &kb, "hours.pdf", "application/pdf", &pdf(&["We are open nine to five on weekdays."])).await;
    assert_eq!(done["last_refresh_status"], "done", "{done}");
    let entries = all_entries(&s, &kb).await;
    let from_pdf = entries.iter().find(|e| e["source"] == "hours.pdf").expect("an entry from the PDF");
    assert!(from_pdf["answer"].as_str().is_some_and(|a| a.contains("open nine to five")), "{from_pdf}");

    let document = docx(&[
        (Some("Heading1"), "Parking"),
        (None, "Free parking for three hours behind the store."),
        (Some("Heading2"), "Wifi"),
        (None, "Free wifi in every store &amp; cafe."),
    ]);
    let done = ingested(&s, &kb, "store.docx", "application/octet-stream", &document).await;
    assert_eq!(done["last_refresh_status"], "done", "{done}");
    let entries = all_entries(&s, &kb).await;
    let from_docx: Vec<(String, String)> =
        pairs(&entries.into_iter().filter(|e| e["source"] == "store.docx").collect::<Vec<_>>());
    assert_eq!(
        from_docx,
        [
            ("Parking".into(), "Free parking for three hours behind the store.".into()),
            ("Wifi".into(), "Free wifi in every store & cafe.".into()),
        ]
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_in_our_format() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "Docs"})).await);

    let image = upload(&s, &kb, "photo.png", "image/png", b"\x89PNG\r\n").await;
    assert_error(&image, 415, "UNSUPPORTED_DOCUMENT_TYPE");
    let fake = upload(&s, &kb, "fake.pdf", "application/pdf", b"just text").await;
    assert_error(&fake, 400, "VALIDATION_ERROR");
    assert_eq!(fake.body["details"]["file"], "The file is not a PDF document.");
    let empty = upload(&s, &kb, "empty.txt", "text/plain", b"").await;
    assert_eq!(empty.body["details"]["file"], "The file is empty.");
    let no_file = upload_body(&s, &kb, multipart(&[("attachment", "a.txt", "text/plain", b"hello")])).await;
    assert_error(&no_file, 400, "VALIDATION_ERROR");
    assert!(no_file.body["details"]["file"].is_string());
    let json_body = s.post(&format!("/v1/knowledge-bases/{kb}/documents"), json!({"file": "x"})).await;
    assert_error(&json_body, 400, "VALIDATION_ERROR");
    assert!(json_body.body["details"]["Content-Type"].is_string(), "{}", json_body.body);
    let missing = upload(&s, "kb_01jz0000000000000000000000", "a.txt", "text/plain", b"hello there").await;
    assert_error(&missing, 404, "NOT_FOUND");
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["last_refresh_status"], "idle");

    // A PDF that only looks like one is accepted, then fails while parsing.
    let broken = ingested(&s, &kb, "broken.pdf", "application/pdf", b"%PDF-1.4\nthis is no pdf at all").await;
    assert_eq!(broken["last_refresh_status"], "failed");
    assert!(broken["last_refresh_error"].as_str().is_some_and(|e| !e.is_empty()), "{broken}");
    assert_eq!(broken["entry_count"], 0);
}

#[tokio::test]
async fn documents_have_their_own_body_limit() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "Docs"})).await);

    // A 3 MiB handbook: three times the general 1 MiB body limit (and past
    // axum's own 2 MB default), well within the upload limit.
    let mut handbook = String::from("# Parking\n\nPark behind the building, free for visitors.\n\n# Archive\n\n");
    while handbook.len() < 3 * 1024 * 1024 {
        handbook.push_str("Older notes that nobody reads any more, kept for the record. ");
    }
    let kb_after = ingested(&s, &kb, "handbook.md", "text/markdown", handbook.as_bytes()).await;
    assert_eq!(kb_after["last_refresh_status"], "done", "{kb_after}");
    assert_eq!(kb_after["entry_count"], 3, "{kb_after}");
    let hits = s.post(&format!("/v1/knowledge-bases/{kb}/search"), json!({"query": "where can I park"})).await;
    assert_eq!(hits.status, 200, "{}", hits.body);
    assert!(hits.body.to_string().contains("Park behind the building"), "{}", hits.body);

    // Past the 10 MiB document limit but inside the upload body limit: the
    // handler refuses the document; past the body limit the layer does.
    let large = vec![b'a'; 10 * 1024 * 1024 + 1024];
    assert_error(&upload(&s, &kb, "large.txt", "text/plain", &large).await, 413, "PAYLOAD_TOO_LARGE");
    let huge = vec![b'a'; 12 * 1024 * 1024];
    assert_error(&upload(&s, &kb, "huge.txt", "text/plain", &huge).await, 413, "PAYLOAD_TOO_LARGE");
    // Other routes keep the general limit.
    let big_json = json!({"name": "x".repeat(2 * 1024 * 1024)});
    assert_error(&s.post("/v1/knowledge-bases", big_json).await, 413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn documents_over_a_configured_upload_limit_are_refused() {
    let s = TestServer::start_with(|c| c.http.max_upload_bytes = 64 * 1024).await;
    let kb = id(&create_kb(&s, json!({"name": "Docs"})).await);
    let large = vec![b'a'; 100 * 1024];
    assert_error(&upload(&s, &kb, "large.txt", "text/plain", &large).await, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["last_refresh_status"], "idle");
}

//! The API reference at `/docs`, rendered by headless Chromium with every
//! host but the server unreachable: nothing of it may come from the internet.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::TestServer;

/// The browser, or `None` (with a line naming the package) when it is not installed.
fn chromium() -> Option<&'static str> {
    let found =
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        eprintln!("skipped: the Debian package `chromium` is not installed (.ci/run installs it)");
    }
    found
}

#[tokio::test]
async fn the_reference_renders_the_whole_document_with_the_network_off() {
    let Some(browser) = chromium() else { return };
    let s = TestServer::start().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let run = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Every name fails to resolve, so a CDN script could not load.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("{}/docs", s.base))
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(Duration::from_secs(120), run).await.expect("chromium finished").expect("chromium ran");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<title>Switchboard API</title>"), "title: {}", &dom[..dom.len().min(2000)]);

    // Every path of the document is on the page.
    let doc = s.call(reqwest::Method::GET, "/v1/openapi.json", None, None).await.body;
    let documented: BTreeSet<String> = doc["paths"].as_object().expect("paths").keys().cloned().collect();
    let rendered: BTreeSet<String> = dom
        .split("data-path=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|path| path.replace("&amp;", "&"))
        .collect();
    assert!(documented.len() > 50, "{documented:?}");
    let missing: Vec<&String> = documented.difference(&rendered).collect();
    assert!(missing.is_empty(), "not rendered: {missing:?} (stderr: {})", String::from_utf8_lossy(&out.stderr));
}

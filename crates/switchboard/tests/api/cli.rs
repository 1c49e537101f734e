//! The `switchboard` binary itself: admin commands scripts can parse, migrate,
//! serve --dev (its one dev org, its keys re-printed or rotated by `admin
//! dev-keys`), help for every flag, logs without colour codes in a pipe, and a
//! clean exit on SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::test_database_url;

fn switchboard(db: &str, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(dir)
        .env("SWITCHBOARD_DATABASE_URL", db)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("run the switchboard binary")
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[tokio::test]
async fn admin_commands_print_json_and_fail_loudly() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    let migrated = switchboard(&db, dir.path(), &["migrate"]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let boot = json_of(&switchboard(&db, dir.path(), &["admin", "bootstrap", "--org-name", "Acme", "--json"]));
    let org = boot["org_id"].as_str().expect("org_id");
    assert!(org.starts_with("org_"));
    assert!(boot["project_id"].as_str().is_some_and(|p| p.starts_with("proj_")));
    assert!(boot["org_key"].as_str().is_some_and(|k| k.starts_with("sb_org_")));
    assert!(boot["project_key"].as_str().is_some_and(|k| k.starts_with("sb_live_")));

    let tier = json_of(&switchboard(&db, dir.path(), &["admin", "set-tier", "--org", org, "--tier", "growth"]));
    assert_eq!(tier["tier"], "growth");
    let drained = json_of(&switchboard(&db, dir.path(), &["admin", "add-credits", "--org", org, "--amount", "-100"]));
    assert_eq!(drained["balance"], 0.0);
    assert_eq!(drained["is_paused"], true);
    let rate = json_of(&switchboard(&db, dir.path(), &["admin", "set-rate", "--org", org, "--rate-per-minute", "0.2"]));
    assert_eq!(rate["rate_per_minute"], 0.2);

    let orgs = json_of(&switchboard(&db, dir.path(), &["admin", "list-orgs"]));
    let listed = orgs.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{orgs}");
    assert_eq!(
        (&listed[0]["org_id"], &listed[0]["name"], &listed[0]["tier"]),
        (&boot["org_id"], &"Acme".into(), &"growth".into())
    );
    assert!(listed[0]["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    for bad in [
        vec!["admin", "set-tier", "--org", org, "--tier", "gold"],
        vec!["admin", "set-tier", "--org", "org_missing", "--tier", "payg"],
        vec!["admin", "add-credits", "--org", org, "--amount", "lots"],
        vec!["admin", "bootstrap"],
    ] {
        let out = switchboard(&db, dir.path(), &bad);
        assert!(!out.status.success(), "{bad:?} should fail");
        assert!(!out.stderr.is_empty(), "{bad:?} says why");
    }
}

#[tokio::test]
async fn serve_prints_a_working_dev_key_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("data/switchboard.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("SWITCHBOARD_DATABASE_URL", &db)
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server")
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut keys = Vec::new();
    for round in 0..2 {
        let child = start();
        // The first start on a fresh machine installs the local voice first.
        let mut health = None;
        for _ in 0..3000 {
            if let Ok(resp) = client.get(format!("{base}/v1/health")).send().await {
                health = resp.json::<Value>().await.ok();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut health = health.expect("server came up");
        // --dev runs the local voice and says when it is ready.
        for _ in 0..1200 {
            if round > 0 || health["voice"] == "ready" {
                break;
            }
            assert!(["starting", "installing", "ready"].contains(&health["voice"].as_str().unwrap_or("")), "{health}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            health = client.get(format!("{base}/v1/health")).send().await.expect("health").json().await.expect("json");
        }
        assert!(round > 0 || health["voice"] == "ready", "the voice never became ready: {health}");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
        assert!(output.status.success(), "exit on SIGTERM: {:?}", output.status);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let key = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("project key:"))
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|| panic!("no key printed: {stdout}"));
        keys.push(key);
    }
    assert_eq!(keys[0], keys[1], "a restart prints the same working key");
    // `admin dev-keys` prints the same org's keys; `--rotate` replaces them.
    let printed = json_of(&switchboard(&db, dir.path(), &["admin", "dev-keys"]));
    assert_eq!(printed["project_key"], keys[0].as_str());
    let rotated = json_of(&switchboard(&db, dir.path(), &["admin", "dev-keys", "--rotate"]));
    assert_eq!((&rotated["org_id"], &rotated["project_id"]), (&printed["org_id"], &printed["project_id"]));
    assert_ne!(rotated["project_key"], printed["project_key"]);
    assert_ne!(rotated["org_key"], printed["org_key"]);
    let again = json_of(&switchboard(&db, dir.path(), &["admin", "dev-keys"]));
    assert_eq!(again["project_key"], rotated["project_key"], "the rotated keys are the ones kept");
    let orgs = json_of(&switchboard(&db, dir.path(), &["admin", "list-orgs"]));
    assert_eq!(orgs.as_array().map(Vec::len), Some(1), "one dev org, however often its keys are asked for");

    // The key kept works against a server on the same data.
    let mut child = start();
    let mut agents = None;
    for _ in 0..100 {
        if let Ok(resp) = client
            .get(format!("{base}/v1/agents"))
            .bearer_auth(rotated["project_key"].as_str().unwrap_or(""))
            .send()
            .await
        {
            agents = Some(resp.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old key was revoked by the rotation; the new one works.
    let status = |key: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let resp = client.get(format!("{base}/v1/agents")).bearer_auth(key).send().await.expect("request");
            resp.status().as_u16()
        }
    };
    let new_key = rotated["project_key"].as_str().expect("key").to_owned();
    let (old_status, new_status) = (status(keys[0].clone()).await, status(new_key).await);
    child.kill().ok();
    child.wait().ok();
    assert_eq!(agents, Some(200));
    assert_eq!((old_status, new_status), (401, 200));
}

#[test]
fn every_flag_and_command_says_what_it_is_for() {
    fn undocumented(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name());
        if command.get_about().is_none() && path.trim() != "switchboard" {
            out.push(path.clone());
        }
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.get_help().is_none() && !matches!(id, "help" | "version") {
                out.push(format!("{path} --{id}"));
            }
        }
        for sub in command.get_subcommands() {
            undocumented(sub, &path, out);
        }
    }
    let mut missing = Vec::new();
    undocumented(&<switchboard::cli::Cli as clap::CommandFactory>::command(), "", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:?}");
}

#[tokio::test]
async fn logs_carry_no_colour_codes_into_a_pipe() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "list-orgs"])
        .current_dir(dir.path())
        .env("SWITCHBOARD_DATABASE_URL", &db)
        .env("SWITCHBOARD_LOG", "debug")
        .output()
        .expect("run the switchboard binary");
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(!logs.trim().is_empty(), "debug logs were written");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
}

//! The invalidation notices nodes send each other over Redis pub/sub: one
//! message per batch, the sending node's id on the first line, then one scope
//! per line (`keys`, `org <id>`, `agents <id>`, `all`).

use super::freshness::Scope;

/// The pub/sub channel every node publishes to and listens on.
pub const CHANNEL: &str = "switchboard:cache-invalidations";

pub fn encode(node: &str, scopes: &[Scope]) -> String {
    let mut out = node.to_owned();
    for scope in scopes {
        out.push('\n');
        match scope {
            Scope::Keys => out.push_str("keys"),
            Scope::Org(id) => {
                out.push_str("org ");
                out.push_str(id);
            }
            Scope::Agents(id) => {
                out.push_str("agents ");
                out.push_str(id);
            }
            Scope::All => out.push_str("all"),
        }
    }
    out
}

/// The sender and the scopes of a message. An unknown line invalidates
/// everything: a newer node may say something this one cannot read.
pub fn decode(message: &str) -> Option<(&str, Vec<Scope>)> {
    let mut lines = message.lines();
    let node = lines.next().filter(|n| !n.is_empty())?;
    let scopes = lines
        .map(|line| match line.split_once(' ') {
            None if line == "keys" => Scope::Keys,
            Some(("org", id)) if !id.is_empty() => Scope::Org(id.to_owned()),
            Some(("agents", id)) if !id.is_empty() => Scope::Agents(id.to_owned()),
            _ => Scope::All,
        })
        .collect();
    Some((node, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        let scopes = vec![Scope::Keys, Scope::Org("org_1".into()), Scope::Agents("org_2".into()), Scope::All];
        let message = encode("node_a", &scopes);
        assert_eq!(message, "node_a\nkeys\norg org_1\nagents org_2\nall");
        assert_eq!(decode(&message), Some(("node_a", scopes)));
    }

    #[test]
    fn unreadable_lines_invalidate_everything_and_a_missing_sender_is_ignored() {
        assert_eq!(decode("node_a\nprojects proj_1\norg "), Some(("node_a", vec![Scope::All, Scope::All])));
        assert_eq!(decode(""), None);
        assert_eq!(decode("\nkeys"), None);
    }
}

//! Caller scripts: what the simulated far end says and does, step by step.

use serde::{Deserialize, Serialize};
use switchboard_domain::phone::Dtmf;

/// One step of the far end. Spoken and keyed steps wait until the agent has
/// finished speaking, like a person would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum CallerStep {
    /// Say this (it reaches the agent as a final transcript).
    Say { say: String },
    /// Press these keys.
    Dtmf { dtmf: String },
    /// Stay silent this many seconds (call time).
    Wait { wait: f64 },
    /// Hang up (`true`).
    HangUp { hangup: bool },
}

/// The far end's behaviour for one call.
pub type CallerScript = Vec<CallerStep>;

/// What a scripted callee does when an outbound call does not bring a script:
/// answers, asks who is calling, listens, thanks and hangs up.
pub fn default_callee() -> CallerScript {
    vec![
        CallerStep::Say { say: "Hello, who is this?".into() },
        CallerStep::Say { say: "Okay, thank you. Goodbye!".into() },
        CallerStep::HangUp { hangup: true },
    ]
}

/// Checks a script's steps; returns a message for the first bad one.
pub fn validate(script: &CallerScript) -> Result<(), String> {
    if script.len() > 200 {
        return Err("At most 200 steps.".into());
    }
    for (i, step) in script.iter().enumerate() {
        match step {
            CallerStep::Say { say } if say.trim().is_empty() || say.len() > 2000 => {
                return Err(format!("Step {i}: say must be 1 to 2000 characters."));
            }
            CallerStep::Dtmf { dtmf } if Dtmf::parse_all(dtmf).is_none() => {
                return Err(format!("Step {i}: dtmf must be digits, * or #."));
            }
            CallerStep::Wait { wait } if !(0.0..=3600.0).contains(wait) => {
                return Err(format!("Step {i}: wait must be 0 to 3600 seconds."));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_from_json() {
        let script: CallerScript =
            serde_json::from_str(r#"[{"say":"hi"},{"dtmf":"12#"},{"wait":2.5},{"hangup":true}]"#).unwrap();
        assert_eq!(script.len(), 4);
        assert_eq!(script[1], CallerStep::Dtmf { dtmf: "12#".into() });
        assert!(validate(&script).is_ok());
        assert!(serde_json::from_str::<CallerScript>(r#"[{"shout":"hi"}]"#).is_err());
    }

    #[test]
    fn bad_steps_are_named() {
        assert!(validate(&vec![CallerStep::Dtmf { dtmf: "12a".into() }]).is_err_and(|e| e.contains("Step 0")));
        assert!(validate(&vec![CallerStep::Say { say: " ".into() }]).is_err());
        assert!(validate(&vec![CallerStep::Wait { wait: -1.0 }]).is_err());
    }
}

//! Post-call analysis: the summary, sentiment, outcome and success of an
//! answered call, as the agent's model writes it (checked here) or as the
//! embedded brain's rules derive it from the transcript and how the call ended.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{CallRecord, Disposition, Role, TranscriptLine};

/// How the caller came across.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

/// What the call achieved, one closed list. The first that applies, in this
/// order, is the outcome: `voicemail` (the call reached a voicemail box),
/// `do_not_call` (the caller asked not to be called again), `booked` (an
/// appointment was booked in the call), `transferred` (the call was handed to
/// a person), `callback_requested` (the caller asked to be called back later),
/// `not_interested` (the caller declined), `completed` (a conversation with
/// none of those results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Voicemail,
    DoNotCall,
    Booked,
    Transferred,
    CallbackRequested,
    NotInterested,
    Completed,
}

/// Who wrote an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisSource {
    /// The agent's language model.
    Model,
    /// The embedded rules (no model, or the model failed: `model_error` says why).
    Rules,
}

wire_names!(Sentiment { Positive => "positive", Neutral => "neutral", Negative => "negative" });
wire_names!(Outcome {
    Voicemail => "voicemail", DoNotCall => "do_not_call", Booked => "booked", Transferred => "transferred",
    CallbackRequested => "callback_requested", NotInterested => "not_interested", Completed => "completed",
});

/// The analysis of one answered call, stored with it and shown as its `analysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallAnalysis {
    /// A few sentences on what the call was about and how it ended.
    pub summary: String,
    pub sentiment: Sentiment,
    pub outcome: Outcome,
    /// Whether the call met the agent's `success_criteria`; `null` when the
    /// agent has none, or when they could not be judged.
    pub success: Option<bool>,
    /// Why `success` is what it is.
    pub success_reason: Option<String>,
    pub source: AnalysisSource,
    /// Why the model's analysis was not used, when a model was asked and failed.
    pub model_error: Option<String>,
    /// When the analysis was written, ISO-8601.
    pub analyzed_at: String,
}

/// What the analysis of a call knows beside its record.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisInput<'a> {
    pub call: &'a CallRecord,
    /// Whether an appointment was booked during the call.
    pub booked: bool,
    /// The agent's `success_criteria`.
    pub criteria: Option<&'a str>,
}

/// Whether a call gets an analysis: it ended after being answered. Busy,
/// unanswered, failed and rejected calls never had a conversation.
pub fn analysable(call: &CallRecord) -> bool {
    call.is_over() && call.answered_at.is_some()
}

const DO_NOT_CALL: &[&str] = &[
    "do not call",
    "don't call",
    "dont call",
    "stop calling",
    "never call",
    "remove me",
    "remove my number",
    "take me off",
    "put me on your do not call",
    "unsubscribe",
    "no more calls",
    "not call me again",
];
const CALLBACK: &[&str] = &[
    "call me back",
    "call back later",
    "callback",
    "call me later",
    "call me tomorrow",
    "try again later",
    "ring me back",
];
const NOT_INTERESTED: &[&str] = &[
    "not interested",
    "no thanks",
    "no thank you",
    "not for me",
    "don't need",
    "dont need",
    "do not need",
    "not right now",
    "i'll pass",
    "not looking",
];
const POSITIVE: &[&str] = &[
    "thank you",
    "thanks",
    "great",
    "perfect",
    "wonderful",
    "excellent",
    "awesome",
    "happy",
    "love",
    "sounds good",
    "helpful",
    "appreciate",
    "fantastic",
    "glad",
    "brilliant",
    "lovely",
];
const NEGATIVE: &[&str] = &[
    "not interested",
    "angry",
    "terrible",
    "awful",
    "annoyed",
    "annoying",
    "frustrated",
    "stop calling",
    "don't call",
    "waste",
    "horrible",
    "ridiculous",
    "complaint",
    "unhappy",
    "upset",
    "hate",
    "scam",
    "useless",
    "rude",
    "disappointed",
    "leave me alone",
];

/// Longest quote of the transcript in a rules summary.
const QUOTE_MAX: usize = 200;
/// Longest summary kept from a model.
const SUMMARY_MAX: usize = 2_000;

/// Lower-case words of `text` joined by single spaces, padded with a space
/// each side, so a phrase matches only on word boundaries.
fn normalise(text: &str) -> String {
    let text = text.to_lowercase().replace('\u{2019}', "'");
    let words: Vec<&str> =
        text.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty()).collect();
    format!(" {} ", words.join(" "))
}

fn mentions(normalised: &str, phrases: &[&str]) -> usize {
    phrases.iter().filter(|p| normalised.contains(&format!(" {p} "))).count()
}

fn caller_lines(transcript: &[TranscriptLine]) -> impl Iterator<Item = &TranscriptLine> {
    transcript.iter().filter(|line| line.role == Role::User && !line.content.trim().is_empty())
}

/// The caller's mood from their own words: positive and negative phrases
/// counted, a request not to be called again is always negative.
pub fn sentiment_of(transcript: &[TranscriptLine]) -> Sentiment {
    let said = caller_lines(transcript).map(|l| normalise(&l.content)).collect::<String>();
    if mentions(&said, DO_NOT_CALL) > 0 {
        return Sentiment::Negative;
    }
    let score = mentions(&said, POSITIVE) as i64 - mentions(&said, NEGATIVE) as i64;
    match score {
        s if s > 0 => Sentiment::Positive,
        s if s < 0 => Sentiment::Negative,
        _ => Sentiment::Neutral,
    }
}

/// The outcome by the precedence [`Outcome`] documents.
pub fn outcome_of(input: &AnalysisInput<'_>) -> Outcome {
    let call = input.call;
    let said = caller_lines(&call.transcript).map(|l| normalise(&l.content)).collect::<String>();
    if call.disposition == Some(Disposition::Voicemail) {
        Outcome::Voicemail
    } else if mentions(&said, DO_NOT_CALL) > 0 {
        Outcome::DoNotCall
    } else if input.booked {
        Outcome::Booked
    } else if call.disposition == Some(Disposition::Transferred) || call.transferred_to.is_some() {
        Outcome::Transferred
    } else if mentions(&said, CALLBACK) > 0 {
        Outcome::CallbackRequested
    } else if mentions(&said, NOT_INTERESTED) > 0 {
        Outcome::NotInterested
    } else {
        Outcome::Completed
    }
}

fn quote(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("\u{201c}{}…\u{201d}", text[..cut].trim_end()),
        None => format!("\u{201c}{text}\u{201d}"),
    }
}

fn outcome_sentence(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Voicemail => "The call reached voicemail.",
        Outcome::DoNotCall => "The caller asked not to be called again.",
        Outcome::Booked => "An appointment was booked.",
        Outcome::Transferred => "The call was transferred.",
        Outcome::CallbackRequested => "The caller asked to be called back.",
        Outcome::NotInterested => "The caller was not interested.",
        Outcome::Completed => "The conversation ended without a booking, transfer or request.",
    }
}

/// An extractive summary: the caller's first words, their last words when
/// they differ, and the outcome.
pub fn summary_of(transcript: &[TranscriptLine], outcome: Outcome) -> String {
    let said: Vec<&TranscriptLine> = caller_lines(transcript).collect();
    let mut sentences = Vec::new();
    match (said.first(), said.last()) {
        (Some(first), Some(last)) => {
            sentences.push(format!("The caller said {}.", quote(&first.content)));
            if said.len() > 1 {
                sentences.push(format!("Last, they said {}.", quote(&last.content)));
            }
        }
        _ => sentences.push(format!("The caller said nothing; the agent spoke {} line(s).", transcript.len())),
    }
    sentences.push(outcome_sentence(outcome).to_owned());
    sentences.join(" ")
}

/// The outcome `criteria` ask for, when they name one the rules can see.
fn criteria_target(criteria: &str) -> Option<Outcome> {
    let criteria = normalise(criteria);
    let names = |words: &[&str]| words.iter().any(|w| criteria.contains(w));
    if names(&["book", "appointment", "schedul", "meeting"]) {
        Some(Outcome::Booked)
    } else if names(&["transfer"]) {
        Some(Outcome::Transferred)
    } else if names(&["call back", "callback"]) {
        Some(Outcome::CallbackRequested)
    } else {
        None
    }
}

/// Success by the rules: criteria that ask for a booking, a transfer or a
/// callback are met when that is the outcome; others cannot be judged
/// without a model.
pub fn success_of(criteria: Option<&str>, outcome: Outcome) -> (Option<bool>, Option<String>) {
    let Some(criteria) = criteria.map(str::trim).filter(|c| !c.is_empty()) else {
        return (None, None);
    };
    match criteria_target(criteria) {
        Some(target) => {
            let met = target == outcome;
            let verdict = if met { "met" } else { "not met" };
            let reason = format!(
                "The criteria ask for `{}`; the outcome was `{}`: {verdict}.",
                target.as_str(),
                outcome.as_str()
            );
            (Some(met), Some(reason))
        }
        None => (None, Some("The rules cannot judge these criteria; an agent with a language model can.".into())),
    }
}

/// The analysis by the embedded rules, written at `at` (ISO-8601).
pub fn by_rules(input: &AnalysisInput<'_>, model_error: Option<String>, at: String) -> CallAnalysis {
    let outcome = outcome_of(input);
    let (success, success_reason) = success_of(input.criteria, outcome);
    CallAnalysis {
        summary: summary_of(&input.call.transcript, outcome),
        sentiment: sentiment_of(&input.call.transcript),
        outcome,
        success,
        success_reason,
        source: AnalysisSource::Rules,
        model_error,
        analyzed_at: at,
    }
}

/// What the model is told to do.
pub const MODEL_INSTRUCTION: &str = "Analyse this finished phone call between an assistant and a caller. \
    Answer with one JSON object matching the schema: `summary` in two to four sentences, the caller's \
    `sentiment`, the call's `outcome` (voicemail if it reached voicemail; do_not_call if the caller asked not to \
    be called again; booked if an appointment was booked; transferred if the call was handed over; \
    callback_requested if the caller asked to be called back; not_interested if they declined; completed \
    otherwise), and `success` with a one-sentence `success_reason` against the success criteria given \
    (null for both when there are none).";

/// The JSON schema the model's answer must match.
pub fn model_schema() -> Value {
    let names = |all: &[&str]| all.iter().map(|n| Value::from(*n)).collect::<Vec<_>>();
    json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "sentiment": {"type": "string", "enum": names(&Sentiment::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())},
            "outcome": {"type": "string", "enum": names(&Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>())},
            "success": {"type": ["boolean", "null"]},
            "success_reason": {"type": ["string", "null"]}
        },
        "required": ["summary", "sentiment", "outcome", "success", "success_reason"],
        "additionalProperties": false
    })
}

/// The call as the model reads it: what is known of its end, the criteria,
/// and the transcript.
pub fn model_prompt(input: &AnalysisInput<'_>) -> String {
    let call = input.call;
    let mut facts = vec![
        format!("Direction: {}", call.direction.as_str()),
        format!("Disposition: {}", call.disposition.map_or("unknown", Disposition::as_str)),
        format!("Duration: {} s", call.duration_seconds),
        format!("Appointment booked in the call: {}", if input.booked { "yes" } else { "no" }),
    ];
    if let Some(to) = &call.transferred_to {
        facts.push(format!("Transferred to: {to}"));
    }
    let criteria = input.criteria.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("none");
    facts.push(format!("Success criteria: {criteria}"));
    let transcript: Vec<String> =
        call.transcript.iter().map(|line| format!("{}: {}", line.role.as_str(), line.content)).collect();
    format!("{}\n\nTranscript:\n{}", facts.join("\n"), transcript.join("\n"))
}

#[derive(Deserialize)]
struct ModelAnswer {
    summary: String,
    sentiment: Sentiment,
    outcome: Outcome,
    success: Option<bool>,
    success_reason: Option<String>,
}

/// Checks the model's answer and makes it an analysis; why not, when it is
/// not one. Without criteria there is no success to report, whatever the
/// model says.
pub fn from_model(answer: Value, criteria: Option<&str>, at: String) -> Result<CallAnalysis, String> {
    let answer: ModelAnswer =
        serde_json::from_value(answer).map_err(|e| format!("the model's analysis is not valid: {e}"))?;
    let summary = answer.summary.trim();
    if summary.is_empty() {
        return Err("the model's analysis has an empty summary".into());
    }
    let summary = match summary.char_indices().nth(SUMMARY_MAX) {
        Some((cut, _)) => summary[..cut].to_owned(),
        None => summary.to_owned(),
    };
    let judged = criteria.is_some_and(|c| !c.trim().is_empty());
    Ok(CallAnalysis {
        summary,
        sentiment: answer.sentiment,
        outcome: answer.outcome,
        success: answer.success.filter(|_| judged),
        success_reason: answer.success_reason.filter(|r| judged && !r.trim().is_empty()),
        source: AnalysisSource::Model,
        model_error: None,
        analyzed_at: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{CallStatus, Direction, Ringing};

    fn line(role: Role, content: &str) -> TranscriptLine {
        TranscriptLine { role, content: content.into(), timestamp: 0.0 }
    }

    fn call(said: &[&str]) -> CallRecord {
        let mut call = CallRecord::ringing(Ringing {
            id: "call_1".into(),
            org_id: "org_1".into(),
            project_id: "proj_1".into(),
            agent_id: Some("agent_1".into()),
            direction: Direction::Outbound,
            from_number: "+31201234567".into(),
            to_number: "+31612345678".into(),
            rate_per_minute: 0,
            recording_enabled: false,
            metadata: Value::Null,
            node_id: None,
            at: 0,
        });
        call.status = CallStatus::Completed;
        call.disposition = Some(Disposition::Answered);
        call.answered_at = Some(1);
        call.transcript.push(line(Role::Assistant, "Hi, this is Acme calling about your order."));
        call.transcript.extend(said.iter().map(|s| line(Role::User, s)));
        call
    }

    fn analyse(call: &CallRecord, booked: bool, criteria: Option<&str>) -> CallAnalysis {
        by_rules(&AnalysisInput { call, booked, criteria }, None, "t".into())
    }

    #[test]
    fn a_caller_who_asks_not_to_be_called_again_is_do_not_call_and_negative() {
        let a = analyse(&call(&["Please don't call me again.", "Goodbye."]), false, None);
        assert_eq!(
            (a.outcome, a.sentiment, a.source),
            (Outcome::DoNotCall, Sentiment::Negative, AnalysisSource::Rules)
        );
        assert!(a.summary.contains("Please don't call me again."), "{}", a.summary);
        assert!(a.summary.contains("Goodbye."));
    }

    #[test]
    fn a_caller_who_declines_is_not_interested() {
        let a = analyse(&call(&["I'm not interested, sorry."]), false, None);
        assert_eq!((a.outcome, a.sentiment), (Outcome::NotInterested, Sentiment::Negative));
    }

    #[test]
    fn phrases_match_whole_words_only() {
        assert_eq!(sentiment_of(&call(&["The greatness of it"]).transcript), Sentiment::Neutral);
        assert_eq!(sentiment_of(&call(&["Great, thanks!"]).transcript), Sentiment::Positive);
        assert_eq!(sentiment_of(&call(&["Fine."]).transcript), Sentiment::Neutral);
    }

    #[test]
    fn the_agent_s_own_words_do_not_count() {
        let mut c = call(&["OK."]);
        c.transcript.push(line(Role::Assistant, "Thanks, great, wonderful, not interested?"));
        let a = analyse(&c, false, None);
        assert_eq!((a.outcome, a.sentiment), (Outcome::Completed, Sentiment::Neutral));
    }

    #[test]
    fn outcomes_follow_their_precedence() {
        let mut c = call(&["Call me back tomorrow please."]);
        assert_eq!(analyse(&c, false, None).outcome, Outcome::CallbackRequested);
        c.transferred_to = Some("+31850099999".into());
        assert_eq!(analyse(&c, false, None).outcome, Outcome::Transferred);
        assert_eq!(analyse(&c, true, None).outcome, Outcome::Booked);
        c.transcript.push(line(Role::User, "And stop calling me."));
        assert_eq!(analyse(&c, true, None).outcome, Outcome::DoNotCall);
        c.disposition = Some(Disposition::Voicemail);
        assert_eq!(analyse(&c, true, None).outcome, Outcome::Voicemail);
    }

    #[test]
    fn success_is_judged_only_against_criteria_the_rules_can_see() {
        let c = call(&["Yes, Tuesday works."]);
        assert_eq!(analyse(&c, true, None).success, None);
        let booked = analyse(&c, true, Some("The caller books an appointment."));
        assert_eq!(booked.success, Some(true));
        assert!(booked.success_reason.unwrap().contains("booked"));
        assert_eq!(analyse(&c, false, Some("Book a demo")).success, Some(false));
        let vague = analyse(&c, false, Some("The caller is delighted."));
        assert_eq!(vague.success, None);
        assert!(vague.success_reason.is_some());
    }

    #[test]
    fn a_silent_caller_gets_a_summary_anyway() {
        let a = analyse(&call(&[]), false, None);
        assert!(a.summary.starts_with("The caller said nothing"));
        assert_eq!(a.sentiment, Sentiment::Neutral);
    }

    #[test]
    fn long_quotes_are_cut() {
        let long = "word ".repeat(100);
        let summary = summary_of(&call(&[&long]).transcript, Outcome::Completed);
        assert!(summary.chars().count() < 300 && summary.contains('…'));
    }

    #[test]
    fn only_ended_answered_calls_are_analysable() {
        let mut c = call(&[]);
        assert!(analysable(&c));
        c.answered_at = None;
        c.status = CallStatus::NoAnswer;
        assert!(!analysable(&c));
        let mut live = call(&[]);
        live.status = CallStatus::InProgress;
        assert!(!analysable(&live));
    }

    #[test]
    fn a_model_answer_is_checked() {
        let good = json!({"summary": " Booked a demo. ", "sentiment": "positive", "outcome": "booked",
            "success": true, "success_reason": "A demo was booked."});
        let a = from_model(good.clone(), Some("Book a demo"), "t".into()).unwrap();
        assert_eq!(
            (a.summary.as_str(), a.outcome, a.source),
            ("Booked a demo.", Outcome::Booked, AnalysisSource::Model)
        );
        assert_eq!(a.success, Some(true));
        let unjudged = from_model(good, None, "t".into()).unwrap();
        assert_eq!((unjudged.success, unjudged.success_reason), (None, None));
        assert!(
            from_model(json!({"summary": "x", "sentiment": "ecstatic", "outcome": "booked"}), None, "t".into())
                .is_err()
        );
        assert!(
            from_model(
                json!({"summary": " ", "sentiment": "neutral", "outcome": "completed", "success": null,
            "success_reason": null}),
                None,
                "t".into()
            )
            .is_err()
        );
        assert!(from_model(json!("not an object"), None, "t".into()).is_err());
    }

    #[test]
    fn the_schema_lists_every_outcome_and_the_prompt_the_transcript() {
        let schema = model_schema();
        assert_eq!(schema["properties"]["outcome"]["enum"].as_array().unwrap().len(), Outcome::ALL.len());
        let c = call(&["Not interested."]);
        let prompt = model_prompt(&AnalysisInput { call: &c, booked: false, criteria: Some("Book a demo") });
        assert!(prompt.contains("user: Not interested.") && prompt.contains("Success criteria: Book a demo"));
    }

    #[test]
    fn wire_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), Value::from(o.as_str()));
            assert_eq!(Outcome::parse(o.as_str()), Some(*o));
        }
        for s in Sentiment::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), Value::from(s.as_str()));
        }
    }
}

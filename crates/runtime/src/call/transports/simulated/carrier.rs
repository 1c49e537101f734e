//! The simulated carrier behind the transport seam: it dials outbound calls
//! to scripted callees (its options are `{"script": [...]}`, checked before
//! the call is stored) and rings in inbound calls with a caller script.

use serde::Deserialize;
use serde_json::Value;

use super::line::{self, SimCall};
use super::script::{self, CallerScript, default_callee};
use crate::call::service::{CallError, CallService, InboundCall, Tenant};
use crate::call::transports::{Connection, Dial, Dialer, OptionsError};
use crate::call::{CallClock, TransportLink};
use switchboard_domain::call::CallRecord;

/// The simulator's options of an outbound call (the API's `simulation`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Simulation {
    script: CallerScript,
}

/// The field the simulator's options are known by.
const OPTIONS_FIELD: &str = "simulation";

fn simulation(options: &Value) -> Result<Simulation, OptionsError> {
    let simulation: Simulation = serde_json::from_value(options.clone())
        .map_err(|e| OptionsError { field: OPTIONS_FIELD.into(), message: e.to_string() })?;
    script::validate(&simulation.script)
        .map_err(|message| OptionsError { field: format!("{OPTIONS_FIELD}.script"), message })?;
    Ok(simulation)
}

/// Places outbound calls on the simulated line.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedCarrier;

impl Dialer for SimulatedCarrier {
    fn check_options(&self, options: &Value) -> Result<(), OptionsError> {
        simulation(options).map(|_| ())
    }

    fn dial(&self, dial: Dial) -> TransportLink {
        let script = dial.options.as_ref().and_then(|o| simulation(o).ok()).map_or_else(default_callee, |s| s.script);
        line::spawn(SimCall::Outbound { to: dial.to, script }, dial.clock)
    }
}

/// A scripted caller ringing in.
struct SimulatedCaller {
    script: CallerScript,
}

impl Connection for SimulatedCaller {
    fn open(self: Box<Self>, clock: CallClock) -> TransportLink {
        line::spawn(SimCall::Inbound { script: self.script }, clock)
    }
}

/// An inbound call to inject.
#[derive(Debug, Clone)]
pub struct RingIn {
    /// The agent that answers; without it `to` routes the call.
    pub agent_id: Option<String>,
    pub from: String,
    /// The dialled number; default [`DEFAULT_DIALLED`] when `agent_id` is given.
    pub to: Option<String>,
    /// What the caller says and does (steps as JSON).
    pub script: Value,
}

/// The dialled number of an injected call to a named agent that names none.
pub const DEFAULT_DIALLED: &str = "+15550000001";

/// Rings a scripted caller in through the call service.
pub async fn ring_in(calls: &CallService, tenant: Tenant<'_>, call: RingIn) -> Result<CallRecord, CallError> {
    let to = match (&call.agent_id, call.to) {
        (_, Some(to)) => to,
        (Some(_), None) => DEFAULT_DIALLED.into(),
        (None, None) => {
            let why = "Required unless `to` is a phone number of this project that routes the call.";
            return Err(CallError::Invalid(vec![("agent_id".into(), why.into())]));
        }
    };
    let script: CallerScript =
        serde_json::from_value(call.script).map_err(|e| CallError::Invalid(vec![("script".into(), e.to_string())]))?;
    script::validate(&script).map_err(|why| CallError::Invalid(vec![("script".into(), why)]))?;
    let connection = Box::new(SimulatedCaller { script });
    calls.accept(tenant, InboundCall { from: call.from, to, agent_id: call.agent_id, connection }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_a_script_checked_step_by_step() {
        let carrier = SimulatedCarrier;
        assert!(carrier.check_options(&serde_json::json!({"script": [{"say": "hi"}]})).is_ok());
        let bad = carrier.check_options(&serde_json::json!({"script": [{"dtmf": "12a"}]}));
        assert_eq!(bad.map_err(|e| e.field), Err("simulation.script".into()));
        let unknown = carrier.check_options(&serde_json::json!({"script": [], "voice": "x"}));
        assert_eq!(unknown.map_err(|e| e.field), Err("simulation".into()));
    }
}

//! The three ways a call meets caller memory: a read-only lookup, a start
//! (recognise, remember the call, return the context) and an end (save intents
//! and variables). Start and end each run in one write transaction that also
//! uses one call of the org's quota, and store their response so a duplicate
//! request gets the same answer.

use std::collections::BTreeMap;

use sqlx::AnyConnection;
use switchboard_domain::memory::customer_ref::new_customer_ref;
use switchboard_domain::memory::scoring::best_match;
use switchboard_domain::memory::wire::{CallEndResponse, CallStartResponse};
use switchboard_domain::memory::{EndRequest, Identity, IdentityHints, MemoryRules, Recommendation, StartRequest};
use switchboard_domain::time::iso;

use super::context::{live_variables, open_intents, write_intents, write_variables};
use super::identity::{self, Found};
use super::{EndOutcome, MemoryContext, MemoryScope, StartOutcome, quota};
use crate::events::Tx;
use crate::rows::{int, opt_int, opt_text, text, to_json};
use crate::{Error, Result, Store};

/// A call as `memory_calls` holds it.
struct StoredCall {
    customer_ref: String,
    call_start: i64,
    call_end: Option<i64>,
    start_fingerprint: Option<String>,
    start_response: Option<String>,
    end_fingerprint: Option<String>,
    end_response: Option<String>,
}

async fn stored_call(conn: &mut AnyConnection, project_id: &str, call_id: &str) -> Result<Option<StoredCall>> {
    let row = sqlx::query(
        "SELECT customer_ref, call_start, call_end, start_fingerprint, start_response, end_fingerprint, end_response \
         FROM memory_calls WHERE project_id = $1 AND call_id = $2",
    )
    .bind(project_id)
    .bind(call_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(StoredCall {
        customer_ref: text(&r, "customer_ref")?,
        call_start: int(&r, "call_start")?,
        call_end: opt_int(&r, "call_end")?,
        start_fingerprint: opt_text(&r, "start_fingerprint")?,
        start_response: opt_text(&r, "start_response")?,
        end_fingerprint: opt_text(&r, "end_fingerprint")?,
        end_response: opt_text(&r, "end_response")?,
    }))
}

/// A row of `memory_calls` to insert.
struct NewCall<'a> {
    call_id: &'a str,
    customer_ref: &'a str,
    ani: Option<&'a str>,
    dnis: Option<&'a str>,
    call_start: i64,
    call_end: Option<i64>,
    start: Option<(&'a str, String)>,
    end: Option<(&'a str, String)>,
}

/// Inserts the call; `Ok(false)` when its `call_id` is already taken.
async fn insert_call(conn: &mut AnyConnection, scope: MemoryScope<'_>, call: NewCall<'_>) -> Result<bool> {
    let (start_fingerprint, start_response) = call.start.unzip();
    let (end_fingerprint, end_response) = call.end.unzip();
    let inserted = sqlx::query(
        "INSERT INTO memory_calls (project_id, call_id, org_id, customer_ref, ani, dnis, call_start, call_end, \
         start_fingerprint, start_response, end_fingerprint, end_response) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(scope.project_id)
    .bind(call.call_id)
    .bind(scope.org_id)
    .bind(call.customer_ref)
    .bind(call.ani)
    .bind(call.dnis)
    .bind(call.call_start)
    .bind(call.call_end)
    .bind(start_fingerprint)
    .bind(start_response)
    .bind(end_fingerprint)
    .bind(end_response)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if Error::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

fn parse<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

/// The answer to a start whose `call_id` exists.
fn repeated_start(call: &StoredCall, fingerprint: &str) -> Result<StartOutcome> {
    match (&call.start_fingerprint, &call.start_response) {
        (Some(fp), Some(response)) if fp == fingerprint => {
            Ok(StartOutcome::Replayed(parse(response, "memory_calls.start_response")?))
        }
        _ => Ok(StartOutcome::Duplicate),
    }
}

/// The answer to an end of a call that has ended.
fn repeated_end(call: &StoredCall, fingerprint: &str) -> Result<EndOutcome> {
    match (&call.end_fingerprint, &call.end_response) {
        (Some(fp), Some(response)) if fp == fingerprint => {
            Ok(EndOutcome::Replayed(parse(response, "memory_calls.end_response")?))
        }
        _ => Ok(EndOutcome::AlreadyEnded),
    }
}

impl Store {
    /// Who is calling and what is remembered about them, without recording
    /// the call or using quota (for the call runtime before it greets).
    pub async fn memory_lookup(
        &self,
        scope: MemoryScope<'_>,
        hints: &IdentityHints,
        rules: &MemoryRules,
    ) -> Result<MemoryContext> {
        let now = self.now();
        let mut conn = self.pool.acquire().await?;
        let found = identity::find(&mut conn, scope.project_id, hints).await?;
        let Some((candidate, identity)) = best_match(found.candidates, now, &rules.weights, &rules.thresholds) else {
            return Ok(MemoryContext {
                customer_ref: None,
                identity: Identity::unmatched(),
                open_intents: Vec::new(),
                variables: BTreeMap::new(),
            });
        };
        Ok(MemoryContext {
            open_intents: open_intents(&mut conn, &candidate.customer_ref).await?,
            variables: live_variables(&mut conn, &candidate.customer_ref, now).await?,
            customer_ref: Some(candidate.customer_ref),
            identity,
        })
    }

    /// `/v1/calls/start`: recognises the caller (or creates a customer),
    /// records the call and returns the context. A `call_id` seen before
    /// replays its first answer when `fingerprint` matches.
    ///
    /// The reads run before the write transaction, so the write lock (all of
    /// SQLite, or the customer's rows on PostgreSQL) is held only for the few
    /// writes. A customer erased in between makes the caller a stranger again.
    pub async fn memory_start_call(
        &self,
        scope: MemoryScope<'_>,
        req: &StartRequest,
        fingerprint: &str,
        rules: &MemoryRules,
    ) -> Result<StartOutcome> {
        let now = self.now();
        let mut conn = self.pool.acquire().await?;
        if let Some(call) = stored_call(&mut conn, scope.project_id, &req.call_id).await? {
            return repeated_start(&call, fingerprint);
        }
        let found = identity::find(&mut conn, scope.project_id, &req.hints).await?;
        let unowned = found.unowned(&req.hints);
        let recognised = match best_match(found.candidates, now, &rules.weights, &rules.thresholds) {
            Some((candidate, identity)) => Some(CallStartResponse {
                call_id: req.call_id.clone(),
                open_intents: open_intents(&mut conn, &candidate.customer_ref).await?,
                variables: live_variables(&mut conn, &candidate.customer_ref, now).await?,
                customer_ref: candidate.customer_ref,
                call_start: iso(now),
                identity,
            }),
            None => None,
        };
        drop(conn);

        let mut tx = self.begin_write().await?;
        let recognised = match recognised {
            Some(r) => identity::touch_customer(&mut tx, scope.project_id, &r.customer_ref, now).await?.then_some(r),
            None => None,
        };
        let started = match recognised {
            Some(started) => {
                // New identifiers join a customer only when the match is good enough to reuse.
                if started.identity.recommendation == Recommendation::Reuse {
                    identity::link(&mut tx, scope.project_id, &started.customer_ref, &unowned, now).await?;
                }
                started
            }
            None => {
                let customer_ref = new_customer_ref();
                identity::create_customer(&mut tx, scope, &customer_ref, now).await?;
                identity::link(&mut tx, scope.project_id, &customer_ref, &unowned, now).await?;
                CallStartResponse {
                    call_id: req.call_id.clone(),
                    customer_ref,
                    call_start: iso(now),
                    identity: Identity::unmatched(),
                    open_intents: Vec::new(),
                    variables: BTreeMap::new(),
                }
            }
        };
        let call = NewCall {
            call_id: &req.call_id,
            customer_ref: &started.customer_ref,
            ani: req.hints.ani.as_deref(),
            dnis: req.dnis.as_deref(),
            call_start: now,
            call_end: None,
            start: Some((fingerprint, to_json(&started))),
            end: None,
        };
        if !insert_call(&mut tx, scope, call).await? {
            // Another request took the call_id since it was checked.
            tx.rollback().await?;
            let mut conn = self.pool.acquire().await?;
            return match stored_call(&mut conn, scope.project_id, &req.call_id).await? {
                Some(call) => repeated_start(&call, fingerprint),
                None => Ok(StartOutcome::Duplicate),
            };
        }
        if let Err(status) = quota::use_one(&mut tx, scope.org_id, now).await? {
            tx.rollback().await?;
            return Ok(StartOutcome::QuotaExhausted(status));
        }
        tx.commit().await?;
        Ok(StartOutcome::Started(started))
    }

    /// `/v1/calls/end`: saves the call's intents and variables for its
    /// customer — the one it was started for, the `customer_ref` given, or for
    /// a call never started the best match of its hints (a new customer when
    /// nobody matches). The hints' identifiers nobody owns are linked to that
    /// customer. An ended call replays its answer when `fingerprint` matches.
    pub async fn memory_record_call(
        &self,
        scope: MemoryScope<'_>,
        req: &EndRequest,
        fingerprint: &str,
        rules: &MemoryRules,
    ) -> Result<EndOutcome> {
        let mut tx = self.begin_write().await?;
        match end_call_in(&mut tx, scope, req, fingerprint, rules, self.now()).await? {
            Ending::Keep(outcome) => {
                tx.commit().await?;
                Ok(outcome)
            }
            Ending::Discard(outcome) => {
                tx.rollback().await?;
                Ok(outcome)
            }
            Ending::Raced => {
                // Another request ended (or started) the call meanwhile (PostgreSQL).
                tx.rollback().await?;
                let mut conn = self.pool.acquire().await?;
                match stored_call(&mut conn, scope.project_id, &req.call_id).await? {
                    Some(call) => repeated_end(&call, fingerprint),
                    None => Ok(EndOutcome::AlreadyEnded),
                }
            }
        }
    }
}

/// A memory end inside a larger write (a call's end in the call journal):
/// as [`Store::memory_record_call`], under a savepoint, so an end that is
/// not saved (or fails) leaves the rest of the transaction as it was.
pub(crate) async fn record_call_end_in(
    tx: &mut Tx,
    scope: MemoryScope<'_>,
    req: &EndRequest,
    rules: &MemoryRules,
    now: i64,
) -> Result<EndOutcome> {
    let mut savepoint = sqlx::Acquire::begin(&mut **tx).await?;
    let ending = end_call_in(&mut savepoint, scope, req, &req.call_id, rules, now).await;
    match ending {
        Ok(Ending::Keep(outcome)) => {
            savepoint.commit().await?;
            Ok(outcome)
        }
        Ok(Ending::Discard(outcome)) => {
            savepoint.rollback().await?;
            Ok(outcome)
        }
        Ok(Ending::Raced) => {
            savepoint.rollback().await?;
            Ok(EndOutcome::AlreadyEnded)
        }
        Err(err) => {
            savepoint.rollback().await?;
            Err(err)
        }
    }
}

/// What a memory end wrote, and whether to keep it.
enum Ending {
    Keep(EndOutcome),
    /// Nothing to keep: the outcome says why.
    Discard(EndOutcome),
    /// Another writer ended or started the call between our read and write.
    Raced,
}

/// The writes of a memory end on `conn` (a transaction the caller commits
/// or rolls back as the answer says).
async fn end_call_in(
    conn: &mut AnyConnection,
    scope: MemoryScope<'_>,
    req: &EndRequest,
    fingerprint: &str,
    rules: &MemoryRules,
    now: i64,
) -> Result<Ending> {
    let stored = stored_call(conn, scope.project_id, &req.call_id).await?;
    if let Some(call) = stored.as_ref().filter(|c| c.call_end.is_some()) {
        return repeated_end(call, fingerprint).map(Ending::Discard);
    }
    let found = identity::find(conn, scope.project_id, &req.hints).await?;
    let (customer_ref, call_start, started) = match stored {
        Some(call) => {
            if req.customer_ref.as_ref().is_some_and(|r| *r != call.customer_ref) {
                return Ok(Ending::Discard(EndOutcome::CustomerMismatch));
            }
            (call.customer_ref, call.call_start, true)
        }
        None => match standalone_customer(conn, scope, req, &found, now, rules).await? {
            Some(customer_ref) => (customer_ref, now, false),
            None => return Ok(Ending::Discard(EndOutcome::UnknownCustomer)),
        },
    };
    // Locks in the order of a start (customer, identifiers, …, quota), so the two never deadlock.
    identity::touch_customer(conn, scope.project_id, &customer_ref, now).await?;
    identity::link(conn, scope.project_id, &customer_ref, &found.unowned(&req.hints), now).await?;
    let intents_updated = write_intents(conn, scope.project_id, &customer_ref, &req.intents, now).await?;
    let variables_updated = write_variables(conn, scope.project_id, &customer_ref, &req.variables, now).await?;
    let ended = CallEndResponse {
        call_id: req.call_id.clone(),
        customer_ref,
        call_start: iso(call_start),
        call_end: iso(now),
        duration_seconds: (now - call_start).max(0) / 1000,
        intents_updated,
        variables_updated,
    };
    let recorded = if started {
        sqlx::query(
            "UPDATE memory_calls SET call_end = $1, end_fingerprint = $2, end_response = $3 \
             WHERE project_id = $4 AND call_id = $5 AND call_end IS NULL",
        )
        .bind(now)
        .bind(fingerprint)
        .bind(to_json(&ended))
        .bind(scope.project_id)
        .bind(&req.call_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1
    } else {
        let call = NewCall {
            call_id: &req.call_id,
            customer_ref: &ended.customer_ref,
            ani: req.hints.ani.as_deref(),
            dnis: req.dnis.as_deref(),
            call_start: now,
            call_end: Some(now),
            start: None,
            end: Some((fingerprint, to_json(&ended))),
        };
        insert_call(conn, scope, call).await?
    };
    if !recorded {
        return Ok(Ending::Raced);
    }
    if let Err(status) = quota::use_one(conn, scope.org_id, now).await? {
        return Ok(Ending::Discard(EndOutcome::QuotaExhausted(status)));
    }
    Ok(Ending::Keep(EndOutcome::Ended(ended)))
}

/// The customer of an end without a start: the `customer_ref` given (if
/// the project has it), else the best match of the hints, else a new one.
async fn standalone_customer(
    conn: &mut AnyConnection,
    scope: MemoryScope<'_>,
    req: &EndRequest,
    found: &Found,
    now: i64,
    rules: &MemoryRules,
) -> Result<Option<String>> {
    if let Some(customer_ref) = &req.customer_ref {
        let known = identity::last_call_at(conn, scope.project_id, customer_ref).await?.is_some();
        return Ok(known.then(|| customer_ref.clone()));
    }
    if let Some((candidate, _)) = best_match(found.candidates.clone(), now, &rules.weights, &rules.thresholds) {
        return Ok(Some(candidate.customer_ref));
    }
    let customer_ref = new_customer_ref();
    identity::create_customer(conn, scope, &customer_ref, now).await?;
    Ok(Some(customer_ref))
}

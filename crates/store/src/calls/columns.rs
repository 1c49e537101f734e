//! The `calls` table's columns and the call record's fields, paired once: the
//! insert, the update at the end and the reads all come from this table.

use serde_json::Value;
use sqlx::any::AnyRow;
use switchboard_domain::call::analysis::CallAnalysis;
use switchboard_domain::call::{
    Brain, CallRecord, CallStatus, ConfigSource, Direction, Disposition, EndedReason, Latency, Ringing, TranscriptLine,
};

use crate::rows::{AnyQuery, flag, int, json, opt_int, opt_json, opt_text, text, to_json};
use crate::{Error, Result};

/// A value that is stored in one column.
pub(super) trait Column: Sized {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q>;
    fn read(row: &AnyRow, column: &str) -> Result<Self>;
}

impl Column for String {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(self.as_str())
    }
    fn read(row: &AnyRow, column: &str) -> Result<Self> {
        text(row, column)
    }
}

impl Column for Option<String> {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(self.as_deref())
    }
    fn read(row: &AnyRow, column: &str) -> Result<Self> {
        opt_text(row, column)
    }
}

impl Column for i64 {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(*self)
    }
    fn read(row: &AnyRow, column: &str) -> Result<Self> {
        int(row, column)
    }
}

impl Column for Option<i64> {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(*self)
    }
    fn read(row: &AnyRow, column: &str) -> Result<Self> {
        opt_int(row, column)
    }
}

/// Flags are BIGINT 0/1 on both backends.
impl Column for bool {
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(i64::from(*self))
    }
    fn read(row: &AnyRow, column: &str) -> Result<Self> {
        flag(row, column)
    }
}

/// JSON values are TEXT.
macro_rules! json_column {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
                query.bind(to_json(self))
            }
            fn read(row: &AnyRow, column: &str) -> Result<Self> {
                json(row, column)
            }
        }
    )*};
}
json_column!(Value, Vec<String>, Vec<TranscriptLine>, Latency);

/// Optional JSON values are NULL when absent.
macro_rules! opt_json_column {
    ($($ty:ty),*) => {$(
        impl Column for Option<$ty> {
            fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
                query.bind(self.as_ref().map(to_json))
            }
            fn read(row: &AnyRow, column: &str) -> Result<Self> {
                opt_json(row, column)
            }
        }
    )*};
}
opt_json_column!(Value, CallAnalysis);

/// Vocabularies are TEXT in their wire names.
macro_rules! name_column {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
                query.bind(self.as_str())
            }
            fn read(row: &AnyRow, column: &str) -> Result<Self> {
                let name = text(row, column)?;
                <$ty>::parse(&name).ok_or_else(|| Error::Corrupt(format!("{column} {name}")))
            }
        }
        impl Column for Option<$ty> {
            fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
                query.bind(self.map(<$ty>::as_str))
            }
            fn read(row: &AnyRow, column: &str) -> Result<Self> {
                opt_text(row, column)?
                    .map(|name| <$ty>::parse(&name).ok_or_else(|| Error::Corrupt(format!("{column} {name}"))))
                    .transpose()
            }
        }
    )*};
}
name_column!(CallStatus, Disposition, EndedReason, Direction, ConfigSource, Brain);

/// `agent_id` is NOT NULL; a call no agent took stores the empty string.
struct NoAgentIsEmpty;

impl NoAgentIsEmpty {
    fn bind<'q>(value: &'q Option<String>, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(value.as_deref().unwrap_or(""))
    }
    fn read(row: &AnyRow, column: &str) -> Result<Option<String>> {
        Ok(Some(text(row, column)?).filter(|id| !id.is_empty()))
    }
}

macro_rules! call_columns {
    ($($column:literal => $($field:ident).+ $([$codec:ident])?),* $(,)?) => {
        /// Every column of the record, in binding order.
        pub(super) const COLUMNS: &[&str] = &[$($column),*];

        /// Binds the record's values in [`COLUMNS`] order.
        pub(super) fn bind_record<'q>(mut query: AnyQuery<'q>, record: &'q CallRecord) -> AnyQuery<'q> {
            $( query = call_columns!(@bind query, &record.$($field).+ $(, $codec)?); )*
            query
        }

        /// Reads a record from a row holding [`COLUMNS`].
        pub(super) fn read_record(row: &AnyRow) -> Result<CallRecord> {
            let mut record = blank();
            $( record.$($field).+ = call_columns!(@read row, $column $(, $codec)?); )*
            Ok(record)
        }
    };
    (@bind $query:ident, $value:expr) => { Column::bind($value, $query) };
    (@bind $query:ident, $value:expr, $codec:ident) => { $codec::bind($value, $query) };
    (@read $row:ident, $column:expr) => { Column::read($row, $column)? };
    (@read $row:ident, $column:expr, $codec:ident) => { $codec::read($row, $column)? };
}

call_columns! {
    "id" => id,
    "org_id" => org_id,
    "project_id" => project_id,
    "agent_id" => agent_id [NoAgentIsEmpty],
    "direction" => direction,
    "from_number" => from_number,
    "to_number" => to_number,
    "status" => status,
    "disposition" => disposition,
    "ended_reason" => ended_reason,
    "started_at" => started_at,
    "answered_at" => answered_at,
    "ended_at" => ended_at,
    "duration_seconds" => duration_seconds,
    "centi_minutes" => cost.centi_minutes,
    "rate_per_minute_micros" => rate_per_minute,
    "call_cost_micros" => cost.call_cost,
    "recording_cost_micros" => cost.recording_cost,
    "transfer_cost_micros" => cost.transfer_cost,
    "llm_discount_micros" => cost.llm_discount,
    "total_cost_micros" => cost.total_cost,
    "transfer_duration_seconds" => transfer_duration_seconds,
    "transferred_to" => transferred_to,
    "recording_enabled" => recording_enabled,
    "has_recording" => has_recording,
    "turn_count" => turn_count,
    "tool_call_count" => tool_call_count,
    "tools_called" => tools_called,
    "metadata" => metadata,
    "extracted_data" => extracted_data,
    "transcript" => transcript,
    "latency" => latency,
    "ws_unavailable" => ws_unavailable,
    "config_source" => config_source,
    "brain" => brain,
    "server_url_error" => server_url_error,
    "language" => language,
    "node_id" => node_id,
    "analysis" => analysis,
}

/// A record every column of a row then overwrites.
fn blank() -> CallRecord {
    CallRecord::ringing(Ringing {
        id: String::new(),
        org_id: String::new(),
        project_id: String::new(),
        agent_id: None,
        direction: Direction::Inbound,
        from_number: String::new(),
        to_number: String::new(),
        rate_per_minute: 0,
        recording_enabled: false,
        metadata: Value::Null,
        node_id: None,
        at: 0,
    })
}

//! The request log behind `GET /_sim/requests`: what each API request was,
//! who sent it, when it arrived and what it got, so tests can assert on
//! client behaviour (e.g. nothing was sent before `Retry-After` elapsed).

use std::collections::VecDeque;

use serde::Serialize;

/// Oldest entries are dropped beyond this, so long demos stay bounded.
const CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// `2024-10-08T16:38:03.790Z`, on the simulator's clock.
    pub received: String,
    pub received_ms: i64,
    /// Email of the authenticated account, if any.
    pub user: Option<String>,
    pub retry_after: Option<u64>,
    pub duration_ms: u64,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<LogEntry>,
    next: u64,
}

impl RequestLog {
    pub fn push(&mut self, mut entry: LogEntry) {
        self.next += 1;
        entry.seq = self.next;
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

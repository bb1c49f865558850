//! The client-side limiter of one connection: a token bucket (steady rate
//! plus a burst) and a gate that Jira's `Retry-After` closes. Every request
//! on the connection passes both, so after a 429 nothing is sent until the
//! wait Jira asked for has passed, and then requests resume at the steady
//! rate instead of all at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Limiter {
    rate_per_sec: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    /// No request leaves before this instant (set by `Retry-After`).
    gate: Instant,
}

impl Limiter {
    /// `rate_per_sec` sustained, up to `burst` at once after a quiet spell.
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        let now = Instant::now();
        Self {
            rate_per_sec: rate_per_sec.max(0.001),
            burst,
            state: Mutex::new(State { tokens: burst, refilled: now, gate: now }),
        }
    }

    /// Waits until one request may be sent, and takes its token.
    pub async fn acquire(&self) {
        loop {
            let wait = self.try_take(Instant::now());
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a token at `now`, or says how long to wait before trying again.
    fn try_take(&self, now: Instant) -> Option<Duration> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now < s.gate {
            return Some(s.gate - now);
        }
        let since = now.saturating_duration_since(s.refilled.max(s.gate));
        s.tokens = (s.tokens + since.as_secs_f64() * self.rate_per_sec).min(self.burst);
        s.refilled = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - s.tokens) / self.rate_per_sec))
        }
    }

    /// Closes the gate for `wait` from now (never shortens it) and empties
    /// the bucket, so that the requests held back do not leave together.
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if until > s.gate {
            s.gate = until;
        }
        s.tokens = 0.0;
        s.refilled = s.gate;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_at_once_then_the_steady_rate_applies() {
        let l = Limiter::new(10.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.try_take(t0), None);
        }
        let wait = l.try_take(t0).expect("the bucket is empty");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::from_millis(90), "{wait:?}");
        assert_eq!(l.try_take(t0 + Duration::from_millis(100)), None);
    }

    #[test]
    fn nothing_passes_a_closed_gate_and_the_bucket_restarts_empty() {
        let l = Limiter::new(10.0, 5);
        l.pause_for(Duration::from_secs(2));
        let now = Instant::now();
        let wait = l.try_take(now).expect("the gate is closed");
        assert!(wait > Duration::from_millis(1900), "{wait:?}");
        let after = now + Duration::from_millis(2050);
        assert!(l.try_take(after).is_some(), "no burst right after the gate opens");
    }
}

//! How long to wait before retrying, and how many tries each kind of
//! failure gets (spec, "Error Handling & Retry Logic"; Atlassian's advice:
//! exponential backoff with jitter ×0.7–1.3, capped at about 30 s).

use std::time::Duration;

use rand::Rng;

use super::Error;

/// Tries per failure kind and the backoff's shape. `Default` is the spec's.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries for timeouts and network errors.
    pub network_attempts: u32,
    /// Tries for 5xx.
    pub server_attempts: u32,
    /// Tries for 429 (each waits for `Retry-After`).
    pub rate_limited_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            network_attempts: 3,
            server_attempts: 5,
            rate_limited_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt + 1` (attempt counts from 1): base ×
    /// 2^(attempt-1), times a random factor in [0.7, 1.3], capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let jittered = exp.mul_f64(rand::rng().random_range(0.7..=1.3));
        jittered.min(self.max_delay)
    }

    /// Whether a request that failed with `err` on its `attempt`-th try of
    /// that kind may be tried again.
    pub fn allows_retry(&self, err: &Error, attempt: u32) -> bool {
        let limit = match err {
            Error::RateLimited { .. } => self.rate_limited_attempts,
            Error::Server { .. } => self.server_attempts,
            Error::Timeout | Error::Network(_) => self.network_attempts,
            _ => return false,
        };
        attempt < limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(350) && first <= Duration::from_millis(650), "{first:?}");
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(1400) && third <= Duration::from_millis(2600), "{third:?}");
            assert!(p.backoff(20) <= Duration::from_secs(30));
        }
    }

    #[test]
    fn each_kind_of_failure_gets_the_spec_s_number_of_tries() {
        let p = RetryPolicy::default();
        let server = Error::Server { status: 500, message: String::new() };
        assert!(p.allows_retry(&server, 4) && !p.allows_retry(&server, 5));
        assert!(p.allows_retry(&Error::Timeout, 2) && !p.allows_retry(&Error::Timeout, 3));
        assert!(!p.allows_retry(&Error::NotFound("x".into()), 1));
        assert!(!p.allows_retry(&Error::Unauthorized, 1));
    }
}

//! Retry delays: exponential, jittered, capped.

use std::time::Duration;

/// Longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// Delay before attempt `attempt + 1` after `attempt` failed: `base` ×
/// 2^(attempt-1), times a random factor in 0.7–1.3 so jobs that failed
/// together do not retry together, capped at [`MAX_DELAY`].
pub fn retry_delay(base: Duration, attempt: i32) -> Duration {
    let exponent = attempt.clamp(1, 30) - 1;
    let raw = base.as_secs_f64() * 2f64.powi(exponent);
    let jitter = rand::random_range(0.7..=1.3);
    Duration::from_secs_f64((raw * jitter).min(MAX_DELAY.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_the_jitter_band_and_stop_at_the_cap() {
        let base = Duration::from_secs(1);
        for attempt in 1..=8 {
            let nominal = 2f64.powi(attempt - 1);
            let d = retry_delay(base, attempt).as_secs_f64();
            assert!(d >= nominal * 0.7 - 1e-9 && d <= nominal * 1.3 + 1e-9, "attempt {attempt}: {d}");
        }
        assert_eq!(retry_delay(base, 30), MAX_DELAY.min(retry_delay(base, 30)));
        assert!(retry_delay(base, 30) <= MAX_DELAY);
    }
}

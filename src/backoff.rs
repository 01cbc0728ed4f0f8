//! How long to wait before trying again: capped exponential backoff with
//! jitter, for the outbox's retries, the fetch stage's reconnects and the
//! stages waiting out a busy database.

use std::time::Duration;

/// The delay before attempt `attempt + 1`: base × 2^(attempt−1), capped at
/// `max`, then up to 20 % taken off at random so retries spread out.
pub fn backoff_delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    raw.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(5);
    const M: Duration = Duration::from_secs(1800);

    #[test]
    fn first_retry_waits_the_base() {
        assert_eq!(backoff_delay(1, S, M, 0.0), S);
    }

    #[test]
    fn delay_doubles() {
        assert_eq!(backoff_delay(2, S, M, 0.0), Duration::from_secs(10));
        assert_eq!(backoff_delay(4, S, M, 0.0), Duration::from_secs(40));
    }

    #[test]
    fn delay_is_capped() {
        assert_eq!(backoff_delay(12, S, M, 0.0), M);
        assert_eq!(backoff_delay(u32::MAX, S, M, 0.0), M);
    }

    #[test]
    fn jitter_only_shortens_by_a_fifth() {
        assert_eq!(backoff_delay(1, S, M, 1.0), Duration::from_secs(4));
        assert!(backoff_delay(3, S, M, 0.5) < Duration::from_secs(20));
    }

    #[test]
    fn attempt_zero_is_treated_as_first() {
        assert_eq!(backoff_delay(0, S, M, 0.0), S);
    }
}

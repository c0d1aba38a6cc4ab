//! The environment lease: one holder at a time per environment, recorded in the DynamoDB
//! table [`TABLE`] of the account and region. Pure parts: who holds it, when it runs out,
//! how often it is renewed, and what a second operator is told. Time is a parameter (Unix
//! seconds).

use std::time::Duration;

use serde::Serialize;

/// The table of leases, created on first use (on-demand billing, key [`KEY`]).
pub const TABLE: &str = "asiaq-locks";
/// The table's partition key: the environment's name.
pub const KEY: &str = "environment";
/// How long a lease lasts without renewal unless `--lock-timeout` says otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// The shortest lease accepted: a heartbeat must fit three times into it.
pub const MIN_LEASE: Duration = Duration::from_secs(3);

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub environment: String,
    /// The caller's ARN (STS GetCallerIdentity).
    pub arn: String,
    /// `user@host:pid`.
    pub who: String,
    /// The command line of the run.
    pub command: String,
    pub started_at: i64,
    pub expires_at: i64,
    /// Grows by one with every acquisition, so a holder renews and releases only its own.
    pub generation: i64,
}

impl Holder {
    /// True when the lease has run out at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at < now
    }

    /// What a second operator is told, e.g. `environment ci is locked by arn:... (alice@h:42,
    /// asiaq aws spinup ..., started 3 min ago, expires in 7 min)`.
    /// (Its ARN is recorded just after the lease is taken; until then it names `who` only.)
    pub fn busy_message(&self, now: i64) -> String {
        let by = if self.arn.is_empty() {
            self.who.clone()
        } else {
            format!("{} ({}", self.arn, self.who)
        };
        let open = if self.arn.is_empty() { " (" } else { ", " };
        format!(
            "environment {} is locked by {by}{open}{}, started {} ago, {})",
            self.environment,
            self.command,
            human(now - self.started_at),
            self.expiry(now)
        )
    }

    /// `expires in 7 min`, or `expired 2 min ago`.
    pub fn expiry(&self, now: i64) -> String {
        if self.expired(now) {
            format!("expired {} ago", human(now - self.expires_at))
        } else {
            format!("expires in {}", human(self.expires_at - now))
        }
    }
}

/// A span of seconds as people say it: `45 s`, `3 min`, `2 h 5 min`.
pub fn human(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => {
            let minutes = (s + 30) / 60;
            match minutes % 60 {
                0 => format!("{} h", minutes / 60),
                m => format!("{} h {m} min", minutes / 60),
            }
        }
    }
}

/// How often the holder renews: a third of the lease, so two renewals can fail before it
/// runs out.
pub fn renew_every(lease: Duration) -> Duration {
    lease / 3
}

/// Parses `90s`, `10m`, `1h` or plain seconds (`600`), at least [`MIN_LEASE`] when
/// `lease` (a `--lock-timeout`).
pub fn parse_duration(text: &str, lease: bool) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 90s, 10m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(format!(
                "{text:?}: expected a duration such as 90s, 10m or 1h"
            ))
        }
    };
    let d = Duration::from_secs(secs);
    if lease && d < MIN_LEASE {
        return Err(format!(
            "{text:?}: a lease lasts at least {} s",
            MIN_LEASE.as_secs()
        ));
    }
    Ok(d)
}

/// The condition of acquiring: nobody holds the lease, or its holder's time ran out.
pub const ACQUIRE_CONDITION: &str = "attribute_not_exists(environment) OR expires_at < :now";
/// The condition of releasing: the lease is still this acquisition's.
pub const OWN_CONDITION: &str = "generation = :generation";
/// The condition of renewing: the lease is still this acquisition's and has not run out or
/// been broken (a broken lease keeps its generation and expires at 0, so the next holder
/// takes the next generation and the old one can neither renew nor release it).
pub const RENEW_CONDITION: &str = "generation = :generation AND expires_at >= :now";

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            environment: "ci".into(),
            arn: "arn:aws:iam::123:user/alice".into(),
            who: "alice@host1:4242".into(),
            command: "asiaq aws spinup --pipeline pipelines/ci.csv".into(),
            started_at: 1_000,
            expires_at: 1_600,
            generation: 3,
        }
    }

    #[test]
    fn a_second_operator_is_told_who_what_since_when_and_until_when() {
        assert_eq!(
            holder().busy_message(1_180),
            "environment ci is locked by arn:aws:iam::123:user/alice (alice@host1:4242, asiaq aws spinup --pipeline pipelines/ci.csv, started 3 min ago, expires in 7 min)"
        );
        let mut fresh = holder();
        fresh.arn.clear();
        assert_eq!(
            fresh.busy_message(1_000),
            "environment ci is locked by alice@host1:4242 (asiaq aws spinup --pipeline pipelines/ci.csv, started 0 s ago, expires in 10 min)"
        );
        assert_eq!(holder().expiry(1_720), "expired 2 min ago");
        assert!(!holder().expired(1_600));
        assert!(holder().expired(1_601));
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(human(45), "45 s");
        assert_eq!(human(-5), "0 s");
        assert_eq!(human(180), "3 min");
        assert_eq!(human(7_500), "2 h 5 min");
        assert_eq!(human(7_200), "2 h");
    }

    #[test]
    fn durations_parse_with_units_and_leases_have_a_floor() {
        assert_eq!(
            parse_duration("90s", true).unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_duration("10m", true).unwrap(),
            Duration::from_secs(600)
        );
        assert_eq!(
            parse_duration("1h", false).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_duration("600", true).unwrap(),
            Duration::from_secs(600)
        );
        assert!(parse_duration("2s", true)
            .unwrap_err()
            .contains("at least 3 s"));
        assert_eq!(parse_duration("0", false).unwrap(), Duration::ZERO);
        assert!(parse_duration("ten", false).is_err());
        assert!(parse_duration("5d", false).is_err());
        assert_eq!(
            renew_every(Duration::from_secs(600)),
            Duration::from_secs(200)
        );
    }
}

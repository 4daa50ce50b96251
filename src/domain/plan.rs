//! Plans: what to back up, when, and how long to keep it. OpsCenter job schedules are intervals
//! from a first run; Cloud Backup configurations are hourly, daily or weekly at a time of day.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{backup::Selection, operation::OperationOptions};

/// The longest interval or retention age accepted: 100 years.
pub const MAX_SPAN_SECS: u64 = 100 * 366 * 86_400;

/// When a plan runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// From `first_run`, every `every_secs` seconds; once when `every_secs` is absent.
    Interval {
        first_run: DateTime<Utc>,
        every_secs: Option<u64>,
        /// The IANA zone the schedule was written in, to show it back the same way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
    /// At `hour:minute` (local to `utc_offset_minutes`) every hour, day, or week on `day_of_week` (0 = Sunday).
    Calendar {
        frequency: Frequency,
        #[serde(default)]
        hour: u32,
        #[serde(default)]
        minute: u32,
        #[serde(default)]
        day_of_week: Option<u32>,
        #[serde(default)]
        utc_offset_minutes: i32,
        /// An IANA time zone (`America/New_York`); when given it wins over the offset and
        /// daylight saving time is followed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Hourly,
    Daily,
    Weekly,
}

/// How long a plan's backups are kept; both rules apply when both are set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Keep only the newest N completed backups.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Delete completed backups older than this.
    #[serde(default)]
    pub max_age_secs: Option<u64>,
}

impl Retention {
    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none() && self.max_age_secs.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub name: String,
    pub schedule: Schedule,
    pub retention: Retention,
    pub selection: Selection,
    #[serde(default)]
    pub options: OperationOptions,
    /// Fields a dialect gave the plan that the engine does not use, kept to show them back.
    #[serde(default)]
    pub annotations: serde_json::Value,
    pub destination_id: Option<Uuid>,
    pub enabled: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Schedule {
    /// Checks the numbers a client gave.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Schedule::Interval { every_secs: Some(0), .. } => Err("an interval must be at least one second".into()),
            Schedule::Interval { every_secs: Some(s), .. } if *s > MAX_SPAN_SECS => Err("an interval can be at most 100 years".into()),
            Schedule::Calendar { hour, minute, day_of_week, utc_offset_minutes, timezone, .. } => {
                if let Some(tz) = timezone
                    && tz.parse::<chrono_tz::Tz>().is_err()
                {
                    return Err(format!("unknown time zone '{tz}' (use an IANA name such as America/New_York)"));
                }
                if *hour > 23 || *minute > 59 || day_of_week.is_some_and(|d| d > 6) || utc_offset_minutes.abs() > 14 * 60 {
                    Err("hour 0-23, minute 0-59, day_of_week 0-6 and an offset within ±14 h".into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// The first run time strictly after `t`, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval { first_run, every_secs, .. } => {
                if *first_run > t {
                    return Some(*first_run);
                }
                let every = i64::try_from((*every_secs)?).ok()?;
                let elapsed = (t - *first_run).num_seconds();
                let ahead = (elapsed / every).checked_add(1)?.checked_mul(every)?;
                first_run.checked_add_signed(Duration::try_seconds(ahead)?)
            }
            Schedule::Calendar { frequency, hour, minute, day_of_week, timezone: Some(tz), .. } => {
                let tz: chrono_tz::Tz = tz.parse().ok()?;
                let local = t.with_timezone(&tz);
                let mut date = local.date_naive();
                let mut h = if *frequency == Frequency::Hourly { local.hour() } else { *hour };
                for _ in 0..(400 * 24) {
                    let matches_day =
                        *frequency != Frequency::Weekly || day_of_week.is_none_or(|d| date.weekday().num_days_from_sunday() == d);
                    if matches_day
                        && let Some(candidate) = tz.from_local_datetime(&date.and_hms_opt(h, *minute, 0)?).earliest()
                        && candidate.with_timezone(&Utc) > t
                    {
                        return Some(candidate.with_timezone(&Utc));
                    }
                    if *frequency == Frequency::Hourly && h < 23 {
                        h += 1;
                    } else {
                        date = date.succ_opt()?;
                        h = if *frequency == Frequency::Hourly { 0 } else { *hour };
                    }
                }
                None
            }
            Schedule::Calendar { frequency, hour, minute, day_of_week, utc_offset_minutes, timezone: None } => {
                let offset = Duration::minutes(i64::from(*utc_offset_minutes));
                let local = t + offset;
                let mut candidate = Utc
                    .with_ymd_and_hms(
                        local.year(),
                        local.month(),
                        local.day(),
                        if *frequency == Frequency::Hourly { local.hour() } else { *hour },
                        *minute,
                        0,
                    )
                    .single()?;
                let step = match frequency {
                    Frequency::Hourly => Duration::hours(1),
                    Frequency::Daily | Frequency::Weekly => Duration::days(1),
                };
                for _ in 0..400 {
                    let matches_day =
                        *frequency != Frequency::Weekly || day_of_week.is_none_or(|d| candidate.weekday().num_days_from_sunday() == d);
                    if candidate > local && matches_day {
                        return Some(candidate - offset);
                    }
                    candidate += step;
                }
                None
            }
        }
    }

    /// Run times in `(after, until]`, oldest first, at most `limit`.
    pub fn due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < limit {
            match self.next_after(t) {
                Some(n) if n <= until => {
                    out.push(n);
                    t = n;
                }
                _ => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_interval_runs_from_its_first_run_every_interval_and_once_without_one() {
        let s = Schedule::Interval { first_run: at("2026-01-01T00:00:00Z"), every_secs: Some(3600), timezone: None };
        assert_eq!(s.next_after(at("2025-12-31T00:00:00Z")), Some(at("2026-01-01T00:00:00Z")));
        assert_eq!(s.next_after(at("2026-01-01T00:00:00Z")), Some(at("2026-01-01T01:00:00Z")));
        assert_eq!(s.next_after(at("2026-01-01T05:30:00Z")), Some(at("2026-01-01T06:00:00Z")));
        let once = Schedule::Interval { first_run: at("2026-01-01T00:00:00Z"), every_secs: None, timezone: None };
        assert_eq!(once.next_after(at("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn calendar_schedules_honour_hour_day_of_week_and_offset() {
        let daily = Schedule::Calendar {
            frequency: Frequency::Daily,
            hour: 2,
            minute: 30,
            day_of_week: None,
            utc_offset_minutes: -300,
            timezone: None,
        };
        // 02:30 at UTC-5 is 07:30 UTC.
        assert_eq!(daily.next_after(at("2026-03-04T06:00:00Z")), Some(at("2026-03-04T07:30:00Z")));
        assert_eq!(daily.next_after(at("2026-03-04T08:00:00Z")), Some(at("2026-03-05T07:30:00Z")));
        let weekly = Schedule::Calendar {
            frequency: Frequency::Weekly,
            hour: 0,
            minute: 0,
            day_of_week: Some(0),
            utc_offset_minutes: 0,
            timezone: None,
        };
        assert_eq!(weekly.next_after(at("2026-03-04T00:00:00Z")), Some(at("2026-03-08T00:00:00Z")));
        let hourly = Schedule::Calendar {
            frequency: Frequency::Hourly,
            hour: 0,
            minute: 15,
            day_of_week: None,
            utc_offset_minutes: 0,
            timezone: None,
        };
        assert_eq!(hourly.next_after(at("2026-03-04T10:20:00Z")), Some(at("2026-03-04T11:15:00Z")));
    }

    #[test]
    fn a_named_time_zone_follows_daylight_saving_time() {
        let s = Schedule::Calendar {
            frequency: Frequency::Daily,
            hour: 2,
            minute: 30,
            day_of_week: None,
            utc_offset_minutes: 0,
            timezone: Some("America/New_York".into()),
        };
        // EST (UTC-5) in January, EDT (UTC-4) in July.
        assert_eq!(s.next_after(at("2026-01-10T00:00:00Z")), Some(at("2026-01-10T07:30:00Z")));
        assert_eq!(s.next_after(at("2026-07-10T00:00:00Z")), Some(at("2026-07-10T06:30:00Z")));
        assert!(
            Schedule::Calendar {
                frequency: Frequency::Daily,
                hour: 0,
                minute: 0,
                day_of_week: None,
                utc_offset_minutes: 0,
                timezone: Some("Mars/Olympus".into())
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn due_times_between_two_moments_are_listed_oldest_first() {
        let s = Schedule::Interval { first_run: at("2026-01-01T00:00:00Z"), every_secs: Some(60), timezone: None };
        let due = s.due_between(at("2025-12-31T23:59:00Z"), at("2026-01-01T00:03:00Z"), 10);
        assert_eq!(due.len(), 4);
        assert_eq!(due[3], at("2026-01-01T00:03:00Z"));
    }
}

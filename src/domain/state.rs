//! The one state machine under every status word: OpsCenter's running/success/error, Cloud
//! Databases' NEW/BUILDING/COMPLETED/FAILED, Cloud Backup's Queued/InProgress/Completed/... .

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The unified state of an operation, a task or a backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Accepted, not started.
    Queued,
    /// A task is moving data.
    Running,
    /// Every task finished and the data is verified.
    Succeeded,
    /// Finished, some items skipped.
    SucceededWithErrors,
    /// No usable result.
    Failed,
    /// Asked to stop; tasks are stopping.
    Cancelling,
    /// Stopped on request.
    Cancelled,
    /// A schedule could not start it in time.
    Missed,
    /// A schedule skipped it because the previous run was still going.
    Skipped,
    /// Its data could not be removed.
    DeleteFailed,
}

pub const ALL_STATES: [State; 10] = [
    State::Queued,
    State::Running,
    State::Succeeded,
    State::SucceededWithErrors,
    State::Failed,
    State::Cancelling,
    State::Cancelled,
    State::Missed,
    State::Skipped,
    State::DeleteFailed,
];

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::SucceededWithErrors => "succeeded_with_errors",
            State::Failed => "failed",
            State::Cancelling => "cancelling",
            State::Cancelled => "cancelled",
            State::Missed => "missed",
            State::Skipped => "skipped",
            State::DeleteFailed => "delete_failed",
        }
    }

    /// Nothing more will happen (except a delete of a finished backup).
    pub fn is_terminal(self) -> bool {
        !matches!(self, State::Queued | State::Running | State::Cancelling)
    }

    /// Finished with usable data.
    pub fn is_success(self) -> bool {
        matches!(self, State::Succeeded | State::SucceededWithErrors)
    }

    /// Whether `self -> next` is allowed.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Queued, Running | Cancelled | Failed | Missed | Skipped)
                | (Running, Succeeded | SucceededWithErrors | Failed | Cancelling | Queued)
                | (Cancelling, Cancelled | Failed | Succeeded | SucceededWithErrors)
                | (Succeeded | SucceededWithErrors, DeleteFailed)
                | (DeleteFailed, DeleteFailed)
        )
    }

    /// Moves to `next` or explains why it cannot.
    pub fn transition(self, next: State) -> Result<State, String> {
        if self.can_become(next) { Ok(next) } else { Err(format!("cannot go from {self} to {next}")) }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_STATES.into_iter().find(|st| st.as_str() == s).ok_or_else(|| format!("unknown state '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::{State::*, *};

    /// Every allowed transition, written out; everything else is refused.
    const ALLOWED: &[(State, State)] = &[
        (Queued, Running),
        (Queued, Cancelled),
        (Queued, Failed),
        (Queued, Missed),
        (Queued, Skipped),
        (Running, Succeeded),
        (Running, SucceededWithErrors),
        (Running, Failed),
        (Running, Cancelling),
        (Running, Queued),
        (Cancelling, Cancelled),
        (Cancelling, Failed),
        (Cancelling, Succeeded),
        (Cancelling, SucceededWithErrors),
        (Succeeded, DeleteFailed),
        (SucceededWithErrors, DeleteFailed),
        (DeleteFailed, DeleteFailed),
    ];

    #[test]
    fn every_listed_transition_is_allowed_and_every_other_is_refused() {
        for from in ALL_STATES {
            for to in ALL_STATES {
                let expected = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                assert_eq!(from.transition(to).is_ok(), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn terminal_states_only_lead_to_delete_failed() {
        for from in ALL_STATES.into_iter().filter(|s| s.is_terminal()) {
            for to in ALL_STATES {
                if from.can_become(to) {
                    assert_eq!(to, DeleteFailed, "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in ALL_STATES {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!("done".parse::<State>().is_err());
    }
}

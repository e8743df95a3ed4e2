//! Job and stage statuses. Stored and shown as the lowercase words they always were
//! (`queued`, `completed`, ...), so the store's rows and the HTTP API are unchanged; in
//! the code they are enums, so a misspelt status is a compile error.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An unknown status word read from the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status {word:?}")]
pub struct UnknownStatus {
    /// `job` or `stage`.
    pub kind: &'static str,
    /// The word read.
    pub word: String,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored and shown word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(word: &str) -> Result<Self, UnknownStatus> {
                match word {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownStatus { kind: $kind, word: word.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let word = value.as_str()?;
                word.parse().map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

status_enum!(
    /// Where a job (an incident's pipeline run) stands.
    JobStatus, "job", {
        /// Accepted, not started.
        Queued => "queued",
        /// A worker runs its stages.
        Running => "running",
        /// A dependency is down; retried at `next_attempt_at`.
        Waiting => "waiting",
        /// Every stage completed.
        Succeeded => "succeeded",
        /// A stage decided the incident goes no further (`reason`).
        Rejected => "rejected",
        /// A stage failed (`failed_stage`, `reason`).
        Failed => "failed",
    }
);

status_enum!(
    /// Where one stage of a job stands.
    StageStatus, "stage", {
        /// Started and not finished (forgotten, and run again, after a restart).
        Running => "running",
        /// Ran to its end; its result is kept and later stages read it.
        Completed => "completed",
        /// Failed; its result (if any) is kept for the record.
        Failed => "failed",
    }
);

impl JobStatus {
    /// Every job status, in the order a job goes through them.
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Waiting,
        JobStatus::Succeeded,
        JobStatus::Rejected,
        JobStatus::Failed,
    ];

    /// The job ended (`succeeded`, `rejected` or `failed`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Rejected | JobStatus::Failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_words() {
        for s in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Waiting,
            JobStatus::Succeeded,
            JobStatus::Rejected,
            JobStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
        }
        assert_eq!(
            serde_json::to_value(StageStatus::Completed).expect("json"),
            "completed"
        );
        assert_eq!(StageStatus::Failed, "failed");
        assert!(JobStatus::Rejected.is_terminal() && !JobStatus::Waiting.is_terminal());
        assert_eq!(
            "done".parse::<StageStatus>(),
            Err(UnknownStatus {
                kind: "stage",
                word: "done".into()
            })
        );
    }
}

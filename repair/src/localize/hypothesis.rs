//! The localize stage's typed result: ranked hypothesis records, each a suspect with the
//! evidence for it, its cause class and the kind of intervention it suggests. The patch
//! stage acts on these.

use serde::{Deserialize, Serialize};

/// Where the fault is suspected: a definition in the service's repository.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Suspect {
    /// Path relative to the repository root.
    pub file: String,
    /// First line of the suspected range (1-based).
    pub start_line: u32,
    /// Last line of the suspected range (inclusive).
    pub end_line: u32,
    /// The enclosing function (qualified as the symbol index names it, e.g.
    /// `Cart.total`).
    pub function: String,
    /// The symbol index's id of the definition, when an index was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_id: Option<String>,
}

/// A localization signal.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The suspect is an in-app frame of the reproduced traceback (value: 1 for the top
    /// frame, decaying with depth).
    CrashFrame,
    /// Ochiai suspiciousness of its lines from coverage of the failing input against the
    /// passing neighbours and the repository's tests.
    Spectrum,
    /// Proximity in the call graph to the crash frames (value: 1 at distance 0, less
    /// within radius 2).
    CodeGraph,
    /// Ochiai of what it returned (a predicate over the value: `['amount'] type=str`,
    /// `== 0`, `is None`) in the failing runs against the passing ones: it made a value
    /// no passing run saw.
    ReturnValue,
    /// Changed in the commits before the envelope's commit, weighted by recency.
    RecentChange,
    /// Across services: 1 when its service is the first fault (the deepest erroring span
    /// on the critical path without an erroring child), else that service's own share of
    /// the trace's error.
    CrossService,
}

/// One signal's value for one suspect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// Which signal.
    pub signal: Signal,
    /// Its value, in `[0, 1]`.
    pub value: f64,
    /// What it rests on, in words (e.g. `frame 1 of 3: app/cart.py:42`,
    /// `ochiai 0.89: 4 of 4 failing, 1 of 9 passing runs cover line 57`).
    pub detail: String,
}

/// What kind of fault the hypothesis supposes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CauseClass {
    /// A value that may be absent (None, a missing key, an empty sequence) is used without
    /// a check.
    MissingGuard,
    /// The code assumes a shape or range of input that requests do not guarantee.
    WrongInputAssumption,
    /// A value of one type is used as another (str for int, list for dict).
    TypeConfusion,
    /// Arithmetic on a value that can be zero, negative or out of range.
    BadArithmetic,
    /// Behaviour differs by configuration or feature flag.
    ConfigFlagDrift,
    /// A dependency (library, downstream service) behaves other than the code expects.
    DependencyBehaviour,
    /// A timeout or resource limit (time, memory, connections).
    TimeoutResource,
}

/// The kind of change the hypothesis suggests.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Intervention {
    /// Reject the bad input at the handler with a 4xx and a clear message.
    RejectInputAtBoundary,
    /// Check for the absent value before use.
    AddGuard,
    /// Fall back to a default where the code's intent supports one.
    AddDefault,
    /// Correct the computation that produced the bad value.
    FixComputation,
    /// Convert or validate the type where the value enters.
    CoerceType,
    /// Make the behaviour not depend on the flag or config, or fix the config.
    FixConfig,
    /// Handle the dependency's error or result shape.
    HandleDependencyError,
    /// Add a timeout, limit or retry.
    AddTimeoutOrLimit,
}

/// One ranked suspect with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hypothesis {
    /// 1-based rank (1 is the most suspicious).
    pub rank: u32,
    /// The scoring function's value, in `[0, 1]`.
    pub score: f64,
    /// Where.
    pub suspect: Suspect,
    /// Each signal's value for this suspect.
    pub evidence: Vec<Evidence>,
    /// What kind of fault.
    pub cause_class: CauseClass,
    /// What kind of change it suggests.
    pub intervention: Intervention,
    /// The exception type the hypothesis explains.
    pub exception_type: String,
}

/// The stage's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LocalizeResult {
    /// Ranked, best first.
    pub hypotheses: Vec<Hypothesis>,
    /// Signals that could be computed for this incident.
    pub signals_used: Vec<Signal>,
    /// Signals that could not, with why (e.g. `spectrum: no passing runs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals_missing: Vec<String>,
    /// The scoring function's weights as configured, by signal name.
    pub weights: std::collections::BTreeMap<String, f64>,
    /// The first-fault service and the cross-service edges, when the envelope's spans
    /// cover several services and some ended in error (else `signals_missing` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_service: Option<super::services::CrossService>,
}

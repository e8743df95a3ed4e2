//! The cause class and the intervention a hypothesis suggests, from the exception type
//! and message, where the suspect sits relative to the crash, and the suspect's code.

use super::{CauseClass, Intervention};

/// What is known about one suspect.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The exception type as printed (`statistics.StatisticsError`, `KeyError`).
    pub exception_type: &'a str,
    /// Its message.
    pub message: &'a str,
    /// The suspect is the innermost in-app frame.
    pub is_crash_frame: bool,
    /// The innermost frame of the traceback is outside the service's code (a library or
    /// the standard library raised).
    pub raised_outside_app: bool,
    /// The suspect's source.
    pub source: &'a str,
}

fn is_handler(source: &str) -> bool {
    source.lines().take(4).any(|l| {
        let l = l.trim_start();
        l.starts_with('@')
            && [".get(", ".post(", ".put(", ".delete(", ".patch(", ".route("]
                .iter()
                .any(|m| l.contains(m))
    }) || source.contains("start_response")
}

/// The cause class and intervention for a suspect of this shape.
pub fn classify(shape: Shape<'_>) -> (CauseClass, Intervention) {
    let ty = shape
        .exception_type
        .rsplit('.')
        .next()
        .unwrap_or(shape.exception_type);
    let source = shape.source;
    let handler = is_handler(source);
    let lower = source.to_ascii_lowercase();
    if ty.contains("Timeout") || ty == "MemoryError" || ty == "RecursionError" {
        return (CauseClass::TimeoutResource, Intervention::AddTimeoutOrLimit);
    }
    if lower.contains("flag") && shape.is_crash_frame {
        return (CauseClass::ConfigFlagDrift, Intervention::FixConfig);
    }
    if shape.raised_outside_app
        && shape.is_crash_frame
        && !matches!(ty, "KeyError" | "IndexError" | "ZeroDivisionError")
    {
        return (
            CauseClass::DependencyBehaviour,
            Intervention::HandleDependencyError,
        );
    }
    if !shape.is_crash_frame {
        // Upstream of the crash: the value that failed was made here.
        return match ty {
            "ZeroDivisionError" | "OverflowError" => {
                (CauseClass::BadArithmetic, Intervention::FixComputation)
            }
            "TypeError" if !shape.message.contains("NoneType") => {
                (CauseClass::TypeConfusion, Intervention::CoerceType)
            }
            _ if handler => (
                CauseClass::WrongInputAssumption,
                Intervention::RejectInputAtBoundary,
            ),
            _ => (
                CauseClass::WrongInputAssumption,
                Intervention::FixComputation,
            ),
        };
    }
    let none = shape.message.contains("NoneType") || shape.message.contains("None");
    match ty {
        "KeyError" | "AttributeError" if handler => (
            CauseClass::MissingGuard,
            Intervention::RejectInputAtBoundary,
        ),
        "KeyError" | "AttributeError" => (CauseClass::MissingGuard, Intervention::AddGuard),
        "TypeError" if none => (CauseClass::MissingGuard, Intervention::AddGuard),
        "TypeError" => (CauseClass::TypeConfusion, Intervention::CoerceType),
        "ZeroDivisionError" | "OverflowError" => {
            (CauseClass::BadArithmetic, Intervention::FixComputation)
        }
        "IndexError" | "StopIteration" => {
            (CauseClass::WrongInputAssumption, Intervention::AddGuard)
        }
        "ValueError" | "JSONDecodeError" | "UnicodeDecodeError" if handler => (
            CauseClass::WrongInputAssumption,
            Intervention::RejectInputAtBoundary,
        ),
        "ValueError" | "JSONDecodeError" | "UnicodeDecodeError" => (
            CauseClass::WrongInputAssumption,
            Intervention::RejectInputAtBoundary,
        ),
        "ConnectionError" | "HTTPError" | "OSError" => (
            CauseClass::DependencyBehaviour,
            Intervention::HandleDependencyError,
        ),
        _ => (CauseClass::WrongInputAssumption, Intervention::AddGuard),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape<'a>(
        ty: &'a str,
        message: &'a str,
        crash: bool,
        outside: bool,
        source: &'a str,
    ) -> Shape<'a> {
        Shape {
            exception_type: ty,
            message,
            is_crash_frame: crash,
            raised_outside_app: outside,
            source,
        }
    }

    #[test]
    fn classes_follow_the_exception_and_the_code() {
        let handler = "@app.post(\"/orders\")\ndef create_order():\n    a = body['country']\n";
        assert_eq!(
            classify(shape("KeyError", "'country'", true, false, handler)),
            (
                CauseClass::MissingGuard,
                Intervention::RejectInputAtBoundary
            )
        );
        assert_eq!(
            classify(shape(
                "TypeError",
                "unsupported operand type(s) for -: 'int' and 'NoneType'",
                true,
                false,
                "def f(x):\n"
            )),
            (CauseClass::MissingGuard, Intervention::AddGuard)
        );
        assert_eq!(
            classify(shape(
                "TypeError",
                "can't multiply sequence by non-int of type 'float'",
                false,
                false,
                "def parse(p):\n"
            )),
            (CauseClass::TypeConfusion, Intervention::CoerceType)
        );
        assert_eq!(
            classify(shape(
                "ZeroDivisionError",
                "division by zero",
                false,
                false,
                "def count(w):\n"
            )),
            (CauseClass::BadArithmetic, Intervention::FixComputation)
        );
        assert_eq!(
            classify(shape(
                "statistics.StatisticsError",
                "no median for empty data",
                true,
                true,
                "def report():\n"
            )),
            (
                CauseClass::DependencyBehaviour,
                Intervention::HandleDependencyError
            )
        );
        assert_eq!(
            classify(shape("TimeoutError", "", true, true, "")),
            (CauseClass::TimeoutResource, Intervention::AddTimeoutOrLimit)
        );
        assert_eq!(
            classify(shape(
                "KeyError",
                "'platinum'",
                true,
                false,
                "def price(c):\n    if flags.enabled('x'):\n"
            )),
            (CauseClass::ConfigFlagDrift, Intervention::FixConfig)
        );
        assert_eq!(
            classify(shape(
                "IndexError",
                "list index out of range",
                true,
                false,
                "def search():\n"
            )),
            (CauseClass::WrongInputAssumption, Intervention::AddGuard)
        );
    }
}

//! The enum symbols OTTL knows (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, ...): each
//! is an integer, the OTLP enum's value.

/// The value of an enum symbol.
pub fn lookup(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        "METRIC_DATA_TYPE_NONE" => 0,
        "METRIC_DATA_TYPE_GAUGE" => 1,
        "METRIC_DATA_TYPE_SUM" => 2,
        "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "METRIC_DATA_TYPE_SUMMARY" => 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        "FLAG_NONE" => 0,
        "FLAG_NO_RECORDED_VALUE" => 1,
        "SEVERITY_NUMBER_UNSPECIFIED" => 0,
        _ => return severity(name),
    })
}

/// `SEVERITY_NUMBER_TRACE` (1) to `SEVERITY_NUMBER_FATAL4` (24).
fn severity(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let (level, n) = levels.iter().enumerate().find_map(|(i, l)| {
        let suffix = rest.strip_prefix(l)?;
        let n: i64 = match suffix {
            "" => 1,
            "2" => 2,
            "3" => 3,
            "4" => 4,
            _ => return None,
        };
        Some((i as i64, n))
    })?;
    Some(level * 4 + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_follow_the_otlp_enum() {
        assert_eq!(lookup("SEVERITY_NUMBER_TRACE"), Some(1));
        assert_eq!(lookup("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(lookup("SEVERITY_NUMBER_ERROR4"), Some(20));
        assert_eq!(lookup("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(lookup("SEVERITY_NUMBER_INFO5"), None);
        assert_eq!(lookup("SPAN_KIND_SERVER"), Some(2));
        assert_eq!(lookup("NOPE"), None);
    }
}

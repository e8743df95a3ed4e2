//! Strings where otelcol takes strings, whatever YAML typed the value as. An environment
//! reference expands to a typed value (`${env:PORT}` can be a number), so an API key of
//! digits in `headers` arrives as a number; otelcol keeps the text, and so do these
//! deserializers (`#[serde(deserialize_with = "lenient::string_map")]`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, MapAccess, Visitor};

/// A scalar (string, number, boolean) as its text.
struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A string, or a number or boolean taken as its text.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(ScalarText)
}

/// A map of strings whose values may be numbers or booleans (taken as their text);
/// `null` is an empty map.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct MapText;

    impl<'de> Visitor<'de> for MapText {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of names to string values")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key_seed(Seed)? {
                let v = map.next_value_seed(Seed)?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }

    d.deserialize_any(MapText)
}

/// [`string`] as a seed, for map keys and values.
struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        string(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "string_map")]
        headers: BTreeMap<String, String>,
        #[serde(deserialize_with = "string")]
        name: String,
    }

    #[test]
    fn numbers_and_booleans_become_their_text() {
        let t: T = serde_yaml::from_str("headers: {a: 12345, b: true, c: x, 7: 1.5}\nname: 42\n")
            .expect("parses");
        assert_eq!(t.headers["a"], "12345");
        assert_eq!(t.headers["b"], "true");
        assert_eq!(t.headers["c"], "x");
        assert_eq!(t.headers["7"], "1.5");
        assert_eq!(t.name, "42");
    }

    #[test]
    fn a_structure_is_still_refused() {
        let e = serde_yaml::from_str::<T>("headers: {a: [1]}\nname: x\n")
            .err()
            .expect("a list is not a string");
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = serde_yaml::from_str::<T>("headers: [a]\nname: x\n")
            .err()
            .expect("a list is not a map");
        assert!(e.to_string().contains("a mapping of names"), "{e}");
    }
}

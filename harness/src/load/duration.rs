//! Durations as scenario authors write them: `30s`, `500ms`, `2m`,
//! `1m 30s` (humantime syntax), never a bare number, never zero.
//!
//! Owns [`Timeout`], its serde forms and its schema, shared by a scenario's
//! `timeout` and a service's readiness and step limits. It knows nothing
//! of what the limits bound.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration written like `30s`, `500ms` or `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl schemars::JsonSchema for Timeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with a unit, like `30s`, `500ms`, `2m` or `1m 30s` (humantime syntax).",
            "pattern": "^\\s*[0-9]+\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$",
            "examples": ["30s", "500ms", "2m"]
        })
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like 30s, 500ms or 2m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                match humantime::parse_duration(v) {
                    Ok(d) if !d.is_zero() => Ok(Timeout(d)),
                    Ok(_) => Err(E::invalid_value(
                        de::Unexpected::Str(v),
                        &"a duration above zero",
                    )),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timeout, E> {
                Err(E::invalid_type(
                    de::Unexpected::Unsigned(v),
                    &"a duration with a unit, like 30s",
                ))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timeout, E> {
                Err(E::invalid_type(
                    de::Unexpected::Signed(v),
                    &"a duration with a unit, like 30s",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

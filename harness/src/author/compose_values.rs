//! The value forms of Compose keys, read where they stand so that every
//! error is located at the value: scalars as text, commands as lists or
//! shell-split strings, `environment` and `sysctls` as maps or lists,
//! `build`, short and long `volumes`, and values refused or checked in
//! place. Variable interpolation is not done: `${VAR}` is an error, `$$`
//! a `$`. `author::compose` reads service keys with these.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::author::import::{Mount, MountParts, mount_from_parts, split_words};

/// A value that is refused whatever it is, so that the error is located
/// at the value (a key-level error would point at the service's start).
pub struct Refuse(pub String);

impl<'de> de::DeserializeSeed<'de> for Refuse {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(IgnoredAny)?;
        Err(de::Error::custom(self.0))
    }
}

/// A scalar checked where it stands.
pub struct Checked<F>(pub F);

impl<'de, F: Fn(&str) -> Result<(), String>> de::DeserializeSeed<'de> for Checked<F> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let v = Text::deserialize(d)?.0;
        (self.0)(&v).map_err(de::Error::custom)?;
        Ok(v)
    }
}

/// A list of scalars, each checked where it stands.
pub struct Each<F>(pub Checked<F>);

impl<'de, F: Fn(&str) -> Result<(), String>> de::DeserializeSeed<'de> for Each<F> {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        struct V<F>(Checked<F>);
        impl<'de, F: Fn(&str) -> Result<(), String>> Visitor<'de> for V<F> {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element_seed(Checked(&self.0.0))? {
                    out.push(v);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V(self.0))
    }
}

/// Replaces `$$` by `$`; a `$VAR` or `${VAR}` (which Compose would fill
/// from the environment) is an error.
pub fn uninterpolate(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
                out.push('$');
            }
            Some(n) if *n == '{' || *n == '_' || n.is_ascii_alphabetic() => {
                return Err(format!(
                    "{s:?}: Compose would fill in the variable from the environment; parity does not interpolate: write the value (or $$ for a literal $)"
                ));
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

/// A scalar (string, number or boolean) as text, uninterpolated.
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                uninterpolate(v).map(Text).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A command or entrypoint: a list, or a string split into words.
pub struct Words(pub Vec<String>);

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Words;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of words or a command string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Words, E> {
                let v = uninterpolate(v).map_err(E::custom)?;
                split_words(&v).map(Words).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Words, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<Text>()? {
                    out.push(t.0);
                }
                Ok(Words(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or a list of them (`tmpfs`).
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                uninterpolate(v)
                    .map(|v| OneOrMany(vec![v]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<Text>()? {
                    out.push(t.0);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `environment` (`ENV` true) or `sysctls`: a map, or a list of
/// `KEY=VALUE`. A key without a value, which Compose takes from the calling
/// shell, is an error.
pub struct Pairs<const ENV: bool>(pub BTreeMap<String, String>);

fn no_value<E: de::Error>(key: &str, env: bool) -> E {
    match env {
        true => E::custom(format!(
            "environment `{key}` has no value: Compose takes it from the calling shell; write KEY=VALUE"
        )),
        false => E::custom(format!("`{key}` has no value: expected KEY=VALUE")),
    }
}

impl<'de, const ENV: bool> Deserialize<'de> for Pairs<ENV> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const ENV: bool>;
        impl<'de, const ENV: bool> Visitor<'de> for V<ENV> {
            type Value = Pairs<ENV>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of KEY: VALUE or a list of \"KEY=VALUE\" strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<ENV>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Option<Text>>()? {
                    let v = v.ok_or_else(|| no_value::<A::Error>(&k, ENV))?;
                    out.insert(k, v.0);
                }
                Ok(Pairs(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pairs<ENV>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(item) = seq.next_element::<Text>()? {
                    match item.0.split_once('=') {
                        Some((k, v)) if !k.is_empty() => {
                            out.insert(k.to_string(), v.to_string());
                        }
                        Some(_) => {
                            return Err(de::Error::custom(format!(
                                "{:?}: expected KEY=VALUE",
                                item.0
                            )));
                        }
                        None => return Err(no_value(&item.0, ENV)),
                    }
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_any(V::<ENV>)
    }
}

/// `build: DIR` or `build: { context: DIR }` (the default Dockerfile).
pub struct Build(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildLong {
    #[serde(default)]
    context: Option<Text>,
    #[serde(default)]
    dockerfile: Option<Text>,
}

impl<'de> Deserialize<'de> for Build {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Build;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a build folder or { context: DIR }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Build, E> {
                uninterpolate(v).map(Build).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Build, A::Error> {
                let long = BuildLong::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if let Some(f) = long.dockerfile.filter(|f| f.0 != "Dockerfile") {
                    return Err(de::Error::custom(format!(
                        "build dockerfile {:?} cannot be expressed in a parity scenario: `{{ build: DIR }}` builds DIR/Dockerfile",
                        f.0
                    )));
                }
                Ok(Build(
                    long.context.map(|c| c.0).unwrap_or_else(|| ".".into()),
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of `volumes:`, short (`SOURCE:TARGET[:MODE]`) or long.
pub struct Volume(pub Mount);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeLong {
    #[serde(rename = "type", default)]
    kind: Option<Text>,
    #[serde(default)]
    source: Option<Text>,
    #[serde(default)]
    target: Option<Text>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    consistency: Option<Text>,
    #[serde(default)]
    bind: Option<BindLong>,
    #[serde(default)]
    volume: Option<VolumeOpts>,
    #[serde(default)]
    tmpfs: Option<TmpfsLong>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindLong {
    #[serde(default)]
    propagation: Option<Text>,
    #[serde(default)]
    create_host_path: Option<bool>,
    #[serde(default)]
    selinux: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeOpts {
    #[serde(default)]
    nocopy: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TmpfsLong {
    #[serde(default)]
    size: Option<Text>,
    #[serde(default)]
    mode: Option<Text>,
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Volume;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("SOURCE:TARGET[:MODE] or a map with type, source and target")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Volume, E> {
                let v = uninterpolate(v).map_err(E::custom)?;
                let parts: Vec<&str> = v.split(':').collect();
                let ok = match parts.as_slice() {
                    [t] => t.starts_with('/'),
                    [s, t] | [s, t, _] => !s.is_empty() && t.starts_with('/'),
                    _ => false,
                };
                match ok {
                    true => Ok(Volume(Mount::Volume(v))),
                    false => Err(E::custom(format!(
                        "volume {v:?}: expected SOURCE:/TARGET[:MODE] or /TARGET"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Volume, A::Error> {
                let l = VolumeLong::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let _ = l.consistency;
                let bind = l.bind.unwrap_or(BindLong {
                    propagation: None,
                    create_host_path: None,
                    selinux: None,
                });
                let _ = bind.create_host_path;
                let tmpfs = l.tmpfs.unwrap_or(TmpfsLong {
                    size: None,
                    mode: None,
                });
                let propagation = [bind.propagation, bind.selinux]
                    .into_iter()
                    .flatten()
                    .map(|t| t.0)
                    .collect::<Vec<_>>();
                let parts = MountParts {
                    kind: l.kind.map(|t| t.0),
                    source: l.source.map(|t| t.0),
                    target: l.target.map(|t| t.0),
                    read_only: l.read_only.unwrap_or(false),
                    propagation: (!propagation.is_empty()).then(|| propagation.join(",")),
                    nocopy: l.volume.and_then(|v| v.nocopy).unwrap_or(false),
                    tmpfs_size: tmpfs.size.map(|t| t.0),
                    tmpfs_mode: tmpfs.mode.map(|t| t.0),
                };
                mount_from_parts(&parts)
                    .map(Volume)
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("a$$b", Ok("a$b"))]
    #[case("cost: $5", Ok("cost: $5"))]
    #[case("end$", Ok("end$"))]
    #[case("${X}", Err(()))]
    #[case("$HOME/x", Err(()))]
    fn interpolation_is_refused_and_dollars_kept(#[case] s: &str, #[case] want: Result<&str, ()>) {
        assert_eq!(uninterpolate(s).map_err(|_| ()), want.map(str::to_string));
    }
}

//! [`Dict`] and [`Value`]: ordered metadata.

use imageio_plugin_api::Value as AbiValue;
use std::fmt;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (imageio's `None`).
    None,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Integers.
    IntArray(Vec<i64>),
    /// Floats.
    FloatArray(Vec<f64>),
    /// A nested mapping (crosses the plugin ABI as dotted keys).
    Dict(Dict),
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value { fn from($v: $t) -> Value { $e } })*
    };
}
value_from!(
    bool => |v| Value::Bool(v),
    i8 => |v| Value::Int(i64::from(v)),
    i16 => |v| Value::Int(i64::from(v)),
    i32 => |v| Value::Int(i64::from(v)),
    i64 => |v| Value::Int(v),
    isize => |v| Value::Int(v as i64),
    u8 => |v| Value::Int(i64::from(v)),
    u16 => |v| Value::Int(i64::from(v)),
    u32 => |v| Value::Int(i64::from(v)),
    // Beyond i64's range a count becomes a float (the ABI's integers are i64).
    u64 => |v| i64::try_from(v).map_or(Value::Float(v as f64), Value::Int),
    usize => |v| i64::try_from(v).map_or(Value::Float(v as f64), Value::Int),
    f32 => |v| Value::Float(f64::from(v)),
    f64 => |v| Value::Float(v),
    &str => |v| Value::Str(v.to_owned()),
    String => |v| Value::Str(v),
    Vec<u8> => |v| Value::Bytes(v),
    Vec<i64> => |v| Value::IntArray(v),
    Vec<f64> => |v| Value::FloatArray(v),
    Dict => |v| Value::Dict(v),
);

impl Value {
    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if it is one (a float that is a whole number is not).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float: a float, or an integer.
    ///
    /// ```
    /// use imageio::Value;
    /// assert_eq!(Value::from(40u8).as_f64(), Some(40.0));
    /// assert_eq!(Value::from("x").as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if it is bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integers, if it is an integer array.
    pub fn as_int_array(&self) -> Option<&[i64]> {
        match self {
            Value::IntArray(v) => Some(v),
            _ => None,
        }
    }

    /// The floats, if it is a float array.
    pub fn as_float_array(&self) -> Option<&[f64]> {
        match self {
            Value::FloatArray(v) => Some(v),
            _ => None,
        }
    }

    /// The nested mapping, if it is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Whether it is `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::IntArray(v) => write!(f, "{v:?}"),
            Value::FloatArray(v) => write!(f, "{v:?}"),
            Value::Dict(d) => write!(f, "{d}"),
        }
    }
}

/// An insertion-ordered map from string keys to [`Value`]s (imageio's `Dict`,
/// an `OrderedDict`). Setting an existing key keeps its position.
///
/// ```
/// use imageio::{Dict, Value};
/// let mut d = Dict::new();
/// d.insert("b", 1);
/// d.insert("a", "text");
/// d.insert("b", 2.5);
/// assert_eq!(d.keys().collect::<Vec<_>>(), ["b", "a"]);
/// assert_eq!(d.get("b"), Some(&Value::Float(2.5)));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dict {
    entries: Vec<(String, Value)>,
}

impl Dict {
    /// An empty dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key`, keeping its position when it exists; returns the old value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Sets every entry of `other` (imageio's `dict.update`).
    pub fn update(&mut self, other: &Dict) {
        for (k, v) in other.iter() {
            self.insert(k, v.clone());
        }
    }

    /// The entries with nested dicts flattened to dotted keys.
    pub(crate) fn flatten(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        fn walk(prefix: &str, d: &Dict, out: &mut Vec<(String, Value)>) {
            for (k, v) in d.iter() {
                let key = if prefix.is_empty() {
                    k.to_owned()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    Value::Dict(inner) => walk(&key, inner, out),
                    other => out.push((key, other.clone())),
                }
            }
        }
        walk("", self, &mut out);
        out
    }
}

/// `dict["key"]`: the value, or a panic naming the key when it is absent
/// (as a map's indexing does; [`Dict::get`] does not panic).
///
/// ```
/// let mut d = imageio::Dict::new();
/// d.insert("loop", 0);
/// assert_eq!(d["loop"].as_i64(), Some(0));
/// for (key, value) in &d {
///     assert_eq!((key, value.as_i64()), ("loop", Some(0)));
/// }
/// ```
impl std::ops::Index<&str> for Dict {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or_else(|| panic!("no metadata key {key:?}"))
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a str, &'a Value);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Value)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Dict {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl fmt::Display for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k:?}: {v}")?;
        }
        f.write_str("}")
    }
}

/// The conversions between the host's metadata values and the ABI's, in
/// one place: every ABI value is a host value; a host value crosses the ABI
/// unless it is a nested dict (which crosses as dotted keys instead).
impl From<AbiValue> for Value {
    fn from(v: AbiValue) -> Value {
        match v {
            AbiValue::None => Value::None,
            AbiValue::Bool(b) => Value::Bool(b),
            AbiValue::Int(i) => Value::Int(i),
            AbiValue::Float(f) => Value::Float(f),
            AbiValue::Str(s) => Value::Str(s),
            AbiValue::Bytes(b) => Value::Bytes(b),
            AbiValue::IntArray(a) => Value::IntArray(a),
            AbiValue::FloatArray(a) => Value::FloatArray(a),
        }
    }
}

impl TryFrom<Value> for AbiValue {
    type Error = Dict;

    /// A nested dict does not cross the ABI as one value: it comes back.
    fn try_from(v: Value) -> std::result::Result<AbiValue, Dict> {
        Ok(match v {
            Value::None => AbiValue::None,
            Value::Bool(b) => AbiValue::Bool(b),
            Value::Int(i) => AbiValue::Int(i),
            Value::Float(f) => AbiValue::Float(f),
            Value::Str(s) => AbiValue::Str(s),
            Value::Bytes(b) => AbiValue::Bytes(b),
            Value::IntArray(a) => AbiValue::IntArray(a),
            Value::FloatArray(a) => AbiValue::FloatArray(a),
            Value::Dict(d) => return Err(d),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_uses_dotted_keys() {
        let mut inner = Dict::new();
        inner.insert("Orientation", 6);
        let mut d = Dict::new();
        d.insert("exif", inner);
        d.insert("x", true);
        assert_eq!(
            d.flatten(),
            vec![
                ("exif.Orientation".to_owned(), Value::Int(6)),
                ("x".to_owned(), Value::Bool(true))
            ]
        );
    }

    #[test]
    fn remove_keeps_order() {
        let mut d: Dict = [("a", 1), ("b", 2), ("c", 3)].into_iter().collect();
        d.remove("b");
        assert_eq!(d.keys().collect::<Vec<_>>(), ["a", "c"]);
    }
}

//! Just enough of the Kubernetes protobuf encoding to read what kubectl's typed clients send
//! (`kubectl create namespace|configmap|secret` post `application/vnd.kubernetes.protobuf`):
//! the `k8s\0` envelope (`runtime.Unknown`) around a Namespace, ConfigMap or Secret, decoded to
//! JSON. Anything else is refused with 415 by the caller.

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// The media type of Kubernetes protobuf bodies.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a protobuf body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtobufError {
    #[error("not a Kubernetes protobuf body (no k8s\\0 prefix)")]
    NoMagic,
    #[error("truncated or malformed protobuf")]
    Malformed,
    #[error("protobuf bodies of kind {0:?} are not modeled by the simulated cluster; send JSON (e.g. kubectl apply -f)")]
    UnsupportedKind(String),
}

/// One decoded field: number and payload.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Iterates the fields of one message.
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtobufError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(varint(&mut buf)?),
            2 => {
                let len =
                    usize::try_from(varint(&mut buf)?).map_err(|_| ProtobufError::Malformed)?;
                if len > buf.len() {
                    return Err(ProtobufError::Malformed);
                }
                let (data, rest) = buf.split_at(len);
                buf = rest;
                Field::Bytes(data)
            }
            1 => {
                buf = buf.get(8..).ok_or(ProtobufError::Malformed)?;
                continue;
            }
            5 => {
                buf = buf.get(4..).ok_or(ProtobufError::Malformed)?;
                continue;
            }
            _ => return Err(ProtobufError::Malformed),
        };
        out.push((number, field));
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Result<u64, ProtobufError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or(ProtobufError::Malformed)?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtobufError::Malformed)
}

fn string(data: &[u8]) -> Result<String, ProtobufError> {
    String::from_utf8(data.to_vec()).map_err(|_| ProtobufError::Malformed)
}

/// A `map<string, string>` (or bytes, base64-encoded) entry.
fn map_entry(data: &[u8], bytes_value: bool) -> Result<(String, Value), ProtobufError> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(data)? {
        match (n, f) {
            (1, Field::Bytes(b)) => key = string(b)?,
            (2, Field::Bytes(b)) if bytes_value => {
                value = json!(base64::engine::general_purpose::STANDARD.encode(b))
            }
            (2, Field::Bytes(b)) => value = json!(string(b)?),
            _ => {}
        }
    }
    Ok((key, value))
}

fn insert_entry(
    map: &mut Map<String, Value>,
    key: &str,
    data: &[u8],
    bytes: bool,
) -> Result<(), ProtobufError> {
    let (k, v) = map_entry(data, bytes)?;
    map.entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or(ProtobufError::Malformed)?
        .insert(k, v);
    Ok(())
}

/// Inserts a string field; protobuf writes empty strings, JSON leaves them out.
fn put(map: &mut Map<String, Value>, key: &str, value: String) {
    if !value.is_empty() {
        map.insert(key.into(), json!(value));
    }
}

fn object_meta(data: &[u8]) -> Result<Value, ProtobufError> {
    let mut meta = Map::new();
    for (n, f) in fields(data)? {
        match (n, f) {
            (1, Field::Bytes(b)) => {
                put(&mut meta, "name", string(b)?);
            }
            (2, Field::Bytes(b)) => {
                put(&mut meta, "generateName", string(b)?);
            }
            (3, Field::Bytes(b)) => {
                put(&mut meta, "namespace", string(b)?);
            }
            (6, Field::Bytes(b)) => {
                put(&mut meta, "resourceVersion", string(b)?);
            }
            (11, Field::Bytes(b)) => insert_entry(&mut meta, "labels", b, false)?,
            (12, Field::Bytes(b)) => insert_entry(&mut meta, "annotations", b, false)?,
            (14, Field::Bytes(b)) => {
                let list = meta.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(items) = list.as_array_mut() {
                    items.push(json!(string(b)?));
                }
            }
            _ => {}
        }
    }
    Ok(Value::Object(meta))
}

/// Decodes a protobuf body into the JSON object it stands for.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(b"k8s\0").ok_or(ProtobufError::NoMagic)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => api_version = string(b)?,
                        (2, Field::Bytes(b)) => kind = string(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(b)) => {
                object.insert("metadata".into(), object_meta(b)?);
            }
            ("Namespace", 2, Field::Bytes(spec)) => {
                let mut finalizers = Vec::new();
                for (n, f) in fields(spec)? {
                    if let (1, Field::Bytes(b)) = (n, f) {
                        finalizers.push(json!(string(b)?));
                    }
                }
                object.insert("spec".into(), json!({"finalizers": finalizers}));
            }
            ("Namespace", _, _) => {}
            ("ConfigMap", 2, Field::Bytes(b)) => insert_entry(&mut object, "data", b, false)?,
            ("ConfigMap", 3, Field::Bytes(b)) => insert_entry(&mut object, "binaryData", b, true)?,
            ("ConfigMap", 4, Field::Varint(v)) => {
                object.insert("immutable".into(), json!(v != 0));
            }
            ("ConfigMap", _, _) => {}
            ("Secret", 2, Field::Bytes(b)) => insert_entry(&mut object, "data", b, true)?,
            ("Secret", 3, Field::Bytes(b)) => {
                put(&mut object, "type", string(b)?);
            }
            ("Secret", 4, Field::Bytes(b)) => insert_entry(&mut object, "stringData", b, false)?,
            ("Secret", 5, Field::Varint(v)) => {
                object.insert("immutable".into(), json!(v != 0));
            }
            ("Secret", _, _) => {}
            (other, _, _) => return Err(ProtobufError::UnsupportedKind(other.to_string())),
        }
    }
    if !matches!(kind.as_str(), "Namespace" | "ConfigMap" | "Secret") {
        return Err(ProtobufError::UnsupportedKind(kind));
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, data: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, data.len() as u8];
        out.extend_from_slice(data);
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend(field(1, &type_meta));
        body.extend(field(2, raw));
        body
    }

    #[test]
    fn decodes_a_configmap() {
        let labels = [field(1, b"app"), field(2, b"web")].concat();
        let meta = [field(1, b"cm"), field(11, &labels)].concat();
        let data = [field(1, b"a"), field(2, b"b")].concat();
        let raw = [field(1, &meta), field(2, &data)].concat();
        let object = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cm", "labels": {"app": "web"}}, "data": {"a": "b"}})
        );
    }

    #[test]
    fn secrets_are_base64_and_other_kinds_refused() {
        let data = [field(1, b"k"), field(2, b"\x00\x01")].concat();
        let raw = [
            field(1, &field(1, b"s")),
            field(2, &data),
            field(3, b"Opaque"),
        ]
        .concat();
        let object = decode(&envelope("v1", "Secret", &raw)).unwrap();
        assert_eq!(object["data"]["k"], "AAE=");
        assert_eq!(object["type"], "Opaque");
        let err = decode(&envelope(
            "apps/v1",
            "Deployment",
            &field(1, &field(1, b"d")),
        ));
        assert!(matches!(err, Err(ProtobufError::UnsupportedKind(k)) if k == "Deployment"));
        assert_eq!(decode(b"{}"), Err(ProtobufError::NoMagic));
    }
}

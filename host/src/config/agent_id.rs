//! Instance IDs computed exactly as the Datadog Agent's `BuildID`
//! (pkg/collector/check/id), so a conf.d file gets the same IDs under the
//! runner as under the Agent.
//!
//! The Agent's recipe, for a config read by its file provider:
//! - each instance and the `init_config` are re-marshalled with go-yaml v2
//!   (`yaml.Marshal` of the decoded value: sorted keys, go-yaml quoting);
//!   see [`crate::goyaml`]. A missing or null `init_config` stays empty
//!   (zero bytes);
//! - the config's `FastDigest` is murmur3 (x64, 128-bit, seed 0; its first
//!   64 bits, as github.com/twmb/murmur3's `New64`) over: the check name,
//!   every instance's bytes in file order, the `init_config` bytes, the
//!   (empty) AD identifiers, node name, logs config and service ID, and
//!   the text `false` (`ignore_autodiscovery_tags`);
//! - the ID hash is FNV-1 64 (Go's `hash/fnv.New64`, not FNV-1a) over the
//!   digest as 8 big-endian bytes, then the instance bytes, then the
//!   `init_config` bytes;
//! - the ID is `<check>:<hash>` or, when the instance has a non-empty
//!   `name` (else `namespace`), `<check>:<name>:<hash>`, the hash in `%x`
//!   (lower-case hex, no zero padding).
//!
//! Because the digest covers the whole file, the function needs every
//! instance of the file, not only the one being named.
//!
//! Not reproduced (they need data the loader does not keep): a file's
//! `logs:` section or `ignore_autodiscovery_tags: true` (both change the
//! digest); `init_config: {}` written literally (the loader turns a null
//! `init_config` into `{}`, so an empty mapping is treated as null, the
//! common case); `%%env_NAME%%` placeholders (the Agent substitutes them
//! into the already-marshalled text, so quoting can differ); non-string
//! mapping keys (`1:`), and Fargate's extra tags.

use serde_json::Value;

use crate::goyaml;

/// The Agent's instance ID for `instance`, one of `file_instances` (all the
/// instances of its conf.d file, in file order), with the file's
/// `init_config` (`null`, or `{}` as the loader stores a missing one, for
/// none).
pub fn instance_id(
    check: &str,
    instance: &serde_json::Value,
    init_config: &serde_json::Value,
    file_instances: &[serde_json::Value],
) -> String {
    let digest = config_digest(check, file_instances, init_config);
    instance_id_with_digest(check, instance, init_config, digest)
}

/// [`instance_id`] with the file's [`config_digest`] already computed
/// (it is the same for every instance of a file).
pub fn instance_id_with_digest(
    check: &str,
    instance: &serde_json::Value,
    init_config: &serde_json::Value,
    digest: u64,
) -> String {
    let instance_bytes = goyaml::marshal(instance);
    let init_bytes = init_config_bytes(init_config);
    let hash = fnv1_64(&[
        &digest.to_be_bytes(),
        instance_bytes.as_bytes(),
        init_bytes.as_bytes(),
    ]);
    match name_for_instance(instance) {
        Some(name) => format!("{check}:{name}:{hash:x}"),
        None => format!("{check}:{hash:x}"),
    }
}

/// The Agent's `Config.FastDigest()` for a config from a conf.d file with
/// these instances and `init_config` (no logs, no AD identifiers).
pub fn config_digest<'a>(
    check: &str,
    file_instances: impl IntoIterator<Item = &'a Value>,
    init_config: &Value,
) -> u64 {
    let mut bytes = check.as_bytes().to_vec();
    for instance in file_instances {
        bytes.extend_from_slice(goyaml::marshal(instance).as_bytes());
    }
    bytes.extend_from_slice(init_config_bytes(init_config).as_bytes());
    // ADIdentifiers, NodeName, LogsConfig and ServiceID add nothing here.
    bytes.extend_from_slice(b"false");
    murmur3_x64_128(&bytes).0
}

/// The `init_config` as the Agent holds it: nothing when absent or null.
fn init_config_bytes(init_config: &Value) -> String {
    let absent = init_config.is_null() || init_config.as_object().is_some_and(|m| m.is_empty());
    if absent {
        String::new()
    } else {
        goyaml::marshal(init_config)
    }
}

/// `GetNameForInstance`: `name` if it is a non-empty string, else
/// `namespace` (which may be empty: no name).
fn name_for_instance(instance: &Value) -> Option<&str> {
    let field = |key: &str| {
        instance
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    field("name").or_else(|| field("namespace"))
}

/// FNV-1, 64 bits (multiply, then xor), over the concatenated chunks.
fn fnv1_64(chunks: &[&[u8]]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for byte in chunks.iter().flat_map(|c| c.iter()) {
        hash = hash.wrapping_mul(PRIME);
        hash ^= u64::from(*byte);
    }
    hash
}

/// MurmurHash3 x64 128-bit with seed 0 (the `murmur3` crate); returns
/// (h1, h2), the two 64-bit halves: twmb/murmur3's `Sum64` is h1.
fn murmur3_x64_128(data: &[u8]) -> (u64, u64) {
    let hash = murmur3::murmur3_x64_128(&mut std::io::Cursor::new(data), 0)
        .expect("hashing an in-memory buffer cannot fail");
    (hash as u64, (hash >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv1_vectors_from_the_spec() {
        // FNV test suite (Landon Curt Noll): FNV-1 64 of "" is the offset
        // basis, of "a" 0xaf63bd4c8601b7be; FNV-1a of "a" would be
        // 0xaf63dc4c8601ec8c.
        assert_eq!(fnv1_64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1_64(&[b"a"]), 0xaf63_bd4c_8601_b7be);
        assert_eq!(fnv1_64(&[b"foobar"]), 0x340d_8765_a4dd_a9c2);
        // Chunks hash as their concatenation (Go's streaming Write).
        assert_eq!(fnv1_64(&[b"foo", b"", b"bar"]), fnv1_64(&[b"foobar"]));
    }

    #[test]
    fn murmur3_vectors() {
        // Reference values of MurmurHash3_x64_128, seed 0 (as printed by
        // the `mmh3` Python package's hash64).
        assert_eq!(murmur3_x64_128(b""), (0, 0));
        assert_eq!(
            murmur3_x64_128(b"The quick brown fox jumps over the lazy dog"),
            (0xe34b_bc7b_bc07_1b6c, 0x7a43_3ca9_c49a_9347)
        );
    }

    /// A hand-traced ID: conf.d/process.d/conf.yaml with `init_config:`
    /// (null) and one instance `{search_string: [ssh]}`.
    ///
    /// instance bytes  = "search_string:\n- ssh\n"
    /// init bytes      = "" (null)
    /// digest input    = "process" + instance bytes + "" + "false"
    #[test]
    fn hand_traced_id() {
        let instance = json!({"search_string": ["ssh"]});
        let init = json!({});
        assert_eq!(goyaml::marshal(&instance), "search_string:\n- ssh\n");
        let digest = config_digest("process", std::slice::from_ref(&instance), &init);
        assert_eq!(
            digest,
            murmur3_x64_128(b"processsearch_string:\n- ssh\nfalse").0
        );
        assert_eq!(digest, 0x8b67_bd87_9fb3_ee8d);
        let mut input = digest.to_be_bytes().to_vec();
        input.extend_from_slice(b"search_string:\n- ssh\n");
        let hash = fnv1_64(&[&input]);
        assert_eq!(hash, 0x9af0_1e1f_cf4a_b26d);
        assert_eq!(
            instance_id("process", &instance, &init, std::slice::from_ref(&instance)),
            "process:9af01e1fcf4ab26d"
        );
    }

    /// Two named instances and an init_config (values computed with an
    /// independent FNV-1 and the `mmh3` package over the bytes below).
    #[test]
    fn two_instances_with_names_and_init_config() {
        let first = json!({"name": "site", "url": "http://x/", "tags": ["a:b"]});
        let second = json!({"name": "other", "url": "http://y/"});
        let init = json!({"timeout": 5});
        assert_eq!(
            goyaml::marshal(&first),
            "name: site\ntags:\n- a:b\nurl: http://x/\n"
        );
        assert_eq!(goyaml::marshal(&init), "timeout: 5\n");
        let file = [first.clone(), second.clone()];
        assert_eq!(
            config_digest("http_check", &file, &init),
            0xe99b_64cf_07ea_f76b
        );
        assert_eq!(
            instance_id("http_check", &first, &init, &file),
            "http_check:site:88ba01b650632e2c"
        );
        assert_eq!(
            instance_id("http_check", &second, &init, &file),
            "http_check:other:e888856b09ea068b"
        );
    }

    #[test]
    fn name_then_namespace_and_no_zero_padding() {
        let init = Value::Null;
        let named = json!({"name": "web", "namespace": "ns"});
        let id = instance_id("http", &named, &init, std::slice::from_ref(&named));
        assert!(id.starts_with("http:web:"), "{id}");
        let spaced = json!({"name": "", "namespace": "ns"});
        let id = instance_id("http", &spaced, &init, std::slice::from_ref(&spaced));
        assert!(id.starts_with("http:ns:"), "{id}");
        let neither = json!({"name": 5});
        let id = instance_id("http", &neither, &init, std::slice::from_ref(&neither));
        assert_eq!(id.matches(':').count(), 1, "{id}");
        // `%x` drops leading zeros: the hash part is 1 to 16 hex digits.
        let hex = id.rsplit(':').next().unwrap();
        assert!(!hex.starts_with('0') && hex.len() <= 16, "{id}");
    }

    #[test]
    fn every_instance_of_the_file_and_init_config_count() {
        let a = json!({"host": "a"});
        let b = json!({"host": "b"});
        let alone = instance_id("x", &a, &Value::Null, std::slice::from_ref(&a));
        let with_b = instance_id("x", &a, &Value::Null, &[a.clone(), b.clone()]);
        assert_ne!(alone, with_b, "the digest covers the whole file");
        let with_init = instance_id("x", &a, &json!({"timeout": 5}), std::slice::from_ref(&a));
        assert_ne!(alone, with_init);
        // Null and {} are both "no init_config".
        assert_eq!(
            alone,
            instance_id("x", &a, &json!({}), std::slice::from_ref(&a))
        );
        // Key order in the JSON does not matter: go-yaml sorts.
        let reordered: Value = serde_json::from_str(r#"{"port": 1, "host": "a"}"#).unwrap();
        let sorted: Value = serde_json::from_str(r#"{"host": "a", "port": 1}"#).unwrap();
        assert_eq!(
            instance_id(
                "x",
                &reordered,
                &Value::Null,
                std::slice::from_ref(&reordered)
            ),
            instance_id("x", &sorted, &Value::Null, std::slice::from_ref(&sorted))
        );
    }
}

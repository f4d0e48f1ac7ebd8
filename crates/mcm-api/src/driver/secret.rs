//! The secret data handed to a driver: the merged `data` of the MachineClass's
//! `secretRef` and `credentialsSecretRef` (credentials win on key clashes), with the
//! `userData` placeholders already substituted by the controller.
//!
//! The type exists so that secret bytes can never be printed by accident: its
//! `Debug` shows key names and sizes only.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use crate::well_known::user_data;

/// Secret key → bytes. `Debug` never shows values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData {
    entries: BTreeMap<String, Vec<u8>>,
}

/// A key a driver needs is absent or not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretDataError {
    /// The key is not in the merged secret data.
    #[error(
        "secret key {key:?} is missing: add it to the Secret referenced by the MachineClass's secretRef or credentialsSecretRef"
    )]
    Missing {
        /// The key.
        key: String,
    },
    /// The value is not valid UTF-8 text.
    #[error("secret key {key:?} is not valid UTF-8 text")]
    NotUtf8 {
        /// The key.
        key: String,
    },
}

impl SecretData {
    /// Empty data.
    pub fn new() -> SecretData {
        SecretData::default()
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// The value of a key as UTF-8 text, with an error naming the key when it is
    /// missing or not text (the error never contains the value).
    pub fn get_str(&self, key: &str) -> Result<&str, SecretDataError> {
        let bytes = self.get(key).ok_or_else(|| SecretDataError::Missing {
            key: key.to_owned(),
        })?;
        std::str::from_utf8(bytes).map_err(|_| SecretDataError::NotUtf8 {
            key: key.to_owned(),
        })
    }

    /// The `userData` value.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.get(user_data::KEY)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Sets a key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.insert(key.into(), value.into());
    }

    /// The key names.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Merges `other` over `self` (keys of `other` win), as the controller merges the
    /// credentials secret over the secret.
    pub fn merge_from(&mut self, other: &SecretData) {
        for (key, value) in &other.entries {
            self.entries.insert(key.clone(), value.clone());
        }
    }

    /// The `data` of a Kubernetes Secret (`stringData` is write-only and ignored).
    pub fn from_secret(secret: &Secret) -> SecretData {
        let entries = secret
            .data
            .as_ref()
            .map(|data| {
                data.iter()
                    .map(|(key, value)| (key.clone(), value.0.clone()))
                    .collect()
            })
            .unwrap_or_default();
        SecretData { entries }
    }

    /// A Secret with only `data` set, as MCM passes it to Go drivers.
    pub fn to_secret(&self) -> Secret {
        Secret {
            data: Some(
                self.entries
                    .iter()
                    .map(|(key, value)| (key.clone(), ByteString(value.clone())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for SecretData {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        SecretData {
            entries: iter
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.entries {
            map.entry(key, &format_args!("<redacted, {} bytes>", value.len()));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values() {
        let data: SecretData = [("token", "s3cr3t-canary"), ("userData", "#!/bin/sh")]
            .into_iter()
            .collect();
        let printed = format!("{data:?} {data:#?}");
        assert!(!printed.contains("s3cr3t-canary"));
        assert!(!printed.contains("#!/bin/sh"));
        assert!(printed.contains("token"));
        assert!(printed.contains("13 bytes"));
    }

    #[test]
    fn credentials_win_on_merge() {
        let mut data: SecretData = [("userData", "a"), ("token", "old")].into_iter().collect();
        let credentials: SecretData = [("token", "new")].into_iter().collect();
        data.merge_from(&credentials);
        assert_eq!(data.get_str("token").unwrap(), "new");
        assert_eq!(data.get_str("userData").unwrap(), "a");
    }

    #[test]
    fn missing_and_binary_keys_are_named_without_values() {
        let mut data = SecretData::new();
        data.insert("bin", vec![0xff, 0xfe]);
        let missing = data.get_str("apiToken").unwrap_err().to_string();
        assert!(missing.contains("\"apiToken\""), "{missing}");
        assert!(missing.contains("secretRef"), "{missing}");
        let binary = data.get_str("bin").unwrap_err().to_string();
        assert!(binary.contains("\"bin\"") && binary.contains("UTF-8"));
    }

    #[test]
    fn converts_from_and_to_kubernetes_secrets() {
        let data: SecretData = [("userData", "x")].into_iter().collect();
        let secret = data.to_secret();
        assert!(secret.metadata.name.is_none());
        assert_eq!(SecretData::from_secret(&secret), data);
        assert!(SecretData::from_secret(&Secret::default()).is_empty());
    }
}

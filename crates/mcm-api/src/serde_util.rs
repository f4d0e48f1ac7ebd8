//! Serde helpers for Go-written objects.
//!
//! Go emits `null` for nil slices/maps without `omitempty` and for zero `metav1.Time`
//! inside structs that are always emitted; the API server may prune them, but clients
//! and requests still carry them. Readers must treat `null` like an absent field.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `skip_serializing_if` for Go's `omitempty` on strings, slices and maps.
pub(crate) fn is_empty<T: IsEmpty + ?Sized>(value: &T) -> bool {
    value.is_empty_value()
}

/// What Go's `omitempty` considers empty.
pub(crate) trait IsEmpty {
    fn is_empty_value(&self) -> bool;
}

impl IsEmpty for String {
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V> IsEmpty for std::collections::BTreeMap<K, V> {
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

/// Go's `omitempty` for integers and bools.
pub(crate) fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}

/// Go's `omitempty` for integers.
pub(crate) fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

/// Go's `omitempty` for bools.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// Declares a string-valued Go enum: the known values as variants, plus `Other` so
/// that a value written by a newer MCM survives a read-modify-write unchanged.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know; kept verbatim.
            Other(String),
        }

        impl $name {
            /// The exact string MCM uses.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }

            /// Parses the exact (case-sensitive) string; unknown values become `Other`.
            pub fn from_text(text: &str) -> $name {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
                Ok($name::from_text(&text))
            }
        }
    };
}

pub(crate) use string_enum;

/// Implements the k8s-openapi resource traits (and with them kube's `Resource`) for a
/// namespaced `machine.sapcloud.io/v1alpha1` kind.
macro_rules! machine_resource {
    ($kind:ident, $plural:literal, $list_kind:literal) => {
        impl k8s_openapi::Resource for $kind {
            const API_VERSION: &'static str = $crate::v1alpha1::API_VERSION;
            const GROUP: &'static str = $crate::v1alpha1::GROUP;
            const KIND: &'static str = stringify!($kind);
            const VERSION: &'static str = $crate::v1alpha1::VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::ListableResource for $kind {
            const LIST_KIND: &'static str = $list_kind;
        }

        impl k8s_openapi::Metadata for $kind {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}

pub(crate) use machine_resource;

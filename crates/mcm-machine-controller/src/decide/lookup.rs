//! The result of reading an object from a cache or the API.

/// A read that can find the object, not find it, or fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// The object.
    Found(T),
    /// No such object.
    NotFound,
    /// The read failed (not a not-found); the text is for descriptions and logs.
    Failed(String),
}

impl<T> Lookup<T> {
    /// The object, if found.
    pub fn found(self) -> Option<T> {
        match self {
            Lookup::Found(value) => Some(value),
            Lookup::NotFound | Lookup::Failed(_) => None,
        }
    }

    /// Borrows the object.
    pub fn as_ref(&self) -> Lookup<&T> {
        match self {
            Lookup::Found(value) => Lookup::Found(value),
            Lookup::NotFound => Lookup::NotFound,
            Lookup::Failed(error) => Lookup::Failed(error.clone()),
        }
    }

    /// From an optional value (a cache read that cannot fail).
    pub fn from_option(value: Option<T>) -> Lookup<T> {
        value.map_or(Lookup::NotFound, Lookup::Found)
    }
}

/// Why a write failed, as far as the decisions care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// HTTP 409: the object changed since it was read.
    Conflict,
    /// HTTP 404: the object is gone.
    NotFound,
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Conflict => f.write_str("the object has been modified (conflict)"),
            WriteError::NotFound => f.write_str("the object was not found"),
            WriteError::Other(text) => f.write_str(text),
        }
    }
}

/// The result of a write: the object as stored, or why not.
pub type WriteResult<T> = Result<T, WriteError>;

/// The retry after a failed status or metadata write: `Conflict` on 409, else `Short`.
pub fn retry_after_write_error(error: &WriteError) -> crate::retry::Retry {
    match error {
        WriteError::Conflict => crate::retry::Retry::Conflict,
        WriteError::NotFound | WriteError::Other(_) => crate::retry::Retry::Short,
    }
}

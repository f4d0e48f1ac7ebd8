//! §10.4 Deletion (D1–D50).

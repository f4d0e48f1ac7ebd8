//! §10.3 Health (H1–H33).

//! The tracemend collector core.

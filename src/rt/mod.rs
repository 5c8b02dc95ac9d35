//! Process runtime.

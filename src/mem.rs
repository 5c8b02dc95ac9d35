//! Memory routines.

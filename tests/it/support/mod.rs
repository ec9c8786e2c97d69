//! Test support: the real tansu broker, an in-process Schema Registry, the retailgen binary.

pub mod cmd;
pub mod decode;
pub mod kafka;
pub mod pg;
pub mod registry;
pub mod tansu;

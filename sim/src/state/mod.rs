//! The simulated core's state: the dataset (model, demo, generate), the store that holds it, the
//! class tree that reads and changes it (path, tree, batch), the engine that runs one request
//! against it, and the write-ahead log that makes every change durable before its reply (wal).

pub mod batch;
pub mod demo;
pub mod engine;
pub mod generate;
pub mod model;
pub mod path;
pub mod store;
pub mod tree;
pub mod wal;

pub use engine::Engine;
pub use model::Dataset;
pub use store::Store;

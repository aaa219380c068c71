//! The engine's bottom layer: the graph IR and its passes, tensors, what a run takes and
//! returns. It depends on nothing else of the crate.

mod activation;
mod class_stats;
pub mod graph;
mod network;
mod npy;
pub mod passes;
mod report;
mod run;
mod tensor;
mod tolerance;

pub use class_stats::{class_of_folder, BlockClassStats, ClassStats, ClassStatsSums};
pub use graph::{BinaryOp, Graph, GraphBuilder, GraphError, Op, SeBlock};
pub use network::{
    Activation, Block, Conv2d, ConvGeometry, Layer, Linear, Network, Padding, Pool, PoolKind,
    Residual, SqueezeExcite,
};
pub use npy::{read_npy, NpyError};
pub use report::{top_k, Excitation, Prediction, Report, Timings};
pub use run::{
    softmax, ExcitationTap, FeatureMapTap, GateOverride, RunError, RunOptions, RunOutput,
};
pub use tensor::Tensor;
pub use tolerance::{max_abs_diff, Mismatch, Tolerance};

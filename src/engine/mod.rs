//! The engine: the network, its taps, and the backends that run it.

mod activation;
mod backend;
mod class_stats;
mod network;
mod npy;
mod report;
mod run;
mod tensor;
mod tolerance;

pub use backend::{Backend, BackendPreference};
pub use class_stats::{class_of_folder, BlockClassStats, ClassStats, ClassStatsSums};
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

//! The engine's bottom layer: the graph IR and its passes, tensors, what a run takes and
//! returns. It depends on nothing else of the crate.

mod activation;
pub(crate) use activation::with_formula;
mod class_stats;
pub mod graph;
mod interventions;
mod npy;
mod ops;
pub mod passes;
mod report;
mod run;
mod saturation;
mod tensor;
mod tolerance;

pub use class_stats::{class_of_folder, BlockClassStats, ClassStats, ClassStatsSums};
pub use graph::{BinaryOp, Graph, GraphBuilder, GraphError, Op, SeBlock};
pub use interventions::{
    predicted, Baseline, Intervention, InterventionResult, InterventionSums, Plan, Reach,
    Replacement, INTERVENTIONS_PER_BLOCK,
};
pub use npy::{read_npy, NpyError};
pub use ops::{
    nearest_scale, nearest_source, Activation, Conv2d, ConvGeometry, Linear, Padding, Pool,
    PoolKind, Slope,
};
pub use report::{top_k, Excitation, Prediction, Report, Scores, Timings};
pub use run::{
    softmax, ExcitationTap, FeatureMapTap, GateOverride, RunError, RunOptions, RunOutput,
};
pub use saturation::{Saturation, SaturationSums};
pub use tensor::Tensor;
pub use tolerance::{max_abs_diff, Mismatch, Tolerance};

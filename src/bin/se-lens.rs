//! `se-lens`: classify images or tensors with an SE network and print every SE gate.
//!
//! `se-lens --help` lists the commands, `se-lens <command> --help` their flags. `--backend gpu`
//! runs on wgpu (Vulkan); when that fails the run completes on the CPU and the reason is printed
//! (stderr, and `fallback_reason` in the JSON).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use se_lens::engine::{
    class_of_folder, read_npy, top_k, Activation, Baseline, ClassStatsSums, Excitation,
    InterventionSums, Plan, Report, RunOptions, SaturationSums, Tensor, Timings,
};
use se_lens::exec::region::{ImageRegions, RegionSums};
use se_lens::model::{ChannelOrder, Model, OnnxOptions};
use se_lens::runtime::{Backend, BackendPreference};
use se_lens::{cpu, exec, preprocess};

/// Squeeze-and-Excitation networks with every channel's excitation exposed.
///
/// A model is a folder in timm's hub layout: `config.json` + `model.safetensors` (f32, f16 or
/// bf16), as `timm.models.save_for_hf(model, dir, safe_serialization=True)` writes it; or an
/// `.onnx` file, whose SE blocks are found by what they compute.
#[derive(Parser)]
#[command(name = "se-lens", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images (or one preprocessed tensor) and print the top-k and every SE block's gate.
    Classify(ClassifyArgs),
    /// Classify a labelled image folder: accuracy, confusion matrix, each class's mean gates and
    /// each block's saturation, as one JSON object; with `--interventions`, also what replacing
    /// each block's gates does to the accuracy.
    Evaluate(EvaluateArgs),
    /// Time the forward pass on a fixed input, as one JSON line (what `make bench` runs).
    Bench(BenchArgs),
    /// Describe a model as SE Lens reads it (input, classes, GFLOPs, every SE block) and the
    /// backend it would run on, without running it.
    Probe(ProbeArgs),
}

#[derive(Args, Clone)]
struct ModelArg {
    /// The model: a folder (`config.json` + `model.safetensors`) or an `.onnx` file (external
    /// data files beside it).
    #[arg(long, value_name = "DIR|FILE.onnx")]
    model: PathBuf,
    /// ONNX only: how to prepare images, as JSON (`{"input_size": [224, 224], "mean": […],
    /// "std": […], "scale": 255, "interpolation": "bicubic", "crop_pct": 0.875, "labels": […]}`);
    /// unset keys are ImageNet's. The flags below override it.
    #[arg(long, value_name = "FILE.json")]
    preprocess: Option<PathBuf>,
    /// ONNX only: the input's height and width when the file leaves them open (`224`, `256x192`).
    #[arg(long, value_name = "N|HxW", value_parser = OnnxOptions::parse_size)]
    input_size: Option<[usize; 2]>,
    /// ONNX only: the normalisation's mean per channel (`0.485,0.456,0.406`).
    #[arg(long, value_delimiter = ',', value_name = "M,…")]
    mean: Option<Vec<f32>>,
    /// ONNX only: the normalisation's standard deviation per channel.
    #[arg(long, value_delimiter = ',', value_name = "S,…")]
    std: Option<Vec<f32>>,
    /// ONNX only: `--mean` and `--std` are on pixels 0–`SCALE` (255 for 0–255; default 1).
    #[arg(long, value_name = "SCALE")]
    scale: Option<f32>,
    /// ONNX only: how images are resized (`bilinear`, the default, or `bicubic`).
    #[arg(long, value_name = "bilinear|bicubic")]
    interpolation: Option<String>,
    /// ONNX only: the centre crop's share of the resized image (default 0.875).
    #[arg(long, value_name = "FRACTION")]
    crop_pct: Option<f64>,
    /// ONNX only: the model takes B, G, R channels (`--mean` and `--std` in that order too).
    #[arg(long)]
    bgr: bool,
    /// ONNX only: class names, one per line (or a JSON list).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
}

#[derive(Args)]
struct BackendArg {
    /// `cpu`, `gpu` (any adapter, software ones included) or `auto` (a hardware GPU, else the CPU).
    #[arg(long, value_name = "cpu|gpu|auto", default_value = "cpu", value_parser = backend_preference)]
    backend: BackendPreference,
}

#[derive(Args)]
struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Images (PNG or JPEG), preprocessed exactly as timm's eval transform does.
    #[arg(
        value_name = "IMAGE",
        required_unless_present = "tensor",
        conflicts_with = "tensor"
    )]
    images: Vec<PathBuf>,
    /// Instead of images: one normalised NCHW input, `[1, C, H, W]` float32 `.npy`.
    #[arg(long, value_name = "X.npy")]
    tensor: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArg,
    /// How many classes to list.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    top: u32,
    /// One JSON object per input instead of text (its shape: ARCHITECTURE.md, "The CLI").
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    #[command(flatten)]
    model: ModelArg,
    /// `ROOT/<class>/*.png|jpg`, `<class>` a class index or a label name (`/` written as `_`).
    #[arg(long, value_name = "ROOT")]
    images: PathBuf,
    /// At most this many images per class.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Also run every SE block with its gates replaced (by ones, the dataset's mean gate, the
    /// predicted class's mean gate, or the image's own gates permuted), alone and together with
    /// every later block: accuracy and mean change of the true class's logit for each. About
    /// 8 × blocks + 1 runs per image.
    #[arg(long)]
    interventions: bool,
    /// The seed of `--interventions`' channel permutations.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        requires = "interventions"
    )]
    seed: u64,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArg,
    /// The input's height and width.
    #[arg(long, value_name = "N", default_value_t = 224, value_parser = clap::value_parser!(u32).range(1..))]
    size: u32,
    /// Timed runs (after two warm-up runs); the median is reported.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// A second model (a folder or an `.onnx` file, read as `--model` is) timed alternately with
    /// the first, run for run, so that both see the same moment of a noisy machine: adds its
    /// median and the median of the pairs' ratios (first / second) to the line.
    #[arg(long, value_name = "DIR|FILE.onnx")]
    versus: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArg,
}

#[derive(Args)]
struct ProbeArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    backend: BackendArg,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify(&args),
        Command::Evaluate(args) => evaluate(&args),
        Command::Bench(args) => bench(&args),
        Command::Probe(args) => probe(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("se-lens: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A failure a user can act on; printed after `se-lens: `.
type Failed = String;

fn failed(error: impl std::fmt::Display) -> Failed {
    error.to_string()
}

fn load_model(arg: &ModelArg) -> Result<Model, Failed> {
    let options = match &arg.preprocess {
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => OnnxOptions::default(),
    };
    let flags = OnnxOptions {
        input_size: arg.input_size,
        mean: arg.mean.clone(),
        std: arg.std.clone(),
        scale: arg.scale,
        interpolation: arg.interpolation.clone(),
        crop_pct: arg.crop_pct,
        labels: None,
        channel_order: arg.bgr.then_some(ChannelOrder::Bgr),
    };
    let mut options = flags.or(options);
    if let Some(path) = &arg.labels {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        options.labels = Some(OnnxOptions::parse_labels(&text));
    }
    let is_folder = arg.model.is_dir();
    let onnx_only =
        arg.preprocess.is_some() || options != OnnxOptions::default() || arg.labels.is_some();
    if is_folder && onnx_only {
        return Err("--preprocess, --input-size, --mean, --std, --scale, --interpolation, --crop-pct, --bgr and --labels are for .onnx files; a model folder's config.json says these".into());
    }
    Model::load(&arg.model, &options).map_err(failed)
}

fn classify(args: &ClassifyArgs) -> Result<(), Failed> {
    let started = Instant::now();
    let model = load_model(&args.model)?;
    let backend = pollster::block_on(Backend::new(&model.graph, args.backend.backend));
    let load = elapsed_ms(started);
    let inputs: Vec<&PathBuf> = args.tensor.iter().chain(&args.images).collect();
    for path in inputs {
        let started = Instant::now();
        let input = match args.tensor {
            Some(_) => load_tensor(path, &model)?,
            None => load_image(path, &model)?,
        };
        let preprocess = elapsed_ms(started);
        let started = Instant::now();
        let output = pollster::block_on(backend.run(&model.graph, &input, &RunOptions::default()))
            .map_err(failed)?;
        let forward = elapsed_ms(started);
        let (adapter, fallback) = (backend.adapter(), backend.fallback_reason());
        if let Some(reason) = &fallback {
            eprintln!("se-lens: ran on the CPU: {reason}");
        }
        let input_name = path.display().to_string();
        let top = top_k(
            &output.logits,
            model.scores,
            &model.labels,
            args.top as usize,
        );
        let report = Report {
            model: &model.config.architecture,
            input: &input_name,
            backend: backend.name(),
            adapter: adapter.as_deref(),
            fallback_reason: fallback.as_deref(),
            top: &top,
            logits: &output.logits,
            excitations: Excitation::of(&output.excitations),
            timings_ms: Some(Timings {
                load,
                preprocess,
                forward,
            }),
        };
        if args.json {
            println!("{}", report.to_json());
        } else {
            print_text(&report, forward);
        }
    }
    Ok(())
}

fn print_text(report: &Report, forward_ms: f64) {
    println!(
        "{} ({}, {} in {forward_ms:.1} ms)",
        report.input, report.model, report.backend
    );
    for p in report.top {
        println!("  {:6.2}%  {:4}  {}", p.prob * 100.0, p.index, p.label);
    }
    for tap in &report.excitations {
        let (min, max) = tap
            .values
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let mean = tap.values.iter().sum::<f32>() / tap.values.len() as f32;
        println!(
            "  {:<22} {:4} channels  gate min {min:.3}  mean {mean:.3}  max {max:.3}",
            tap.block,
            tap.values.len()
        );
    }
}

fn load_tensor(path: &Path, model: &Model) -> Result<Tensor, Failed> {
    let bytes =
        std::fs::read(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
    let (shape, data) = read_npy(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let shape: [usize; 4] = shape.try_into().map_err(|shape: Vec<usize>| {
        failed(format!(
            "{}: shape {shape:?}; expected [1, {}, H, W] (one NCHW image, already normalised)",
            path.display(),
            model.graph.in_channels()
        ))
    })?;
    model
        .graph
        .check_input(shape)
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    if shape[0] != 1 {
        return Err(failed(format!(
            "{}: batch of {}; give one image per file",
            path.display(),
            shape[0]
        )));
    }
    Ok(Tensor::new(shape, data))
}

fn load_image(path: &Path, model: &Model) -> Result<Tensor, Failed> {
    let bytes =
        std::fs::read(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
    let image =
        preprocess::decode(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let seen = preprocess::adapt_photo(&image, &model.config);
    preprocess::preprocess(&seen, &model.config.pretrained_cfg)
        .map_err(|e| failed(format!("{}: {e}", path.display())))
}

/// Classifies a labelled image folder (`ROOT/<class>/*.png|jpg`, `<class>` a class index or a
/// label name, `/` in names written as `_`) and prints one JSON object: accuracy, the confusion
/// matrix (rows: true class, columns: predicted), every image's predicted class (in class, then
/// file name order), every SE block's mean gate per channel for each true class and over all
/// images, and each block's saturation; with `--interventions`, what replacing each block's gates
/// does (`engine::Plan`).
fn evaluate(args: &EvaluateArgs) -> Result<(), Failed> {
    let (root, limit) = (&args.images, args.limit.map_or(usize::MAX, |n| n as usize));
    let started = Instant::now();
    let model = load_model(&args.model)?;
    let samples = labelled_images(root, &model.labels, limit)?;
    if samples.is_empty() {
        return Err(failed(format!("no images under {}", root.display())));
    }
    let results = cpu::map_items(&samples, |(class, path)| {
        let input = load_image(path, &model)?;
        let output =
            exec::cpu::forward(&model.graph, &input, &RunOptions::default()).map_err(failed)?;
        Ok(Baseline {
            class: *class,
            logits: output.logits,
            excitations: output.excitations,
        })
    })
    .into_iter()
    .collect::<Result<Vec<_>, Failed>>()?;

    let classes = model.labels.len();
    let blocks = model.graph.se_block_names();
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut stats = ClassStatsSums::new(classes);
    let mut saturation = SaturationSums::default();
    for image in &results {
        confusion[image.class][image.predicted()] += 1;
        stats.add(image.class, &image.excitations);
        saturation.add(&image.excitations);
    }
    let stats = stats.finish();
    let gate_functions = model.graph.gate_functions();
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    let mut report = serde_json::json!({
        "model": model.config.architecture,
        "images": results.len(),
        "correct": correct,
        "accuracy": correct as f64 / results.len() as f64,
        "labels": model.labels,
        "class_counts": stats.class_counts,
        "confusion": confusion,
        "predictions": results.iter().map(Baseline::predicted).collect::<Vec<_>>(),
        "excitations": stats.blocks,
        "saturation": saturation.finish(&gate_functions),
    });
    if args.interventions {
        let plan = Plan::new(&blocks, &results, classes, args.seed);
        // Each image decoded again rather than kept: a thousand 224² inputs would take 600 MB.
        let images: Vec<_> = samples.iter().zip(&results).collect();
        let runs = cpu::map_items(&images, |((_, path), image)| {
            let input = load_image(path, &model)?;
            plan.interventions
                .iter()
                .map(|&intervention| {
                    let options = plan.options(intervention, image);
                    exec::cpu::forward(&model.graph, &input, &options)
                        .map(|output| output.logits)
                        .map_err(failed)
                })
                .collect::<Result<Vec<_>, Failed>>()
        });
        let mut sums = InterventionSums::new(&plan);
        for (image, logits) in results.iter().zip(runs) {
            sums.add(image, &logits?);
        }
        report["interventions"] = serde_json::json!({
            "seed": plan.seed,
            "permutations": (0..blocks.len()).map(|b| plan.permutation(b)).collect::<Vec<_>>(),
            "results": sums.finish(&plan),
        });
        // The squeeze-region probe's summary: each block's squeeze over each half of the image.
        let graph = &model.graph;
        let measured = cpu::map_items(&samples, |(_, path)| {
            let input = load_image(path, &model)?;
            let mut blocks = Vec::with_capacity(graph.se_blocks.len());
            for (b, se) in graph.se_blocks.iter().enumerate() {
                let options = RunOptions {
                    feature_map: Some(se.name.clone()),
                    ..RunOptions::default()
                };
                let output = exec::cpu::forward(graph, &input, &options).map_err(failed)?;
                let map = output
                    .feature_map
                    .expect("the feature map was asked for")
                    .map;
                // A block whose gate the probe cannot recompute has no summary.
                blocks.extend(ImageRegions::measure(graph, se, &map, plan.dataset_mean(b)).ok());
            }
            Ok::<_, Failed>(blocks)
        });
        let mut regions = RegionSums::default();
        for image in measured {
            image?.into_iter().for_each(|block| regions.add(block));
        }
        report["regions"] = serde_json::to_value(regions.finish()).expect("plain data");
    }
    report["seconds"] = started.elapsed().as_secs_f64().into();
    println!("{report}");
    Ok(())
}

/// `(class, path)` for every image under `root/<class>/`, sorted by class then name, at most
/// `limit` per class.
fn labelled_images(
    root: &Path,
    labels: &[String],
    limit: usize,
) -> Result<Vec<(usize, PathBuf)>, Failed> {
    let read_dir = |dir: &Path| {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| failed(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        Ok::<_, Failed>(entries)
    };
    let mut samples = Vec::new();
    for dir in read_dir(root)?.into_iter().filter(|p| p.is_dir()) {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let class = class_of_folder(&name, labels).ok_or_else(|| {
            failed(format!(
                "{}: not a class index below {} or a label name of the model",
                dir.display(),
                labels.len()
            ))
        })?;
        let images = read_dir(&dir)?.into_iter().filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        });
        samples.extend(images.take(limit).map(|p| (class, p)));
    }
    Ok(samples)
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn backend_preference(text: &str) -> Result<BackendPreference, String> {
    BackendPreference::parse(text).ok_or_else(|| "expected cpu, gpu or auto".into())
}

/// Times the forward pass on a fixed random input; prints one JSON line (used by `make bench`).
/// On the GPU a run is everything from upload to readback; it fails rather than fall back.
fn bench(args: &BenchArgs) -> Result<(), Failed> {
    let (size, runs) = (args.size as usize, args.runs as usize);
    let timed = Timed::new(&args.model, size, args.backend.backend)?;
    let versus = match &args.versus {
        Some(path) => {
            let arg = ModelArg {
                model: path.clone(),
                ..args.model.clone()
            };
            Some(Timed::new(&arg, size, args.backend.backend)?)
        }
        None => None,
    };
    // Two warm-up runs (of each), then `runs` timed ones, the second model right after the first.
    let (mut times, mut versus_times) = (Vec::new(), Vec::new());
    for run in 0..2 + runs {
        let time = timed.run()?;
        let versus_time = versus.as_ref().map(Timed::run).transpose()?;
        if run >= 2 {
            times.push(time);
            versus_times.extend(versus_time);
        }
    }
    let (median, min) = median_and_min(times.clone());
    let gflop = 2.0 * timed.model.graph.macs(size, size) as f64 / 1e9;
    let mut line = serde_json::json!({
        "model": timed.model.config.architecture,
        "backend": timed.backend.name(),
        "adapter": timed.backend.adapter(),
        "size": size,
        "runs": runs,
        "threads": cpu::thread_count(),
        "median_ms": median,
        "min_ms": min,
        "gflop": gflop,
        "gflops_per_s": gflop / (median / 1e3),
    });
    if let Some(versus) = &versus {
        let mut ratios: Vec<f64> = times
            .iter()
            .zip(&versus_times)
            .map(|(a, b)| a / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let quantile = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        line["versus"] = versus.model.config.architecture.clone().into();
        line["versus_median_ms"] = median_and_min(versus_times).0.into();
        line["ratio_median"] = quantile(0.5).into();
        line["ratio_p10"] = quantile(0.1).into();
        line["ratio_p90"] = quantile(0.9).into();
    }
    println!("{line}");
    Ok(())
}

/// A model, its backend and a fixed input (a pattern, doubled), for `bench`.
struct Timed {
    model: Model,
    backend: Backend,
    input: Tensor,
}

impl Timed {
    fn new(arg: &ModelArg, size: usize, preference: BackendPreference) -> Result<Self, Failed> {
        let model = load_model(arg)?;
        let mut input = Tensor::pattern([1, model.graph.in_channels(), size, size]);
        input.data.iter_mut().for_each(|v| *v *= 2.0);
        let backend = pollster::block_on(Backend::new(&model.graph, preference));
        Ok(Self {
            model,
            backend,
            input,
        })
    }

    /// One forward pass's time (ms), from input to logits and gates.
    fn run(&self) -> Result<f64, Failed> {
        let options = RunOptions::default();
        let started = Instant::now();
        pollster::block_on(self.backend.run(&self.model.graph, &self.input, &options))
            .map_err(failed)?;
        match self.backend.fallback_reason() {
            Some(reason) => Err(failed(format!("the GPU is not usable: {reason}"))),
            None => Ok(elapsed_ms(started)),
        }
    }
}

/// The median and the least of `times`.
fn median_and_min(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

/// One JSON object: the model as SE Lens reads it, and where it would run.
fn probe(args: &ProbeArgs) -> Result<(), Failed> {
    let model = load_model(&args.model)?;
    let graph = &model.graph;
    let [channels, height, width] = model.config.pretrained_cfg.input_size;
    let backend = pollster::block_on(Backend::new(graph, args.backend.backend));
    let name = |act: Activation| format!("{act:?}").to_lowercase();
    let se_blocks: Vec<_> = graph
        .se_blocks
        .iter()
        .map(|se| {
            let excitation = graph.excitation(se);
            serde_json::json!({
                "block": se.name,
                "channels": se.channels,
                "reduced": excitation.map(|e| e.fc1.out_features),
                "act": excitation.map(|e| name(e.fc1.act)),
                "gate": graph.gate_function(se).map(name),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "model": model.config.architecture,
            "input_size": [channels, height, width],
            "classes": model.labels.len(),
            "nodes": graph.nodes.len(),
            "stages": graph.stages.len(),
            "gflop": 2.0 * graph.macs(height, width) as f64 / 1e9,
            "se_blocks": se_blocks,
            "backend": backend.name(),
            "adapter": backend.adapter(),
            "fallback_reason": backend.fallback_reason(),
        })
    );
    Ok(())
}

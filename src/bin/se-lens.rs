//! `se-lens`: classify images or tensors with an SE network and print every SE gate.
//!
//! ```text
//! se-lens classify --model DIR (--tensor X.npy | IMAGE...) [--backend cpu|gpu|auto] [--top K] [--json]
//! se-lens evaluate --model DIR --images ROOT [--limit N]
//! se-lens bench --model DIR [--size N] [--runs N] [--backend cpu|gpu]
//! ```
//!
//! `--backend gpu` runs on wgpu (Vulkan); when that fails the run completes on the CPU and the
//! reason is printed (stderr, and `fallback_reason` in the JSON).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use se_lens::engine::{
    class_of_folder, read_npy, softmax, Backend, BackendPreference, ClassStatsSums, RunOptions,
    Tensor,
};
use se_lens::model::Model;
use se_lens::{cpu, preprocess};

const USAGE: &str = "usage:
  se-lens classify --model DIR (--tensor X.npy | IMAGE...) [--backend cpu|gpu|auto] [--top K] [--json]
  se-lens evaluate --model DIR --images ROOT [--limit N]
  se-lens bench --model DIR [--size N] [--runs N] [--backend cpu|gpu]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("classify") => parse_classify(&args[1..]).and_then(|request| classify(&request)),
        Some("evaluate") => evaluate(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(CliError::Usage("expected a command".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(message)) => {
            eprintln!("se-lens: {message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(message)) => {
            eprintln!("se-lens: {message}");
            ExitCode::FAILURE
        }
    }
}

enum CliError {
    Usage(String),
    Failed(String),
}

fn failed(error: impl std::fmt::Display) -> CliError {
    CliError::Failed(error.to_string())
}

struct ClassifyRequest {
    model: PathBuf,
    tensor: Option<PathBuf>,
    images: Vec<PathBuf>,
    backend: BackendPreference,
    top: usize,
    json: bool,
}

fn parse_classify(args: &[String]) -> Result<ClassifyRequest, CliError> {
    let mut request = ClassifyRequest {
        model: PathBuf::new(),
        tensor: None,
        images: Vec::new(),
        backend: BackendPreference::Cpu,
        top: 5,
        json: false,
    };
    let mut model = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--tensor" => request.tensor = Some(PathBuf::from(value("--tensor")?)),
            "--backend" => request.backend = backend_preference(&value("--backend")?)?,
            "--top" => {
                request.top = value("--top")?
                    .parse()
                    .map_err(|_| CliError::Usage("--top needs a positive integer".into()))?
            }
            "--json" => request.json = true,
            flag if flag.starts_with("--") => {
                return Err(CliError::Usage(format!("unknown option {flag}")))
            }
            image => request.images.push(PathBuf::from(image)),
        }
    }
    request.model = model.ok_or_else(|| CliError::Usage("--model DIR is required".into()))?;
    if request.tensor.is_some() != request.images.is_empty() {
        return Err(CliError::Usage(
            "give either --tensor X.npy or one or more images".into(),
        ));
    }
    Ok(request)
}

/// One JSON object per input (the contract in the README, "The command-line tool").
#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    input: String,
    backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    adapter: Option<&'a str>,
    /// Why the CPU ran although the GPU was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_reason: Option<&'a str>,
    top: Vec<Prediction<'a>>,
    logits: &'a [f32],
    excitations: Vec<Excitation<'a>>,
    timings_ms: Timings,
}

#[derive(Serialize)]
struct Prediction<'a> {
    index: usize,
    label: &'a str,
    prob: f32,
}

#[derive(Serialize)]
struct Excitation<'a> {
    block: &'a str,
    values: &'a [f32],
}

#[derive(Serialize)]
struct Timings {
    load: f64,
    preprocess: f64,
    forward: f64,
}

fn classify(request: &ClassifyRequest) -> Result<(), CliError> {
    let started = Instant::now();
    let model = Model::load_dir(&request.model).map_err(failed)?;
    let backend = pollster::block_on(Backend::new(&model.network, request.backend));
    let load_ms = elapsed_ms(started);
    let inputs: Vec<(String, PathBuf)> = match &request.tensor {
        Some(path) => vec![("tensor".into(), path.clone())],
        None => request
            .images
            .iter()
            .map(|p| ("image".into(), p.clone()))
            .collect(),
    };
    for (kind, path) in inputs {
        let started = Instant::now();
        let input = if kind == "tensor" {
            load_tensor(&path, &model)?
        } else {
            load_image(&path, &model)?
        };
        let preprocess_ms = elapsed_ms(started);
        let started = Instant::now();
        let output =
            pollster::block_on(backend.run(&model.network, &input, &RunOptions::default()));
        let forward_ms = elapsed_ms(started);
        let (adapter, fallback) = (backend.adapter(), backend.fallback_reason());
        if let Some(reason) = &fallback {
            eprintln!("se-lens: ran on the CPU: {reason}");
        }

        let probs = softmax(&output.logits);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let top = order
            .iter()
            .take(request.top)
            .map(|&index| Prediction {
                index,
                label: &model.labels[index],
                prob: probs[index],
            })
            .collect();
        let report = Report {
            model: &model.config.architecture,
            input: path.display().to_string(),
            backend: backend.name(),
            adapter: adapter.as_deref(),
            fallback_reason: fallback.as_deref(),
            top,
            logits: &output.logits,
            excitations: output
                .excitations
                .iter()
                .map(|t| Excitation {
                    block: &t.block,
                    values: &t.values,
                })
                .collect(),
            timings_ms: Timings {
                load: load_ms,
                preprocess: preprocess_ms,
                forward: forward_ms,
            },
        };
        print_report(&report, request.json);
    }
    Ok(())
}

fn print_report(report: &Report, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("se-lens: cannot encode the result: {e}"),
        }
        return;
    }
    println!(
        "{} ({}, {} in {:.1} ms)",
        report.input, report.model, report.backend, report.timings_ms.forward
    );
    for p in &report.top {
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

fn load_tensor(path: &Path, model: &Model) -> Result<Tensor, CliError> {
    let bytes =
        std::fs::read(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
    let (shape, data) = read_npy(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let shape: [usize; 4] = shape.try_into().map_err(|shape: Vec<usize>| {
        failed(format!(
            "{}: shape {shape:?}; expected [1, {}, H, W] (one NCHW image, already normalised)",
            path.display(),
            model.network.in_channels
        ))
    })?;
    model
        .network
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

fn load_image(path: &Path, model: &Model) -> Result<Tensor, CliError> {
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
/// file name order), and every SE block's mean gate per channel for each true class and over all
/// images.
fn evaluate(args: &[String]) -> Result<(), CliError> {
    let (mut model_dir, mut root, mut limit) = (None, None, usize::MAX);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--model" => model_dir = Some(PathBuf::from(value)),
            "--images" => root = Some(PathBuf::from(value)),
            "--limit" => {
                limit = value
                    .parse()
                    .map_err(|_| CliError::Usage("--limit needs a positive integer".into()))?
            }
            _ => return Err(CliError::Usage(format!("unknown option {flag}"))),
        }
    }
    let model_dir = model_dir.ok_or_else(|| CliError::Usage("--model DIR is required".into()))?;
    let root = root.ok_or_else(|| CliError::Usage("--images ROOT is required".into()))?;
    let started = Instant::now();
    let model = Model::load_dir(&model_dir).map_err(failed)?;
    let samples = labelled_images(&root, &model.labels, limit)?;
    if samples.is_empty() {
        return Err(failed(format!("no images under {}", root.display())));
    }
    let results = cpu::map_items(&samples, |(class, path)| {
        let input = load_image(path, &model)?;
        let output = cpu::forward(&model.network, &input, &RunOptions::default());
        let predicted = (0..output.logits.len())
            .max_by(|&a, &b| {
                output.logits[a]
                    .total_cmp(&output.logits[b])
                    .then(b.cmp(&a))
            })
            .unwrap_or(0);
        Ok((*class, predicted, output.excitations))
    })
    .into_iter()
    .collect::<Result<Vec<_>, CliError>>()?;

    let classes = model.labels.len();
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut stats = ClassStatsSums::new(classes);
    for (class, predicted, taps) in &results {
        confusion[*class][*predicted] += 1;
        stats.add(*class, taps);
    }
    let stats = stats.finish();
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    println!(
        "{}",
        serde_json::json!({
            "model": model.config.architecture,
            "images": results.len(),
            "correct": correct,
            "accuracy": correct as f64 / results.len() as f64,
            "labels": model.labels,
            "class_counts": stats.class_counts,
            "confusion": confusion,
            "predictions": results.iter().map(|r| r.1).collect::<Vec<_>>(),
            "excitations": stats.blocks,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

/// `(class, path)` for every image under `root/<class>/`, sorted by class then name, at most
/// `limit` per class.
fn labelled_images(
    root: &Path,
    labels: &[String],
    limit: usize,
) -> Result<Vec<(usize, PathBuf)>, CliError> {
    let read_dir = |dir: &Path| {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| failed(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        Ok::<_, CliError>(entries)
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

fn backend_preference(text: &str) -> Result<BackendPreference, CliError> {
    BackendPreference::parse(text)
        .ok_or_else(|| CliError::Usage(format!("unknown backend '{text}' (cpu, gpu or auto)")))
}

/// Times the forward pass on a fixed random input; prints one JSON line (used by `make bench`).
/// On the GPU a run is everything from upload to readback; it fails rather than fall back.
fn bench(args: &[String]) -> Result<(), CliError> {
    let (mut model_dir, mut size, mut runs) = (None, 224usize, 20usize);
    let mut preference = BackendPreference::Cpu;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))?;
        let number = || {
            value
                .parse()
                .map_err(|_| CliError::Usage(format!("{flag} needs a positive integer")))
        };
        match flag.as_str() {
            "--model" => model_dir = Some(PathBuf::from(value)),
            "--size" => size = number()?,
            "--runs" => runs = number()?.max(1),
            "--backend" => preference = backend_preference(value)?,
            _ => return Err(CliError::Usage(format!("unknown option {flag}"))),
        }
    }
    let model = Model::load_dir(
        &model_dir.ok_or_else(|| CliError::Usage("--model DIR is required".into()))?,
    )
    .map_err(failed)?;
    let mut input = Tensor::pattern([1, model.network.in_channels, size, size]);
    input.data.iter_mut().for_each(|v| *v *= 2.0);
    let options = RunOptions::default();
    let backend = pollster::block_on(Backend::new(&model.network, preference));
    let run = || {
        let started = Instant::now();
        pollster::block_on(backend.run(&model.network, &input, &options));
        match backend.fallback_reason() {
            Some(reason) => Err(failed(format!("the GPU is not usable: {reason}"))),
            None => Ok(elapsed_ms(started)),
        }
    };
    for _ in 0..2 {
        run()?;
    }
    let mut times = (0..runs).map(|_| run()).collect::<Result<Vec<f64>, _>>()?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let gflop = 2.0 * model.network.macs(size, size) as f64 / 1e9;
    println!(
        "{}",
        serde_json::json!({
            "model": model.config.architecture,
            "backend": backend.name(),
            "adapter": backend.adapter(),
            "size": size,
            "runs": runs,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "median_ms": median,
            "min_ms": times[0],
            "gflop": gflop,
            "gflops_per_s": gflop / (median / 1e3),
        })
    );
    Ok(())
}

//! The page's work between a user's action and what is drawn: loading models (URL, hub, files)
//! and running them, yielding to the browser as it goes. Results come back as view models.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use yew::Callback;

use super::browser::{
    decode_image, fetch_bytes, fetch_cached, keep_setting, now_ms, query_param, read_blob, setting,
};
use super::hub::{hub_urls, DEFAULT_HUB};
use super::view_model::{
    ChannelDetail, ClassStatsView, ImportanceView, InputPicture, Prediction, RegionProbe, RunView,
    SeSteps,
};
use crate::cpu;
use crate::engine::{
    class_of_folder, Baseline, ClassStats, ClassStatsSums, GateOverride, Graph, InterventionSums,
    Plan, RunOptions, RunOutput, SaturationSums, Tensor, INTERVENTIONS_PER_BLOCK,
};
use crate::exec::cpu::CpuRun;
use crate::exec::region::{region_gates, ImageRegions, Region, RegionSums};
use crate::model::{
    is_plain_relative, ChannelOrder, Model, ModelError, OnnxOptions, MAX_MODEL_BYTES,
};
use crate::preprocess::{adapt_photo, preprocess, RgbImage};
use crate::runtime::{Backend, BackendPreference, Calibration};

/// How long the CPU path works between returns to the browser (a frame at 60 Hz is 16.7 ms).
const SLICE_MS: f64 = 10.0;
/// Classes listed in the prediction.
const TOP_K: usize = 5;
/// How long setting up the GPU, or a run on it, may take before the page gives up on the GPU and
/// runs on the CPU.
const GPU_TIMEOUT: Duration = Duration::from_secs(30);

/// What a long run reports its progress to, and asks whether it is still wanted.
pub struct Progress {
    /// Blocks done and in all.
    pub report: Callback<(usize, usize)>,
    /// False once a newer request superseded this one: the run stops at its next step with
    /// [`SUPERSEDED`].
    pub wanted: Rc<dyn Fn() -> bool>,
}

/// The error of a run that stopped because a newer request superseded it.
pub const SUPERSEDED: &str = "superseded by a newer request";

/// One classification: with the model's own gates, and with the ablated ones if any are off.
pub struct Outcome {
    /// What the network saw (after the model's photo rule).
    pub seen: RgbImage,
    pub baseline: Rc<RunView>,
    pub ablated: Option<Rc<RunView>>,
    pub preprocess_ms: f64,
    pub forward_ms: f64,
    /// `webgpu` or `cpu`: what computed the baseline.
    pub backend: &'static str,
    /// The CPU path's threads when the baseline started (workers join as they come up).
    pub cpu_threads: usize,
}

/// A model from a folder URL relative to the page, an `.onnx` file's URL (its external data
/// fetched from beside it), or `hf:owner/name` from the hub (`hub`, else huggingface.co), cached
/// with the Cache API so the next visit needs no download.
pub async fn load_model(
    path: &str,
    hub: Option<&str>,
    onnx: &OnnxOptions,
    progress: Callback<(u64, Option<u64>)>,
) -> Result<Rc<Model>, String> {
    if path.ends_with(".onnx") {
        return load_onnx_url(path, onnx).await;
    }
    let (config, weights) = match path.strip_prefix("hf:") {
        Some(id) => {
            let [config, weights] = hub_urls(hub.unwrap_or(DEFAULT_HUB), id)?;
            let report = |loaded, total| progress.emit((loaded, total));
            (
                fetch_cached(&config, "se-lens-models", |_, _| {}).await?,
                fetch_cached(&weights, "se-lens-models", report).await?,
            )
        }
        None => (
            fetch_bytes(&format!("{path}/config.json")).await?,
            fetch_bytes(&format!("{path}/model.safetensors")).await?,
        ),
    };
    parse_model(&config, &weights)
}

/// The backend `preference` asks for, set up for `model` (its weights uploaded to the GPU); the
/// CPU, saying why, if the browser's GPU does not answer in time. For `auto` with a GPU, the
/// faster of the two on this model ([`calibrate`]).
/// `software_too`: `auto` measures a software GPU too (the e2e test of the calibration: headless
/// Chromium has only SwiftShader, which `auto` otherwise leaves alone).
pub async fn prepare_backend(
    model: &Model,
    preference: BackendPreference,
    software_too: bool,
) -> Rc<Backend> {
    let asked = match preference {
        BackendPreference::Auto if software_too => BackendPreference::Gpu,
        other => other,
    };
    let setup = Backend::new(&model.graph, asked);
    let backend = first_of(setup, yew::platform::time::sleep(GPU_TIMEOUT))
        .await
        .unwrap_or_else(|()| {
            Backend::cpu(Some(format!(
                "the GPU did not answer within {} s",
                GPU_TIMEOUT.as_secs()
            )))
        });
    if preference == BackendPreference::Auto && backend.gpu().is_some() {
        calibrate(model, &backend).await;
    }
    Rc::new(backend)
}

/// `auto`'s choice between the GPU and the CPU for `model`: one warm run on each (the GPU's first
/// run builds its pipelines, so the second is timed), remembered per architecture, input size and
/// GPU adapter (what the speed depends on), so later loads pay nothing.
async fn calibrate(model: &Model, backend: &Backend) {
    let [channels, height, width] = model.config.pretrained_cfg.input_size;
    let shape = [1, channels, height, width];
    let key = format!(
        "{} {:?} on {}",
        model.config.architecture,
        shape,
        backend.adapter().unwrap_or_default()
    );
    let remembered = setting("calibration", &key)
        .await
        .and_then(|text| serde_json::from_str::<Calibration>(&text).ok());
    if let Some(calibration) = remembered {
        return backend.settle(calibration, true);
    }
    let input = Tensor::new(shape, vec![0.0; shape.iter().product()]);
    let options = RunOptions::default();
    if run_gpu(backend, &input, &options).await.is_none() {
        return;
    }
    let started = now_ms();
    if run_gpu(backend, &input, &options).await.is_none() {
        return;
    }
    let gpu_ms = now_ms() - started;
    let Ok(cpu) = forward_cpu(&model.graph, &input, &options, None).await else {
        return;
    };
    let calibration = Calibration {
        gpu_ms,
        cpu_ms: cpu.ms,
    };
    backend.settle(calibration, false);
    if let Ok(text) = serde_json::to_string(&calibration) {
        keep_setting("calibration", &key, &text).await;
    }
}

/// `block`'s input feature map for `channel` on `image`, with the model's own gate, and the
/// picture the network saw (to draw where the channel's squeeze comes from).
pub async fn channel_detail(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    block: &str,
    channel: usize,
) -> Result<ChannelDetail, String> {
    let (input, output) = tap_block(model, backend, image, block).await?;
    let gate = output
        .excitations
        .iter()
        .find(|tap| tap.block == block)
        .and_then(|tap| tap.values.get(channel).copied());
    let mut detail = output
        .feature_map
        .zip(gate)
        .and_then(|(tap, gate)| ChannelDetail::new(&tap, channel, gate))
        .ok_or_else(|| format!("{block} has no channel {channel}"))?;
    detail.picture = Some(input_picture(model, &input));
    Ok(detail)
}

/// What the squeeze-region probe of `block` on one image starts from: the block's input feature
/// map, the picture the network saw, and the prediction with every gate as computed.
pub struct ProbeBase {
    pub block: String,
    pub map: Tensor,
    /// The gates with the squeeze over the whole map (computed once, not on every brush).
    pub full: Vec<f32>,
    pub picture: Rc<InputPicture>,
    pub top: Vec<Prediction>,
}

pub async fn probe_base(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    block: &str,
) -> Result<ProbeBase, String> {
    let (input, output) = tap_block(model, backend, image, block).await?;
    let top = RunView::new(&output, model.scores, &model.labels, TOP_K).top;
    let map = output
        .feature_map
        .ok_or_else(|| format!("{block} reported no feature map"))?
        .map;
    let [_, _, height, width] = map.shape;
    let full = gates_over(model, block, &map, &Region::full(height, width))?;
    Ok(ProbeBase {
        block: block.to_string(),
        map,
        full,
        picture: Rc::new(input_picture(model, &input)),
        top,
    })
}

/// The probe's gates with the squeeze over `rect` (fractions of the network's input,
/// `[left, top, right, bottom]`) beside the whole map's: the excitation's few small layers, on
/// the CPU, once per brush movement.
pub fn probe_region(
    model: &Model,
    base: &ProbeBase,
    rect: [f32; 4],
) -> Result<RegionProbe, String> {
    let [_, _, height, width] = base.map.shape;
    let region = Region::from_rect(rect, height, width);
    Ok(RegionProbe {
        block: base.block.clone(),
        full: base.full.clone(),
        probed: gates_over(model, &base.block, &base.map, &region)?,
        region,
    })
}

/// `block`'s gate from its tapped input `map` with the squeeze over `region`.
fn gates_over(
    model: &Model,
    block: &str,
    map: &Tensor,
    region: &Region,
) -> Result<Vec<f32>, String> {
    let se = model
        .graph
        .se_block(block)
        .ok_or_else(|| format!("the model has no SE block {block}"))?;
    region_gates(&model.graph, se, map, region).map_err(|e| e.to_string())
}

/// The prediction on `image` with `block`'s gate replaced by `gate` (the region's).
pub async fn classify_with_gate(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    block: &str,
    gate: Vec<f32>,
) -> Result<Vec<Prediction>, String> {
    let input = model_input(model, image)?;
    let options = RunOptions {
        gate_overrides: [(block.to_string(), GateOverride::Values(gate))].into(),
        ..RunOptions::default()
    };
    let output = forward(model, backend, &input, &options, None)
        .await?
        .output;
    Ok(RunView::new(&output, model.scores, &model.labels, TOP_K).top)
}

/// A run of `image` that hands back `block`'s input feature map; with the input it ran on.
async fn tap_block(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    block: &str,
) -> Result<(Tensor, RunOutput), String> {
    let input = model_input(model, image)?;
    let options = RunOptions {
        feature_map: Some(block.to_string()),
        ..RunOptions::default()
    };
    let output = forward(model, backend, &input, &options, None)
        .await?
        .output;
    Ok((input, output))
}

fn input_picture(model: &Model, input: &Tensor) -> InputPicture {
    let cfg = &model.config.pretrained_cfg;
    InputPicture::new(input, &cfg.mean, &cfg.std)
}

/// `block` on `image`, step by step (the teaching view), and the prediction without its gate
/// function (the sigmoid).
pub async fn se_steps(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    block: &str,
) -> Result<SeSteps, String> {
    let se = model
        .graph
        .se_block(block)
        .ok_or_else(|| format!("the model has no SE block {block}"))?;
    let excitation = model.graph.excitation(se).ok_or_else(|| {
        format!("{block} has no two-layer excitation (FC → FC) to show step by step")
    })?;
    let (input, output) = tap_block(model, backend, image, block).await?;
    let tap = output
        .feature_map
        .as_ref()
        .ok_or_else(|| format!("{block} reported no feature map"))?;
    let squeezed = cpu::global_avg_pool(&tap.map).data;
    let steps = cpu::excitation_steps(&squeezed, excitation);
    let raw = RunOptions {
        gate_overrides: [(
            block.to_string(),
            GateOverride::Values(steps.logits.clone()),
        )]
        .into(),
        ..RunOptions::default()
    };
    let without_sigmoid = forward(model, backend, &input, &raw, None).await?.output;
    let top = |output: &RunOutput| RunView::new(output, model.scores, &model.labels, TOP_K).top;
    let mut steps = SeSteps::new(
        tap,
        [excitation.fc1.act, excitation.fc2.act],
        [squeezed, steps.hidden, steps.logits, steps.gates],
        top(&output),
        top(&without_sigmoid),
    );
    steps.hard_sigmoid = se.hard_sigmoid;
    Ok(steps)
}

/// The class statistics shipped with a model folder (`class_stats.json`, written by
/// `make accuracy`), if it has them and they fit the model.
pub async fn shipped_class_stats(model: &Model, path: &str) -> Option<ClassStatsView> {
    let bytes = fetch_bytes(&format!("{path}/class_stats.json"))
        .await
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Shipped {
        source: String,
        #[serde(flatten)]
        stats: ClassStats,
    }
    let shipped: Shipped = serde_json::from_slice(&bytes).ok()?;
    ClassStatsView::new(
        shipped.source,
        shipped.stats,
        &model.labels,
        &se_widths(model),
    )
}

/// The SE block importance shipped with a model folder (`importance.json`, written by
/// `SHIP=1 scripts/interventions.sh`), if it has one and it fits the model.
pub async fn shipped_importance(model: &Model, path: &str) -> Option<ImportanceView> {
    let bytes = fetch_bytes(&format!("{path}/importance.json")).await.ok()?;
    ImportanceView::from_json(&bytes, &model.graph.se_block_names())
}

/// Class statistics from a chosen folder: `<folder>/<class index or label>/<image>`, every image
/// classified; `progress` gets (done, all). Images in folders that name no class are skipped and
/// counted in the message.
pub async fn class_stats_from_files(
    model: &Model,
    backend: &Backend,
    files: &[web_sys::File],
    progress: Callback<(usize, usize)>,
) -> Result<ClassStatsView, String> {
    let classed = classed_files(model, files)?;
    let mut sums = ClassStatsSums::new(model.labels.len());
    let mut failed = Vec::new();
    for (done, (class, file)) in classed.iter().enumerate() {
        progress.emit((done, classed.len()));
        let image = match decode_image(file).await {
            Ok(image) => image,
            Err(e) => {
                failed.push(format!("{}: {e}", file.name()));
                continue;
            }
        };
        let input = model_input(model, &image)?;
        let output = forward(model, backend, &input, &RunOptions::default(), None)
            .await?
            .output;
        sums.add(*class, &output.excitations);
    }
    if failed.len() == classed.len() {
        return Err(format!("no image could be read: {}", failed.join("; ")));
    }
    let images = classed.len() - failed.len();
    let mut source = format!("{images} images of the chosen folder, classified in this page");
    if !failed.is_empty() {
        source += &format!(" ({} unreadable files skipped)", failed.len());
    }
    ClassStatsView::new(source, sums.finish(), &model.labels, &se_widths(model))
        .ok_or_else(|| "the statistics do not fit the model".into())
}

/// The files of a chosen folder that are in class folders (`<folder>/<class index or label>/`),
/// with their class, in `se-lens evaluate`'s order: by class, then by file name.
fn classed_files<'a>(
    model: &Model,
    files: &'a [web_sys::File],
) -> Result<Vec<(usize, &'a web_sys::File)>, String> {
    let mut classed: Vec<(usize, &web_sys::File)> = files
        .iter()
        .filter_map(|file| {
            // The path below the chosen folder (web-sys has no binding for it).
            let path = js_sys::Reflect::get(file, &"webkitRelativePath".into())
                .ok()?
                .as_string()?;
            let mut parts = path.rsplit('/');
            let (_, folder) = (parts.next()?, parts.next()?);
            Some((class_of_folder(folder, &model.labels)?, file))
        })
        .collect();
    if classed.is_empty() {
        return Err(format!(
            "no images in class folders: name each subfolder by a class index below {} or a label \
             of the model (e.g. {:?})",
            model.labels.len(),
            model.labels.first().map(String::as_str).unwrap_or("")
        ));
    }
    classed.sort_by_cached_key(|(class, file)| (*class, file.name()));
    Ok(classed)
}

/// What replacing each SE block's gates does over a chosen folder (the class folders of
/// [`classed_files`]), as `se-lens evaluate --interventions` computes it: every image run once
/// as is, then once per intervention of [`Plan`]. `progress` gets (runs done, runs in all);
/// setting `cancel` stops it before the next run.
pub async fn block_importance_from_files(
    model: &Model,
    backend: &Backend,
    files: &[web_sys::File],
    progress: Callback<(usize, usize)>,
    cancel: Rc<Cell<bool>>,
) -> Result<ImportanceView, String> {
    let classed = classed_files(model, files)?;
    let blocks = model.graph.se_block_names();
    if blocks.is_empty() {
        return Err("the model has no SE blocks to replace".into());
    }
    let per_image = importance_runs_per_image(blocks.len());
    let all = classed.len() * per_image;
    let mut done = 0;
    let step = |done: &mut usize| -> Result<(), String> {
        if cancel.get() {
            return Err(format!("cancelled after {done} of {all} runs"));
        }
        progress.emit((*done, all));
        *done += 1;
        Ok(())
    };
    // The unmodified runs first: the replacements need every image's gates. Images are decoded
    // again for the second pass rather than kept (a thousand 224² inputs would take 600 MB).
    let mut read = Vec::new();
    let mut baselines = Vec::new();
    let mut saturation = SaturationSums::default();
    let mut failed = Vec::new();
    for (class, file) in &classed {
        step(&mut done)?;
        let image = match decode_image(file).await {
            Ok(image) => image,
            Err(e) => {
                failed.push(format!("{}: {e}", file.name()));
                done += per_image - 1;
                continue;
            }
        };
        let input = model_input(model, &image)?;
        let output = forward(model, backend, &input, &RunOptions::default(), None)
            .await?
            .output;
        saturation.add(&output.excitations);
        baselines.push(Baseline {
            class: *class,
            logits: output.logits,
            excitations: output.excitations,
        });
        read.push(*file);
    }
    if baselines.is_empty() {
        return Err(format!("no image could be read: {}", failed.join("; ")));
    }
    let plan = Plan::new(&blocks, &baselines, model.labels.len(), 0);
    let mut sums = InterventionSums::new(&plan);
    let mut regions = RegionSums::default();
    for (file, image) in read.into_iter().zip(&baselines) {
        let input = model_input(model, &decode_image(file).await?)?;
        let mut logits = Vec::with_capacity(plan.interventions.len());
        for &intervention in &plan.interventions {
            step(&mut done)?;
            let options = plan.options(intervention, image);
            logits.push(
                forward(model, backend, &input, &options, None)
                    .await?
                    .output
                    .logits,
            );
        }
        sums.add(image, &logits);
        // The squeeze-region probe's summary: each block's squeeze over each half of the image.
        for (b, se) in model.graph.se_blocks.iter().enumerate() {
            step(&mut done)?;
            let options = RunOptions {
                feature_map: Some(se.name.clone()),
                ..RunOptions::default()
            };
            let output = forward(model, backend, &input, &options, None)
                .await?
                .output;
            let map = output
                .feature_map
                .ok_or_else(|| format!("{} reported no feature map", se.name))?
                .map;
            // A block whose gate the probe cannot recompute has no summary.
            if let Ok(measured) =
                ImageRegions::measure(&model.graph, se, &map, plan.dataset_mean(b))
            {
                regions.add(measured);
            }
        }
    }
    let gate_functions = model.graph.gate_functions();
    let images = baselines.len();
    let mut source = format!("{images} images of the chosen folder, run in this page");
    if !failed.is_empty() {
        source += &format!(" ({} unreadable files skipped)", failed.len());
    }
    Ok(ImportanceView {
        source,
        images,
        correct: baselines
            .iter()
            .filter(|b| b.predicted() == b.class)
            .count(),
        results: sums.finish(&plan),
        saturation: saturation.finish(&gate_functions),
        seed: plan.seed,
        permutations: (0..blocks.len())
            .map(|b| plan.permutation(b).to_vec())
            .collect(),
        regions: regions.finish(),
    })
}

/// The runs [`block_importance_from_files`] makes per image for a model with `blocks` SE blocks:
/// the unmodified one, every intervention, and one per block for the squeeze over halves.
pub fn importance_runs_per_image(blocks: usize) -> usize {
    1 + (INTERVENTIONS_PER_BLOCK + 1) * blocks
}

/// Every SE block's name and width, to check statistics against.
fn se_widths(model: &Model) -> Vec<(String, usize)> {
    model
        .graph
        .se_blocks
        .iter()
        .map(|se| (se.name.clone(), se.channels))
        .collect()
}

/// The tensor the model sees for `image` (its photo rule, then timm's eval transform).
fn model_input(model: &Model, image: &RgbImage) -> Result<Tensor, String> {
    let seen = adapt_photo(image, &model.config);
    preprocess(&seen, &model.config.pretrained_cfg).map_err(|e| e.to_string())
}

/// An `.onnx` file's URL: its external data from beside it, its preprocessing and class names
/// from `options` (the page's URL sets them: [`onnx_options_from_url`]).
///
/// The file is decoded once; one whose weights lie in external data files (so a small graph,
/// cheap to decode again) is imported again after each data file its import asked for is fetched.
async fn load_onnx_url(path: &str, options: &OnnxOptions) -> Result<Rc<Model>, String> {
    let bytes = fetch_bytes(path).await?;
    let dir = path.rsplit_once('/').map(|(dir, _)| dir);
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut data: HashMap<String, Arc<Vec<u8>>> = HashMap::new();
    loop {
        let mut wanted = None;
        let mut external = |location: &str| match data.get(location) {
            Some(content) => Ok(content.clone()),
            None if is_plain_relative(location) => {
                wanted = Some(location.to_owned());
                Err(format!(
                    "its external data file '{location}' is not fetched"
                ))
            }
            None => Err(format!(
                "its external data location '{location}' is not a file beside it"
            )),
        };
        let result = Model::from_onnx(name, &bytes, &mut external, options);
        match (result, wanted) {
            (Ok(model), _) => return Ok(Rc::new(model)),
            (Err(_), Some(location)) => {
                let url = dir.map_or(location.clone(), |dir| format!("{dir}/{location}"));
                data.insert(location, Arc::new(fetch_bytes(&url).await?));
            }
            (Err(e), None) => return Err(e.to_string()),
        }
    }
}

/// The ONNX preprocessing the page's URL sets (the preprocessing form writes it): `size=224` or
/// `256x192`, `interp=bicubic`, `crop=0.875`, `mean=0.5,0.5,0.5`, `std=…`, `scale=255` (mean
/// and std on pixels 0–255), `channels=bgr`, `labels=<URL of a labels file>`.
pub async fn onnx_options_from_url() -> Result<OnnxOptions, String> {
    let numbers = |name: &str| -> Result<Option<Vec<f32>>, String> {
        query_param(name)
            .map(|text| {
                text.split(',')
                    .map(|v| v.trim().parse::<f32>())
                    .collect::<Result<Vec<f32>, _>>()
                    .map_err(|_| format!("?{name}={text} is not a list of numbers"))
            })
            .transpose()
    };
    let labels = match query_param("labels") {
        Some(url) => {
            let text = fetch_bytes(&url).await?;
            Some(OnnxOptions::parse_labels(&String::from_utf8_lossy(&text)))
        }
        None => None,
    };
    let channel_order = match query_param("channels").as_deref() {
        None | Some("rgb") => None,
        Some("bgr") => Some(ChannelOrder::Bgr),
        Some(other) => return Err(format!("?channels={other}: rgb or bgr")),
    };
    Ok(OnnxOptions {
        input_size: query_param("size")
            .map(|text| OnnxOptions::parse_size(&text))
            .transpose()?,
        mean: numbers("mean")?,
        std: numbers("std")?,
        scale: numbers("scale")?.and_then(|v| v.first().copied()),
        interpolation: query_param("interp"),
        crop_pct: numbers("crop")?.and_then(|v| v.first().map(|&c| f64::from(c))),
        labels,
        channel_order,
    })
}

/// Imports an ONNX file whose external data files are in `data`, by name (a dropped file has
/// only its name, so a location's last component finds it).
pub fn onnx_model(
    name: &str,
    bytes: &[u8],
    data: &HashMap<String, Arc<Vec<u8>>>,
    options: &OnnxOptions,
) -> Result<Rc<Model>, String> {
    let mut external = |location: &str| {
        let file_name = location.rsplit('/').next().unwrap_or(location);
        data.get(location)
            .or_else(|| data.get(file_name))
            .cloned()
            .ok_or_else(|| {
                format!("its external data file '{location}' was not given with the model")
            })
    };
    Model::from_onnx(name, bytes, &mut external, options)
        .map(Rc::new)
        .map_err(|e| e.to_string())
}

/// A model from dropped or chosen files: an `.onnx` (with its external data files, a labels
/// `.txt` or JSON list, a preprocessing `.json`), or a `config.json` and a `*.safetensors`.
pub async fn load_model_files(
    files: &[web_sys::File],
    url_options: OnnxOptions,
) -> Result<Rc<Model>, String> {
    for file in files {
        if file.size() > MAX_MODEL_BYTES as f64 {
            let what = file.name();
            return Err(ModelError::TooLarge {
                what,
                size: file.size() as u64,
            }
            .to_string());
        }
    }
    let named = |suffix: &str| files.iter().find(|f| f.name().ends_with(suffix));
    if let Some(model) = named(".onnx") {
        let bytes = read_blob(model).await?;
        let mut options = url_options;
        let mut data = HashMap::new();
        for file in files.iter().filter(|f| f.name() != model.name()) {
            let (name, content) = (file.name(), read_blob(file).await?);
            let text = String::from_utf8_lossy(&content);
            // What the URL (the preprocessing form) sets wins over the dropped files.
            if name.ends_with(".txt") || (name.ends_with(".json") && text.trim().starts_with('[')) {
                options.labels = options
                    .labels
                    .or_else(|| Some(OnnxOptions::parse_labels(&text)));
            } else if name.ends_with(".json") {
                let sidecar: OnnxOptions =
                    serde_json::from_slice(&content).map_err(|e| format!("{name}: {e}"))?;
                options = options.or(sidecar);
            } else {
                data.insert(name, Arc::new(content));
            }
        }
        return onnx_model(&model.name(), &bytes, &data, &options);
    }
    let (Some(config), Some(weights)) = (named(".json"), named(".safetensors")) else {
        if named(".bin").or(named(".pth")).is_some() {
            return Err(
                "PyTorch pickles (.bin, .pth) are not loaded: loading them can run code. \
                        Convert them with tools/convert_to_safetensors.py"
                    .into(),
            );
        }
        return Err(
            "choose an .onnx file (with its data files), or both files of a timm \
                    model folder: config.json and model.safetensors"
                .into(),
        );
    };
    let config = read_blob(config).await?;
    let weights = read_blob(weights).await?;
    parse_model(&config, &weights)
}

/// Brings `image` to the model's look, preprocesses and runs it; a second run with the ablated
/// blocks' gates set to ones.
pub async fn classify(
    model: &Model,
    backend: &Backend,
    image: &RgbImage,
    ablated: &BTreeSet<String>,
    progress: &Progress,
) -> Result<Outcome, String> {
    yield_to_browser().await;
    let started = now_ms();
    let seen = adapt_photo(image, &model.config).into_owned();
    let input = preprocess(&seen, &model.config.pretrained_cfg).map_err(|e| e.to_string())?;
    let preprocess_ms = now_ms() - started;
    let cpu_threads = cpu::thread_count();
    let baseline = forward(
        model,
        backend,
        &input,
        &RunOptions::default(),
        Some(progress),
    )
    .await?;
    let ablated = if ablated.is_empty() {
        None
    } else {
        let options = RunOptions {
            gate_overrides: ablated
                .iter()
                .map(|block| (block.clone(), GateOverride::Ones))
                .collect(),
            ..RunOptions::default()
        };
        let ran = forward(model, backend, &input, &options, Some(progress)).await?;
        Some(Rc::new(RunView::new(
            &ran.output,
            model.scores,
            &model.labels,
            TOP_K,
        )))
    };
    Ok(Outcome {
        seen,
        baseline: Rc::new(RunView::new(
            &baseline.output,
            model.scores,
            &model.labels,
            TOP_K,
        )),
        ablated,
        preprocess_ms,
        forward_ms: baseline.ms,
        backend: baseline.backend,
        cpu_threads,
    })
}

/// A finished forward pass: what it computed, the milliseconds it spent computing, and where.
struct Ran {
    output: RunOutput,
    ms: f64,
    backend: &'static str,
}

/// One forward pass that never freezes the page: one submission on the GPU, or, when there is
/// none or it fails, the CPU handing the page back to the browser before the first block and
/// then once per [`SLICE_MS`] of blocks (`progress` gets blocks done and in all, and stops the
/// run when it is no longer wanted).
async fn forward(
    model: &Model,
    backend: &Backend,
    input: &Tensor,
    options: &RunOptions,
    progress: Option<&Progress>,
) -> Result<Ran, String> {
    let wanted = || progress.is_none_or(|p| (p.wanted)());
    if !wanted() {
        return Err(SUPERSEDED.into());
    }
    let started = now_ms();
    if let Some(output) = run_gpu(backend, input, options).await {
        let backend = backend.name();
        return Ok(Ran {
            output,
            ms: now_ms() - started,
            backend,
        });
    }
    forward_cpu(&model.graph, input, options, progress).await
}

/// The CPU path of [`forward`], stepped block by block.
async fn forward_cpu(
    graph: &Graph,
    input: &Tensor,
    options: &RunOptions,
    progress: Option<&Progress>,
) -> Result<Ran, String> {
    let wanted = || progress.is_none_or(|p| (p.wanted)());
    let mut ms = 0.0;
    let started = now_ms();
    let mut run = CpuRun::start(graph, input, options).map_err(|e| e.to_string())?;
    ms += now_ms() - started;
    let mut yielded = f64::NEG_INFINITY;
    loop {
        if let Some(progress) = progress {
            progress.report.emit(run.progress());
        }
        // Back to the browser once per slice of work, not after every block: a small model's
        // blocks take well under a millisecond, and each return to the browser costs a few.
        if now_ms() - yielded >= SLICE_MS {
            yield_to_browser().await;
            yielded = now_ms();
            if !wanted() {
                return Err(SUPERSEDED.into());
            }
        }
        let started = now_ms();
        let more = run.step().map_err(|e| e.to_string())?;
        ms += now_ms() - started;
        if !more {
            break;
        }
    }
    let started = now_ms();
    let output = run.finish().map_err(|e| e.to_string())?;
    ms += now_ms() - started;
    Ok(Ran {
        output,
        ms,
        backend: "cpu",
    })
}

/// The GPU run, if the backend has a GPU and it answers in time; otherwise the backend falls
/// back to the CPU (with the reason) and this is `None`.
async fn run_gpu(backend: &Backend, input: &Tensor, options: &RunOptions) -> Option<RunOutput> {
    backend.gpu()?;
    let timeout = yew::platform::time::sleep(GPU_TIMEOUT);
    match first_of(backend.run_gpu(input, options), timeout).await {
        Ok(output) => output,
        Err(()) => {
            backend.fall_back(format!(
                "the GPU did not answer within {} s",
                GPU_TIMEOUT.as_secs()
            ));
            None
        }
    }
}

/// `work`'s result, or `Err(())` if `deadline` completes first.
async fn first_of<T>(
    work: impl Future<Output = T>,
    deadline: impl Future<Output = ()>,
) -> Result<T, ()> {
    let (mut work, mut deadline) = (pin!(work), pin!(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(value));
        }
        deadline.as_mut().poll(cx).map(Err)
    })
    .await
}

/// Lets the browser render and handle input before the work continues.
async fn yield_to_browser() {
    yew::platform::time::sleep(std::time::Duration::ZERO).await;
}

/// Parses and builds a model from its two files (errors as the text the page shows).
fn parse_model(config: &[u8], weights: &[u8]) -> Result<Rc<Model>, String> {
    Model::from_bytes(config, weights)
        .map(Rc::new)
        .map_err(|e| e.to_string())
}

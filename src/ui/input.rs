//! The image input: choose a file, drop one (or a model's files), take a photo with the camera,
//! pick a sample; and the picture the network saw of the image shown.

use std::rc::Rc;

use serde::Deserialize;
use web_sys::{Blob, DragEvent, HtmlCanvasElement, HtmlInputElement};
use yew::prelude::*;

use super::browser::{capture_frame, close_camera, draw_rgb, open_camera, query_param};
use super::model_bar::files_of;
use super::session::Outcome;

pub const SAMPLES: &str = "assets/samples";

/// A gallery entry of `assets/samples/index.json`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Sample {
    pub file: String,
    pub label: String,
}

/// The image shown and what the network saw of it.
#[derive(Clone, PartialEq)]
pub struct Shown {
    pub name: String,
    pub decoded: (usize, usize),
    pub outcome: Rc<Outcome>,
}

#[derive(Properties, PartialEq)]
pub struct InputProps {
    pub samples: Rc<Vec<Sample>>,
    pub shown: Option<Shown>,
    /// A sample's file name.
    pub on_sample: Callback<String>,
    /// An image file (chosen or dropped) and its name.
    pub on_file: Callback<(Blob, String)>,
    /// Dropped files that are a model's.
    pub on_model_files: Callback<Vec<web_sys::File>>,
    /// A camera photo.
    pub on_photo: Callback<Result<web_sys::ImageData, String>>,
}

#[function_component(InputPanel)]
pub fn input_panel(props: &InputProps) -> Html {
    let camera = use_state(|| None::<web_sys::MediaStream>);
    let camera_error = use_state(|| None::<String>);
    let video = use_node_ref();
    let seen = use_node_ref();
    {
        let (video, stream) = (video.clone(), (*camera).clone());
        use_effect_with(stream, move |stream| {
            if let (Some(video), Some(stream)) = (video.cast::<web_sys::HtmlVideoElement>(), stream)
            {
                if video.src_object().is_none() {
                    video.set_src_object(Some(stream));
                }
            }
        });
    }
    {
        let canvas = seen.clone();
        use_effect_with(props.shown.clone(), move |shown| {
            if let (Some(canvas), Some(shown)) = (canvas.cast::<HtmlCanvasElement>(), shown) {
                draw_rgb(&canvas, &shown.outcome.seen);
            }
        });
    }
    let onchange = {
        let on_file = props.on_file.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let file = input.files().and_then(|files| files.get(0));
            input.set_value("");
            if let Some(file) = file {
                let name = file.name();
                on_file.emit((file.into(), name));
            }
        })
    };
    let ondragover = Callback::from(|event: DragEvent| event.prevent_default());
    // Dropped model files (an .onnx with what goes with it, or config.json + model.safetensors)
    // load a model; anything else is taken as an image.
    let ondrop = {
        let (on_file, on_model_files) = (props.on_file.clone(), props.on_model_files.clone());
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            let Some(files) = event.data_transfer().and_then(|d| d.files()) else {
                return;
            };
            let files = files_of(&files);
            let is_model_file = |f: &web_sys::File| {
                [".onnx", ".json", ".safetensors", ".bin", ".pth"]
                    .iter()
                    .any(|s| f.name().ends_with(s))
            };
            if files.iter().any(is_model_file) {
                return on_model_files.emit(files);
            }
            if let Some(file) = files.into_iter().next() {
                let name = file.name();
                on_file.emit((file.into(), name));
            }
        })
    };
    let open = {
        let (camera, camera_error) = (camera.clone(), camera_error.clone());
        Callback::from(move |_| {
            let (camera, camera_error) = (camera.clone(), camera_error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match open_camera().await {
                    Ok(stream) => camera.set(Some(stream)),
                    Err(e) => camera_error.set(Some(e)),
                }
            });
        })
    };
    let close = {
        let camera = camera.clone();
        Callback::from(move |_| {
            if let Some(stream) = &*camera {
                close_camera(stream);
            }
            camera.set(None);
        })
    };
    let capture = {
        let (video, close, on_photo) = (video.clone(), close.clone(), props.on_photo.clone());
        Callback::from(move |_| {
            let frame = video
                .cast::<web_sys::HtmlVideoElement>()
                .ok_or_else(|| "the camera view is gone".to_string())
                .and_then(|video| capture_frame(&video));
            close.emit(());
            on_photo.emit(frame);
        })
    };
    let sample_name = query_param("sample");
    html! {
        <section class="input">
            <div class="drop-zone" data-testid="drop-zone" {ondragover} {ondrop}>
                <label class="button">
                    { "Choose an image…" }
                    <input type="file" accept="image/*" data-testid="file-input" class="visually-hidden" {onchange} />
                </label>
                <span class="muted">{ " or drop one here, or paste one (Ctrl+V), or " }</span>
                <button data-testid="camera" onclick={open}>{ "use the camera" }</button>
                if let Some(error) = &*camera_error {
                    <p class="error" role="alert">{ error }</p>
                }
                if camera.is_some() {
                    <div class="camera">
                        <video ref={video} data-testid="camera-view" autoplay=true muted=true playsinline=true />
                        <button data-testid="capture" onclick={capture}>{ "Take the picture" }</button>
                        <button onclick={close.reform(|_| ())}>{ "Close the camera" }</button>
                    </div>
                }
            </div>
            if !props.samples.is_empty() {
                <div class="gallery" role="list" aria-label="samples">
                    { for props.samples.iter().map(|sample| {
                        let selected = sample_name.as_deref() == Some(sample.file.as_str());
                        let file = sample.file.clone();
                        html! {
                            <button role="listitem" class={classes!("sample", selected.then_some("selected"))}
                                    title={sample.label.clone()} aria-label={format!("sample: {}", sample.label)}
                                    data-testid={format!("sample-{}", sample.file)}
                                    onclick={props.on_sample.reform(move |_| file.clone())}>
                                <img src={format!("{SAMPLES}/{}", sample.file)} alt={sample.label.clone()} />
                            </button>
                        }
                    }) }
                </div>
            }
            if let Some(shown) = &props.shown {
                <figure class="seen">
                    <canvas ref={seen} data-testid="network-input" />
                    <figcaption>
                        { format!("What the network sees: {}", shown.name) }
                        <span class="muted" data-testid="decoded-size">
                            { format!(" (decoded {}×{})", shown.decoded.0, shown.decoded.1) }
                        </span>
                    </figcaption>
                </figure>
            }
        </section>
    }
}

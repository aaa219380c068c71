//! The model bar: the model picker (the default model, the hub checkpoints, any model the address
//! names), a Hugging Face hub id, model files from disk, and the backend picker with its badge.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::hub::CHECKPOINTS;
use super::protocol::BackendSummary;
use crate::runtime::BackendPreference;

/// The embedded default model (copied into `dist/` by scripts/build-web.sh).
pub const DEFAULT_MODEL: &str = "assets/models/seresnet10-fmnist";

#[derive(Properties, PartialEq)]
pub struct ModelBarProps {
    /// The loaded model's name (its URL path or hub id, or the chosen files' names).
    pub model_name: String,
    pub preference: BackendPreference,
    pub backend: Option<BackendSummary>,
    /// What computed the shown result, or what the next run uses.
    pub badge: String,
    /// A model path or `hf:` id to load.
    pub on_model: Callback<String>,
    /// Model files chosen from disk.
    pub on_files: Callback<Vec<web_sys::File>>,
    pub on_backend: Callback<BackendPreference>,
}

#[function_component(ModelBar)]
pub fn model_bar(props: &ModelBarProps) -> Html {
    let hub_id = use_state(String::new);
    let name = props.model_name.as_str();
    let on_select = props.on_model.reform(|event: Event| {
        let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
        select.value()
    });
    let on_hub_input = {
        let hub_id = hub_id.clone();
        Callback::from(move |event: InputEvent| {
            let input: HtmlInputElement = event.target_unchecked_into();
            hub_id.set(input.value());
        })
    };
    let on_hub_load = {
        let (hub_id, on_model) = (hub_id.clone(), props.on_model.clone());
        Callback::from(move |_| on_model.emit(format!("hf:{}", hub_id.trim())))
    };
    let on_files = {
        let on_files = props.on_files.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let files = input
                .files()
                .map(|list| files_of(&list))
                .unwrap_or_default();
            input.set_value("");
            if !files.is_empty() {
                on_files.emit(files);
            }
        })
    };
    let named_elsewhere =
        !name.is_empty() && name != DEFAULT_MODEL && !CHECKPOINTS.iter().any(|c| c.value() == name);
    html! {
        <section class="bar" aria-label="model and backend">
            <label>{ "Model " }
                <select data-testid="model-select" aria-label="model" onchange={on_select}>
                    <option value={DEFAULT_MODEL} selected={name == DEFAULT_MODEL}>
                        { "Fashion-MNIST SE-ResNet (default)" }
                    </option>
                    if named_elsewhere {
                        <option value={name.to_string()} selected=true>{ name }</option>
                    }
                    <optgroup label="Pretrained on ImageNet: downloaded from the Hugging Face hub once, then cached">
                        { for CHECKPOINTS.iter().map(|c| html! {
                            <option value={c.value()} selected={name == c.value()}>{ c.label() }</option>
                        }) }
                    </optgroup>
                </select>
            </label>
            <span class="hub">
                <input type="text" data-testid="hub-id" aria-label="Hugging Face hub model id"
                       placeholder="hub id, e.g. timm/seresnet50.a1_in1k" value={(*hub_id).clone()}
                       oninput={on_hub_input} />
                <button data-testid="hub-load" onclick={on_hub_load}>{ "Load from the hub" }</button>
            </span>
            <label class="button">
                { "Load a model (.onnx, or config.json + model.safetensors)…" }
                <input type="file" multiple=true accept=".onnx,.data,.bin,.txt,.json,.safetensors,.pth" data-testid="model-files"
                       class="visually-hidden" onchange={on_files} />
            </label>
            <BackendPicker preference={props.preference} backend={props.backend.clone()}
                           badge={props.badge.clone()} on_backend={props.on_backend.clone()} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct BackendPickerProps {
    preference: BackendPreference,
    backend: Option<BackendSummary>,
    badge: String,
    on_backend: Callback<BackendPreference>,
}

/// The backend picker, the badge (what computed the shown result, or what the next run uses)
/// and, when the GPU was asked for but is not used, why; or why `auto` chose what it chose.
#[function_component(BackendPicker)]
fn backend_picker(props: &BackendPickerProps) -> Html {
    let backend = props.backend.as_ref();
    let option = |value: &str, label: &str, preference: BackendPreference| {
        html! { <option value={value.to_string()} selected={props.preference == preference}>{ label }</option> }
    };
    let onchange = props.on_backend.reform(|event: Event| {
        let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
        BackendPreference::parse(&select.value()).unwrap_or(BackendPreference::Auto)
    });
    html! {
        <>
            <label>{ "Backend " }
                <select data-testid="backend-select" aria-label="backend" {onchange}>
                    { option("auto", "auto", BackendPreference::Auto) }
                    { option("webgpu", "WebGPU", BackendPreference::Gpu) }
                    { option("cpu", "CPU", BackendPreference::Cpu) }
                </select>
            </label>
            <span data-testid="backend-badge" class="badge" title={backend.and_then(|b| b.adapter.clone())}>{ &props.badge }</span>
            if let Some(reason) = backend.and_then(|b| b.fallback_reason.as_ref()) {
                <span class="note" data-testid="fallback-reason">
                    { format!("WebGPU not used, running on the CPU: {reason}") }
                </span>
            }
            if let Some(note) = backend.and_then(|b| b.note.as_ref()) {
                <span class="note" data-testid="backend-note">{ note }</span>
            }
        </>
    }
}

/// The files of a file list.
pub fn files_of(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

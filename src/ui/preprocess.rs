//! The preprocessing form under an ONNX model's note: an ONNX file carries no preprocessing, so
//! the page lets the user set it; applying writes it to the URL and loads the model again.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::view_model::Preprocessing;

#[derive(Properties, PartialEq)]
pub struct PreprocessFormProps {
    /// What the model runs with now.
    pub values: Preprocessing,
    pub on_apply: Callback<Preprocessing>,
}

#[function_component(PreprocessForm)]
pub fn preprocess_form(props: &PreprocessFormProps) -> Html {
    let refs = use_memo((), |_| -> [NodeRef; 7] { Default::default() });
    let apply = {
        let refs = refs.clone();
        let on_apply = props.on_apply.clone();
        let fixed_size = props.values.size.is_none();
        let shown = props.values.clone();
        Callback::from(move |_: MouseEvent| {
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .or_else(|| r.cast::<HtmlSelectElement>().map(|select| select.value()))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            let form = Preprocessing {
                size: (!fixed_size).then(|| value(&refs[0])),
                interp: value(&refs[1]),
                crop: value(&refs[2]),
                mean: value(&refs[3]),
                std: value(&refs[4]),
                scale: value(&refs[5]),
                channels: value(&refs[6]),
            };
            on_apply.emit(form.submitted(&shown))
        })
    };
    let v = &props.values;
    let select = |r: &NodeRef, id: &str, current: &str, options: &[(&str, &str)]| {
        html! {
            <select ref={r.clone()} data-testid={format!("onnx-{id}")} aria-label={id.to_string()}>
                { for options.iter().map(|(value, label)| html! {
                    <option value={value.to_string()} selected={*value == current}>{ *label }</option>
                }) }
            </select>
        }
    };
    let input = |r: &NodeRef, id: &str, value: &str, disabled: bool| {
        html! {
            <input ref={r.clone()} data-testid={format!("onnx-{id}")} aria-label={id.to_string()}
                value={value.to_string()} disabled={disabled} size="22" />
        }
    };
    html! {
        <details class="preprocess" data-testid="onnx-form">
            <summary>{ "Change the preprocessing" }</summary>
            <div class="preprocess-fields">
                <label>{ "Input size (H or HxW) " }
                    { input(&refs[0], "size", v.size.as_deref().unwrap_or("fixed by the file"), v.size.is_none()) }
                </label>
                <label>{ "Resize " }
                    { select(&refs[1], "interp", &v.interp, &[("bilinear", "bilinear"), ("bicubic", "bicubic")]) }
                </label>
                <label>{ "Centre crop (fraction kept) " }{ input(&refs[2], "crop", &v.crop, false) }</label>
                <label>{ "Mean (in the model's channel order) " }{ input(&refs[3], "mean", &v.mean, false) }</label>
                <label>{ "Std " }{ input(&refs[4], "std", &v.std, false) }</label>
                <label>{ "Mean and std on pixels " }
                    { select(&refs[5], "scale", &v.scale, &[("1", "0–1"), ("255", "0–255")]) }
                </label>
                <label>{ "Channel order " }
                    { select(&refs[6], "channels", &v.channels, &[("rgb", "R, G, B"), ("bgr", "B, G, R")]) }
                </label>
                <button data-testid="onnx-apply" onclick={apply}>{ "Apply and reload the model" }</button>
            </div>
        </details>
    }
}

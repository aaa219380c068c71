//! The few browser calls the app makes: fetch, decode an image with the browser, draw pixels,
//! read and write the URL, make download links. Errors come back as text the page can show.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use crate::model::{ModelError, MAX_MODEL_BYTES};
use crate::preprocess::{self, RgbImage};

/// Bytes of a file's head read to find the image size it declares (JPEG's size marker comes
/// after the EXIF block, at most 64 KiB).
const HEADER_BYTES: f64 = 256.0 * 1024.0;

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no window".to_string())
}

// What a page and a worker (the engine worker, `src/ui/worker.rs`) both have, on the global scope.
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = createImageBitmap, catch)]
    fn create_image_bitmap(blob: &Blob) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(thread_local_v2, js_name = caches)]
    static CACHES: Option<web_sys::CacheStorage>;
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

pub fn describe(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

async fn fetch(url: &str) -> Result<web_sys::Response, String> {
    let response = JsFuture::from(global_fetch(url))
        .await
        .map_err(|e| format!("cannot fetch {url}: {}", describe(e)))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("cannot fetch {url}: HTTP {}", response.status()));
    }
    Ok(response)
}

/// The body of `url` (relative to the page).
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = fetch(url).await?;
    let buffer = JsFuture::from(response.array_buffer().map_err(describe)?)
        .await
        .map_err(|e| format!("cannot read {url}: {}", describe(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The body of `url`, from the Cache API's `cache` when it is there (else fetched, reporting
/// `(bytes so far, total if known)` to `progress` as it arrives, then stored in the cache).
pub async fn fetch_cached(
    url: &str,
    cache: &str,
    progress: impl Fn(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let cache = open_cache(cache).await;
    if let Some(cache) = &cache {
        if let Ok(hit) = JsFuture::from(cache.match_with_str(url)).await {
            if let Ok(response) = hit.dyn_into::<web_sys::Response>() {
                let buffer = JsFuture::from(response.array_buffer().map_err(describe)?)
                    .await
                    .map_err(|e| format!("cannot read {url} from the cache: {}", describe(e)))?;
                let bytes = Uint8Array::new(&buffer).to_vec();
                progress(bytes.len() as u64, Some(bytes.len() as u64));
                return Ok(bytes);
            }
        }
    }
    let response = fetch(url).await?;
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    if let Some(size) = total.filter(|&size| size > MAX_MODEL_BYTES) {
        return Err(ModelError::TooLarge {
            what: url.into(),
            size,
        }
        .to_string());
    }
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(MAX_MODEL_BYTES) as usize);
    let reader: web_sys::ReadableStreamDefaultReader = response
        .body()
        .ok_or_else(|| format!("{url}: empty response"))?
        .get_reader()
        .unchecked_into();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("download of {url} failed: {}", describe(e)))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).is_ok_and(|d| d.is_truthy());
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(describe)?;
        bytes.extend(Uint8Array::new(&value).to_vec());
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            let _ = reader.cancel();
            let size = bytes.len() as u64;
            return Err(ModelError::TooLarge {
                what: url.into(),
                size,
            }
            .to_string());
        }
        progress(bytes.len() as u64, total);
    }
    if let Some(cache) = &cache {
        // A copy in JavaScript's own memory: with threads, wasm memory is shared, and web APIs
        // refuse views of shared memory.
        let copy = Uint8Array::from(&bytes[..]);
        if let Ok(copy) = web_sys::Response::new_with_opt_buffer_source(Some(&copy)) {
            let _ = JsFuture::from(cache.put_with_str(url, &copy)).await;
        }
    }
    Ok(bytes)
}

/// A small setting kept across visits under `key` in the Cache API's `se-lens-settings-<name>`
/// (a page and a worker both have it; `localStorage` is the page's only). `None` where there is
/// none (insecure contexts) or nothing was kept.
pub async fn setting(name: &str, key: &str) -> Option<String> {
    let cache = open_cache(&format!("se-lens-settings-{name}")).await?;
    let hit = JsFuture::from(cache.match_with_str(&setting_url(key)))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    JsFuture::from(hit.text().ok()?).await.ok()?.as_string()
}

/// Keeps `value` for [`setting`] (silently not, where there is no Cache API).
pub async fn keep_setting(name: &str, key: &str, value: &str) {
    let Some(cache) = open_cache(&format!("se-lens-settings-{name}")).await else {
        return;
    };
    if let Ok(response) = web_sys::Response::new_with_opt_str(Some(value)) {
        let _ = JsFuture::from(cache.put_with_str(&setting_url(key), &response)).await;
    }
}

fn setting_url(key: &str) -> String {
    format!("./se-lens-setting/{}", js_sys::encode_uri_component(key))
}

/// The named Cache API cache, or `None` where there is none (insecure contexts).
async fn open_cache(name: &str) -> Option<web_sys::Cache> {
    let caches = CACHES.with(Clone::clone)?;
    JsFuture::from(caches.open(name))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// The contents of a Blob (a dropped or chosen file).
pub async fn read_blob(blob: &Blob) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("cannot read the file: {}", describe(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The camera's video stream (the browser asks the user first), or why there is none.
pub async fn open_camera() -> Result<web_sys::MediaStream, String> {
    let devices = window()?.navigator().media_devices().map_err(|_| {
        "this browser gives no camera access (it needs https or localhost)".to_string()
    })?;
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    let stream = JsFuture::from(
        devices
            .get_user_media_with_constraints(&constraints)
            .map_err(describe)?,
    )
    .await
    .map_err(|e| format!("no camera: {}", describe(e)))?;
    Ok(stream.unchecked_into())
}

/// Stops every track of `stream` (the camera light goes off).
pub fn close_camera(stream: &web_sys::MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}

/// The video's current frame.
pub fn capture_frame(video: &web_sys::HtmlVideoElement) -> Result<ImageData, String> {
    let (width, height) = (video.video_width(), video.video_height());
    if width == 0 || height == 0 {
        return Err("the camera has not delivered a frame yet".into());
    }
    let (_canvas, context) = canvas(width, height)?;
    context
        .draw_image_with_html_video_element(video, 0.0, 0.0)
        .map_err(describe)?;
    context
        .get_image_data(0.0, 0.0, f64::from(width), f64::from(height))
        .map_err(describe)
}

/// RGB pixels from `width × height` RGBA ones (alpha dropped).
pub fn rgb_of_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<RgbImage, String> {
    if rgba.len() != width as usize * height as usize * 4 {
        return Err(format!(
            "{} bytes are not {width}×{height} RGBA pixels",
            rgba.len()
        ));
    }
    let pixels = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    RgbImage::new(width as usize, height as usize, pixels).map_err(|e| e.to_string())
}

/// Decodes an image file with the browser (`createImageBitmap`, EXIF orientation applied) into
/// RGB pixels; transparent pixels are composited on white. Files over
/// [`preprocess::MAX_IMAGE_PIXELS`] are refused: by the size their header declares, before the
/// browser decodes anything, and again by the decoded size.
pub async fn decode_image(blob: &Blob) -> Result<RgbImage, String> {
    if blob.size() == 0.0 {
        return Err("the file is empty".into());
    }
    let head = blob
        .slice_with_f64_and_f64(0.0, HEADER_BYTES)
        .map_err(describe)?;
    preprocess::check_declared_size(&read_blob(&head).await?).map_err(|e| e.to_string())?;
    let not_an_image =
        |e: JsValue| format!("not an image the browser can decode ({})", describe(e));
    let bitmap = JsFuture::from(create_image_bitmap(blob).map_err(not_an_image)?)
        .await
        .map_err(not_an_image)?;
    rgb_of_bitmap(bitmap.unchecked_into())
}

/// The pixels of `bitmap` (closed after), composited on white, in an `OffscreenCanvas`: a page
/// and a worker decode the same way.
pub fn rgb_of_bitmap(bitmap: web_sys::ImageBitmap) -> Result<RgbImage, String> {
    let (width, height) = (bitmap.width(), bitmap.height());
    let checked = if width == 0 || height == 0 {
        Err("the image is empty (0 pixels)".to_string())
    } else {
        preprocess::check_pixels(width.into(), height.into()).map_err(|e| e.to_string())
    };
    if let Err(e) = checked {
        bitmap.close();
        return Err(e);
    }
    let canvas = web_sys::OffscreenCanvas::new(width, height).map_err(describe)?;
    let context: web_sys::OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(describe)?
        .ok_or("no 2D canvas")?
        .unchecked_into();
    context.set_fill_style_str("#ffffff");
    context.fill_rect(0.0, 0.0, f64::from(width), f64::from(height));
    let drawn = context.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0);
    bitmap.close();
    drawn.map_err(describe)?;
    let rgba = context
        .get_image_data(0.0, 0.0, f64::from(width), f64::from(height))
        .map_err(describe)?
        .data();
    rgb_of_rgba(width, height, &rgba)
}

fn canvas(
    width: u32,
    height: u32,
) -> Result<(HtmlCanvasElement, CanvasRenderingContext2d), String> {
    let canvas: HtmlCanvasElement = window()?
        .document()
        .ok_or("no document")?
        .create_element("canvas")
        .map_err(describe)?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let context = context_2d(&canvas)?;
    Ok((canvas, context))
}

fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .map_err(describe)?
        .ok_or_else(|| "no 2D canvas".to_string())
        .map(|c| c.unchecked_into())
}

/// Draws RGBA pixels (`width × height`) onto `canvas`, resizing it to that many pixels (CSS
/// scales it up, pixelated).
pub fn draw_rgba(canvas: &HtmlCanvasElement, width: usize, height: usize, rgba: &[u8]) {
    let draw = || -> Result<(), String> {
        canvas.set_width(width as u32);
        canvas.set_height(height as u32);
        let data = image_data(width, height, rgba)?;
        context_2d(canvas)?
            .put_image_data(&data, 0.0, 0.0)
            .map_err(describe)
    };
    if let Err(e) = draw() {
        web_sys::console::warn_1(&format!("cannot draw: {e}").into());
    }
}

/// `width × height` RGBA pixels as an `ImageData`, copied out of wasm memory: with threads it is
/// shared, and ImageData refuses that.
pub fn image_data(width: usize, height: usize, rgba: &[u8]) -> Result<ImageData, String> {
    let pixels = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    pixels.copy_from(rgba);
    ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width as u32, height as u32)
        .map_err(describe)
}

/// `canvas` enlarged `scale` times without smoothing (crisp cells), as a PNG data URL.
pub fn png_data_url(canvas: &HtmlCanvasElement, scale: u32) -> Option<String> {
    let (width, height) = (canvas.width() * scale, canvas.height() * scale);
    let (large, context) = self::canvas(width, height).ok()?;
    context.set_image_smoothing_enabled(false);
    context
        .draw_image_with_html_canvas_element_and_dw_and_dh(
            canvas,
            0.0,
            0.0,
            f64::from(width),
            f64::from(height),
        )
        .ok()?;
    large.to_data_url_with_type("image/png").ok()
}

/// Makes the browser download `url` as `filename` (through a temporary link).
pub fn download(url: &str, filename: &str) {
    let link = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(link) = link {
        link.set_href(url);
        link.set_download(filename);
        link.click();
    }
}

/// Draws an RGB image onto `canvas`.
pub fn draw_rgb(canvas: &HtmlCanvasElement, image: &RgbImage) {
    let rgba: Vec<u8> = image
        .pixels
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    draw_rgba(canvas, image.width, image.height, &rgba);
}

/// A `URL.createObjectURL` for `contents` (download links); `None` if the browser refuses.
pub fn object_url(contents: &str, mime: &str) -> Option<String> {
    let parts = Array::of1(&JsValue::from_str(contents));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Releases a URL made by [`object_url`].
pub fn revoke_object_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// The value of `?name=` in the page's URL.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Sets (or with `None` removes) `?name=` in the address bar without reloading, so the view
/// can be shared.
pub fn set_query_param(name: &str, value: Option<&str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let href = window.location().href().unwrap_or_default();
    let Ok(url) = web_sys::Url::new(&href) else {
        return;
    };
    match value {
        Some(value) => url.search_params().set(name, value),
        None => url.search_params().delete(name),
    }
    // (A same-document navigation costs the page about 5 ms: none when nothing changes.)
    if url.href() == href {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url.href()));
    }
}

/// Milliseconds since the page (or worker) started (`performance.now()`).
pub fn now_ms() -> f64 {
    performance_now()
}

/// Routes panics to the page (www/crash.js) or the engine worker: a panic aborts the wasm instance, so the message and
/// the way back (a fresh instance) must live in JavaScript.
pub fn report_panics() {
    // Through Yew, which would otherwise install its own hook when it starts rendering.
    yew::set_custom_panic_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("SE Lens panicked: {message}").into());
        // A page's (www/crash.js) or the engine worker's (www/engine-worker.js).
        let crashed = js_sys::Reflect::get(&js_sys::global(), &"seLensCrashed".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(crashed) = crashed {
            let _ = crashed.call1(&JsValue::NULL, &message.into());
        }
    }));
}

/// Tells the page's scripts that something happened: `event` dispatched on `window`.
pub fn announce(event: &str) {
    if let (Some(window), Ok(event)) = (web_sys::window(), web_sys::Event::new(event)) {
        let _ = window.dispatch_event(&event);
    }
}

/// Keeps `value` under `key` outside wasm memory (`window.seLensKept`), so a restart after a crash
/// finds it; `None` forgets it.
pub fn keep(key: &str, value: Option<&JsValue>) {
    if let Some(kept) = kept_object() {
        let _ = js_sys::Reflect::set(&kept, &key.into(), value.unwrap_or(&JsValue::UNDEFINED));
    }
}

/// What [`keep`] kept under `key`.
pub fn kept(key: &str) -> Option<JsValue> {
    let value = js_sys::Reflect::get(&kept_object()?.into(), &key.into()).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

fn kept_object() -> Option<js_sys::Object> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"seLensKept".into())
        .ok()?
        .dyn_into()
        .ok()
}

//! Image → normalised input tensor, exactly as timm's eval transform makes it.
//!
//! timm (`create_transform(**resolve_data_config({}, model=model))`) runs, on a PIL RGB image:
//! a PIL resize (see [`resample`]), torchvision's `CenterCrop` (or timm's `CenterCropOrPad` in
//! `border` mode), `ToTensor` (`/255`) and `Normalize` (`(x − mean) / std`, in `f32`). Each step
//! is reproduced here with the same integer sizes, rounding rules and float operations, so a PNG
//! gives the same tensor as timm to the last bit.

mod photo;
mod resample;

use std::ops::Range;

pub use photo::{adapt_photo, item_on_black};
pub use resample::{resize, Filter};
use resample::{resize_window, Window};

use crate::engine::Tensor;
use crate::model::PretrainedCfg;

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// Checks that `pixels` holds exactly `width × height` RGB pixels.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, PreprocessError> {
        let image = Self {
            width,
            height,
            pixels,
        };
        image.check()?;
        Ok(image)
    }

    fn check(&self) -> Result<(), PreprocessError> {
        let expected = self.width * self.height * 3;
        if self.pixels.len() != expected {
            return Err(PreprocessError::PixelBufferSize {
                width: self.width,
                height: self.height,
                expected,
                actual: self.pixels.len(),
            });
        }
        Ok(())
    }

    /// PIL's `convert('L')` (ITU-R 601 luma in 16-bit fixed point), kept as three equal channels:
    /// the resampler treats channels independently, so channel 0 of the result is exactly what
    /// PIL gives for the `L` image, and one code path serves 1- and 3-channel models.
    fn to_luma(&self) -> Self {
        let pixels = self
            .pixels
            .chunks_exact(3)
            .flat_map(|p| {
                let [r, g, b] = [p[0], p[1], p[2]].map(u32::from);
                [((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8; 3]
            })
            .collect();
        Self {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("unsupported interpolation `{0}` (SE Lens reproduces `bicubic` and `bilinear`)")]
    UnsupportedInterpolation(String),
    #[error("unsupported crop_mode `{0}` (expected `center`, `squash` or `border`)")]
    UnsupportedCropMode(String),
    #[error("invalid pretrained_cfg: {0}")]
    InvalidConfig(String),
    #[error("the image is empty ({width}×{height} pixels)")]
    EmptyImage { width: usize, height: usize },
    #[error(
        "the image is {width}×{height}; at most {} megapixels are accepted",
        MAX_IMAGE_PIXELS / 1_000_000
    )]
    TooManyPixels { width: u64, height: u64 },
    #[error(
        "a {width}×{height} image is too elongated: resizing it for the model leaves \
         {resized_width}×{resized_height} pixels"
    )]
    ImageTooSmall {
        width: usize,
        height: usize,
        resized_width: usize,
        resized_height: usize,
    },
    #[error(
        "the pixel buffer holds {actual} bytes, but a {width}×{height} RGB image needs {expected}"
    )]
    PixelBufferSize {
        width: usize,
        height: usize,
        expected: usize,
        actual: usize,
    },
}

/// The most pixels an image may have (50 megapixels: a phone camera's photo fits; a decompression
/// bomb does not). Checked on the size a file declares before it is decoded, and after decoding.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// Refuses an image whose header declares more than [`MAX_IMAGE_PIXELS`], before anything is
/// decoded. Headers this build cannot read (formats other than PNG and JPEG, damaged files) pass:
/// the decoder then refuses them or the size is checked after decoding.
pub fn check_declared_size(bytes: &[u8]) -> Result<(), PreprocessError> {
    match declared_size(bytes) {
        Some((width, height)) => check_pixels(u64::from(width), u64::from(height)),
        None => Ok(()),
    }
}

/// The size a file's header declares, for PNG (IHDR), GIF (logical screen), JPEG (the first
/// start-of-frame marker) and WebP (lossy, lossless and extended). Read by hand: the page decodes
/// with the browser and needs only this of a file first; the `imagesize` crate, which reads these
/// and a dozen formats browsers do not decode, added 38 KB (3%) to the page's wasm (measured on
/// 2026-12-01 with `wasm-opt -Oz`).
fn declared_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| {
        Some(u32::from(u16::from_le_bytes(
            bytes.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        return Some((be(16)?, be(20)?));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some((le16(6)?, le16(8)?));
    }
    if bytes.starts_with(&[0xff, 0xd8]) {
        return jpeg_frame_size(bytes);
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return webp_size(bytes);
    }
    None
}

/// A WebP's canvas size, from the first chunk after `RIFF....WEBP`.
fn webp_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let le = |at: usize, len: usize| {
        let mut value = [0u8; 4];
        value[..len].copy_from_slice(bytes.get(at..at + len)?);
        Some(u32::from_le_bytes(value))
    };
    match bytes.get(12..16)? {
        // Extended: the canvas, 24 bits each, minus one.
        b"VP8X" => Some((le(24, 3)? + 1, le(27, 3)? + 1)),
        // Lossless: after the 0x2f signature, 14 bits each, minus one.
        b"VP8L" if bytes.get(20) == Some(&0x2f) => {
            let bits = le(21, 4)?;
            Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
        }
        // Lossy: a key frame's start code, then 14 bits each.
        b"VP8 " if bytes.get(23..26) == Some(&[0x9d, 0x01, 0x2a]) => {
            Some((le(26, 2)? & 0x3fff, le(28, 2)? & 0x3fff))
        }
        _ => None,
    }
}

/// Walks a JPEG's marker segments to its first SOFn (baseline, progressive, lossless, …).
fn jpeg_frame_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| {
        Some(u32::from(u16::from_be_bytes(
            bytes.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let mut at = 2;
    loop {
        while *bytes.get(at)? != 0xff {
            at += 1;
        }
        while *bytes.get(at)? == 0xff {
            at += 1; // fill bytes
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            0xd0..=0xd9 | 0x01 => continue, // RSTn, SOI, EOI, TEM: no length
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                return Some((be16(at + 5)?, be16(at + 3)?));
            }
            _ => at += usize::try_from(be16(at)?).ok()?,
        }
    }
}

/// Refuses `width × height` above [`MAX_IMAGE_PIXELS`].
pub fn check_pixels(width: u64, height: u64) -> Result<(), PreprocessError> {
    match width.saturating_mul(height) > MAX_IMAGE_PIXELS {
        true => Err(PreprocessError::TooManyPixels { width, height }),
        false => Ok(()),
    }
}

/// Decodes a PNG or JPEG into RGB8 as PIL's `Image.open(…).convert('RGB')` does: grayscale is
/// replicated, alpha is dropped (not composited), 16-bit RGB keeps the high byte (PIL's PNG
/// reader), and 16-bit grayscale is clipped to 255 (PIL's `I;16` → `RGB` conversion).
///
/// PNG decodes are identical to PIL's; JPEG decoders differ from libjpeg-turbo by a level or so.
/// EXIF orientation is ignored, as PIL and timm ignore it.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
    use image::DynamicImage;

    check_declared_size(bytes)?;
    let decoded =
        image::load_from_memory(bytes).map_err(|e| PreprocessError::Decode(e.to_string()))?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let high_byte = |v: u16| (v >> 8) as u8;
    let pixels: Vec<u8> = match decoded {
        DynamicImage::ImageRgb8(image) => image.into_raw(),
        DynamicImage::ImageRgba8(image) => drop_alpha(image.as_raw(), 4),
        DynamicImage::ImageLuma8(image) => gray(image.as_raw().iter().copied()),
        DynamicImage::ImageLumaA8(image) => gray(image.as_raw().iter().step_by(2).copied()),
        DynamicImage::ImageLuma16(image) => gray(image.as_raw().iter().map(|&v| v.min(255) as u8)),
        DynamicImage::ImageLumaA16(image) => {
            gray(image.as_raw().iter().step_by(2).map(|&v| high_byte(v)))
        }
        DynamicImage::ImageRgb16(image) => image.as_raw().iter().map(|&v| high_byte(v)).collect(),
        DynamicImage::ImageRgba16(image) => image
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]].map(high_byte))
            .collect(),
        other => other.to_rgb8().into_raw(),
    };
    RgbImage::new(width, height, pixels)
}

fn gray(values: impl Iterator<Item = u8>) -> Vec<u8> {
    values.flat_map(|v| [v; 3]).collect()
}

fn drop_alpha(pixels: &[u8], channels: usize) -> Vec<u8> {
    pixels
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Resizes, crops and normalises `image` for a model: `[1, C, H, W]` with `C, H, W` from
/// `cfg.input_size`, equal to timm's eval transform for that `pretrained_cfg`. A 1-channel model
/// gets the image's luma, as timm's scripts load images with `convert('L')` for such models.
pub fn preprocess(image: &RgbImage, cfg: &PretrainedCfg) -> Result<Tensor, PreprocessError> {
    let filter = Filter::from_timm_name(&cfg.interpolation)
        .ok_or_else(|| PreprocessError::UnsupportedInterpolation(cfg.interpolation.clone()))?;
    let [channels, crop_height, crop_width] = cfg.input_size;
    if !matches!(channels, 1 | 3) || crop_height == 0 || crop_width == 0 {
        return Err(PreprocessError::InvalidConfig(format!(
            "input_size {:?} is not [3 or 1, H, W]",
            cfg.input_size
        )));
    }
    image.check()?;
    if image.width == 0 || image.height == 0 {
        return Err(PreprocessError::EmptyImage {
            width: image.width,
            height: image.height,
        });
    }

    let mean = per_channel(&cfg.mean, channels, "mean")?;
    let std = per_channel(&cfg.std, channels, "std")?;
    let luma;
    let image = if channels == 1 {
        luma = image.to_luma();
        &luma
    } else {
        image
    };
    let (resized_width, resized_height, fill) = resized_size(image, cfg, mean)?;
    if resized_width == 0 || resized_height == 0 {
        return Err(PreprocessError::ImageTooSmall {
            width: image.width,
            height: image.height,
            resized_width,
            resized_height,
        });
    }
    let columns = CropAxis::new(resized_width, crop_width);
    let rows = CropAxis::new(resized_height, crop_height);
    let window = Window {
        columns: columns.visible(),
        rows: rows.visible(),
    };
    let visible = resize_window(image, resized_width, resized_height, &window, filter);
    Ok(normalise(
        &visible, channels, &columns, &rows, fill, mean, std,
    ))
}

/// A `mean`/`std` list as one value per RGB channel: a single value applies to every channel
/// (torch broadcasts it the same way); a 1-channel model uses only the first.
fn per_channel(values: &[f32], channels: usize, name: &str) -> Result<[f32; 3], PreprocessError> {
    match (channels, values) {
        (_, &[v]) => Ok([v; 3]),
        (3, &[r, g, b]) => Ok([r, g, b]),
        _ => Err(PreprocessError::InvalidConfig(format!(
            "{name} has {} values for {channels} channels",
            values.len()
        ))),
    }
}

/// The size timm resizes `image` to for `cfg`, and the colour its crop pads with.
fn resized_size(
    image: &RgbImage,
    cfg: &PretrainedCfg,
    mean: [f32; 3],
) -> Result<(usize, usize, [u8; 3]), PreprocessError> {
    // timm: `crop_pct = crop_pct or DEFAULT_CROP_PCT`, so 0 means the default.
    let crop_pct = if cfg.crop_pct == 0.0 {
        0.875
    } else {
        cfg.crop_pct
    };
    if !(crop_pct.is_finite() && crop_pct > 0.0) {
        return Err(PreprocessError::InvalidConfig(format!(
            "crop_pct {}",
            cfg.crop_pct
        )));
    }
    let [_, crop_height, crop_width] = cfg.input_size;
    // Python's `math.floor(size / crop_pct)`: the same f64 division.
    let scale_height = (crop_height as f64 / crop_pct).floor() as usize;
    let scale_width = (crop_width as f64 / crop_pct).floor() as usize;
    let (width, height) = (image.width, image.height);
    let black = [0; 3];
    match cfg.crop_mode.as_str() {
        "center" if scale_height == scale_width => {
            // torchvision `Resize(int)`: the short side becomes `scale`, the long side
            // `int(scale * long / short)` (truncated).
            let scale = scale_height;
            let long_side =
                |long: usize, short: usize| (scale as f64 * long as f64 / short as f64) as usize;
            Ok(if width <= height {
                (scale, long_side(height, width), black)
            } else {
                (long_side(width, height), scale, black)
            })
        }
        "center" => {
            let (w, h) = keep_ratio(image, scale_width, scale_height, false);
            Ok((w, h, black))
        }
        "squash" => Ok((scale_width, scale_height, black)),
        "border" => {
            let (w, h) = keep_ratio(image, scale_width, scale_height, true);
            // timm fills with `round(255 * mean)` (Python rounds half to even); our mean is the
            // config's value as f32, which rounds the same for any realistic mean.
            let fill =
                mean.map(|m| (255.0 * f64::from(m)).round_ties_even().clamp(0.0, 255.0) as u8);
            Ok((w, h, fill))
        }
        other => Err(PreprocessError::UnsupportedCropMode(other.into())),
    }
}

/// timm's `ResizeKeepRatio`: scale both sides by the ratio of the shorter (or, with `longest`,
/// the longer) side to its target, rounding half to even like Python's `round`.
fn keep_ratio(
    image: &RgbImage,
    target_width: usize,
    target_height: usize,
    longest: bool,
) -> (usize, usize) {
    let ratio_height = image.height as f64 / target_height as f64;
    let ratio_width = image.width as f64 / target_width as f64;
    let ratio = if longest {
        ratio_height.max(ratio_width)
    } else {
        ratio_height.min(ratio_width)
    };
    let side = |size: usize| (size as f64 / ratio).round_ties_even() as usize;
    (side(image.width), side(image.height))
}

/// torchvision's center crop along one axis, padding first when the crop is the larger.
#[derive(Debug)]
struct CropAxis {
    /// Resized pixel at crop index 0; negative when the crop starts in the padding.
    offset: isize,
    size: usize,
    crop: usize,
}

impl CropAxis {
    fn new(size: usize, crop: usize) -> Self {
        let offset = if crop > size {
            // Pads `(crop − size) // 2` before, the rest after; the padded axis is then the crop.
            -(((crop - size) / 2) as isize)
        } else {
            // `int(round((size − crop) / 2.0))`: half to even.
            ((size - crop) as f64 / 2.0).round_ties_even() as isize
        };
        Self { offset, size, crop }
    }

    /// The resized pixels the crop shows.
    fn visible(&self) -> Range<usize> {
        let start = self.offset.max(0) as usize;
        let end = (self.offset + self.crop as isize).min(self.size as isize) as usize;
        start..end.max(start)
    }

    /// The index into the visible pixels for crop index `i`, or `None` in the padding.
    fn source(&self, i: usize) -> Option<usize> {
        let resized = self.offset + i as isize;
        (resized >= 0 && (resized as usize) < self.size)
            .then(|| resized as usize - self.visible().start)
    }
}

/// `ToTensor` + `Normalize` over the crop, in torch's f32 operations: `(v / 255 − mean) / std`.
fn normalise(
    visible: &RgbImage,
    channels: usize,
    columns: &CropAxis,
    rows: &CropAxis,
    fill: [u8; 3],
    mean: [f32; 3],
    std: [f32; 3],
) -> Tensor {
    let (height, width) = (rows.crop, columns.crop);
    let source_columns: Vec<_> = (0..width).map(|x| columns.source(x)).collect();
    let mut data = Vec::with_capacity(channels * height * width);
    for channel in 0..channels {
        let (mean, std) = (mean[channel], std[channel]);
        for y in 0..height {
            let source_row = rows.source(y);
            for &source_column in &source_columns {
                let value = match (source_row, source_column) {
                    (Some(sy), Some(sx)) => visible.pixels[(sy * visible.width + sx) * 3 + channel],
                    _ => fill[channel],
                };
                data.push((f32::from(value) / 255.0 - mean) / std);
            }
        }
    }
    Tensor::new([1, channels, height, width], data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG signature and header declaring `width × height`, and nothing else.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        let crc = crc32(&ihdr);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(13u32.to_be_bytes());
        png.extend(ihdr);
        png.extend(crc.to_be_bytes());
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_decompression_bomb_is_refused_by_its_header_before_decoding() {
        let bomb = png_header(100_000, 100_000);
        let message = decode(&bomb).expect_err("refused").to_string();
        assert_eq!(
            message,
            "the image is 100000×100000; at most 50 megapixels are accepted"
        );
        assert!(check_declared_size(&png_header(7_000, 7_000)).is_ok());
        // GIF's logical screen is read too; headers this build cannot read pass the pre-check
        // (the decoder decides).
        assert!(check_declared_size(b"GIF89a\x10\x27\x10\x27").is_err());
        assert!(check_declared_size(b"RIFF\x00\x00\x00\x00WEBPVP8 ").is_ok());
        // WebP: extended (16384 × 16384 canvas), lossless (16384 × 16384) and lossy (16383 × 100).
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        vp8x.extend([0xff, 0x3f, 0x00, 0xff, 0x3f, 0x00]);
        assert_eq!(declared_size(&vp8x), Some((16_384, 16_384)));
        let vp8l = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f\xff\xff\xff\x0f";
        assert_eq!(declared_size(vp8l), Some((16_384, 16_384)));
        assert!(check_declared_size(vp8l).is_err());
        let vp8 = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\x9d\x01\x2a\xff\x3f\x64\x00";
        assert_eq!(declared_size(vp8), Some((16_383, 100)));
        for (file, size) in [
            (
                &include_bytes!("../../tests/fixtures/preprocess/lossy_123x45.webp")[..],
                (123, 45),
            ),
            (
                include_bytes!("../../tests/fixtures/preprocess/lossless_123x45.webp"),
                (123, 45),
            ),
            (
                include_bytes!("../../tests/fixtures/preprocess/alpha_77x31.webp"),
                (77, 31),
            ),
        ] {
            assert_eq!(declared_size(file), Some(size));
        }
        // A JPEG's frame header, after an APP0 segment: 20000 × 10000.
        let jpeg = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08\x27\x10\x4e\x20\x03";
        assert_eq!(declared_size(jpeg), Some((20_000, 10_000)));
        assert!(check_declared_size(jpeg).is_err());
        let real = include_bytes!("../../tests/fixtures/preprocess/chelsea_q90.jpg");
        let decoded = decode(real).expect("decodes");
        assert_eq!(
            declared_size(real),
            Some((decoded.width as u32, decoded.height as u32))
        );
        assert!(check_pixels(7_071, 7_071).is_ok() && check_pixels(7_072, 7_072).is_err());
    }

    fn cfg(input_size: [usize; 3], crop_pct: f64, crop_mode: &str) -> PretrainedCfg {
        PretrainedCfg {
            input_size,
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            interpolation: "bicubic".into(),
            crop_pct,
            crop_mode: crop_mode.into(),
        }
    }

    fn image(width: usize, height: usize) -> RgbImage {
        RgbImage {
            width,
            height,
            pixels: vec![128; width * height * 3],
        }
    }

    #[test]
    fn sizes_follow_timm() {
        let c = cfg([3, 224, 224], 0.875, "center");
        assert_eq!(
            resized_size(&image(451, 300), &c, [0.5; 3])
                .map(|r| (r.0, r.1))
                .ok(),
            Some((384, 256))
        );
        assert_eq!(
            resized_size(&image(300, 451), &c, [0.5; 3])
                .map(|r| (r.0, r.1))
                .ok(),
            Some((256, 384))
        );
        let squash = cfg([3, 160, 192], 0.95, "squash");
        assert_eq!(
            resized_size(&image(451, 300), &squash, [0.5; 3])
                .map(|r| (r.0, r.1))
                .ok(),
            Some((202, 168))
        );
    }

    #[test]
    fn crop_rounds_half_to_even_and_pads_centrally() {
        let odd = CropAxis::new(343, 224); // (343 − 224) / 2 = 59.5 → 60
        assert_eq!(odd.offset, 60);
        let padded = CropAxis::new(5, 10);
        assert_eq!((padded.offset, padded.visible()), (-2, 0..5));
        assert_eq!(
            (padded.source(1), padded.source(2), padded.source(7)),
            (None, Some(0), None)
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let bad_mode = preprocess(&image(8, 8), &cfg([3, 4, 4], 0.875, "random"));
        assert!(matches!(bad_mode, Err(PreprocessError::UnsupportedCropMode(m)) if m == "random"));
        let mut nearest = cfg([3, 4, 4], 0.875, "center");
        nearest.interpolation = "nearest".into();
        assert!(matches!(
            preprocess(&image(8, 8), &nearest),
            Err(PreprocessError::UnsupportedInterpolation(_))
        ));
        assert!(matches!(
            preprocess(&image(0, 8), &cfg([3, 4, 4], 0.875, "center")),
            Err(PreprocessError::EmptyImage { .. })
        ));
        let sliver = preprocess(&image(5000, 1), &cfg([3, 32, 32], 1.0, "border"));
        assert!(matches!(sliver, Err(PreprocessError::ImageTooSmall { .. })));
        assert!(matches!(
            decode(b"not an image"),
            Err(PreprocessError::Decode(_))
        ));
        let mut two_means = cfg([3, 4, 4], 0.875, "center");
        two_means.mean = vec![0.5, 0.5];
        assert!(matches!(
            preprocess(&image(8, 8), &two_means),
            Err(PreprocessError::InvalidConfig(_))
        ));
    }

    #[test]
    fn elongated_image_is_cheap_in_center_mode() {
        // The full resize would be 256 × 2.5 million pixels; only the crop is computed.
        let tensor = preprocess(&image(1, 10_000), &cfg([3, 224, 224], 0.875, "center"));
        assert_eq!(tensor.map(|t| t.shape).ok(), Some([1, 3, 224, 224]));
    }
}

//! Pillow's `Image.resize` for RGB8 images, bit for bit (bilinear and bicubic filters).
//!
//! timm's eval transform resizes with PIL, so matching PIL exactly is what lets our logits match
//! timm's. Pillow (libImaging/Resample.c) resizes in two separable passes, horizontal first:
//! - per output pixel it weighs the input pixels under a filter whose support widens by the
//!   downscale factor (antialiasing), normalises the weights to sum 1, and turns them into fixed
//!   point with [`PRECISION_BITS`] fraction bits;
//! - it accumulates `pixel × weight` in an `i32` starting from ½ (rounding), and clips the result
//!   to `u8` after *each* pass, so the vertical pass reads an 8-bit intermediate image;
//! - a pass whose dimension does not change is skipped (it would be the identity anyway).
//!
//! Every output pixel depends only on its own index, so resizing and then cropping equals
//! computing just the cropped pixels: [`resize_window`] does that, which keeps a very elongated
//! image (whose full resize would be huge) cheap.

use std::ops::Range;

use super::RgbImage;

/// Fraction bits of the fixed-point weights: 8 bits of pixel value and 2 bits of headroom (the
/// bicubic kernel's negative lobes let partial sums leave 0..=255) fill a 32-bit accumulator.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// `½` in fixed point: every accumulator starts here so that the final shift rounds.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// A PIL resampling filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `Image.BILINEAR`: the triangle filter, support 1.
    Bilinear,
    /// `Image.BICUBIC`: Keys' cubic with `a = −0.5`, support 2.
    Bicubic,
}

impl Filter {
    /// timm's name for the filter (`pretrained_cfg.interpolation`).
    pub fn from_timm_name(name: &str) -> Option<Self> {
        match name {
            "bilinear" => Some(Self::Bilinear),
            "bicubic" => Some(Self::Bicubic),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Self::Bilinear => 1.0,
            Self::Bicubic => 2.0,
        }
    }

    /// The kernel, evaluated in `f64` with Pillow's operation order (the weights must round the
    /// same way to give the same fixed-point values).
    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Self::Bilinear if x < 1.0 => 1.0 - x,
            Self::Bilinear => 0.0,
            Self::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// The input pixels one output pixel reads, and their fixed-point weights.
#[derive(Clone, Debug, PartialEq)]
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

impl Taps {
    fn sources(&self) -> Range<usize> {
        self.first..self.first + self.weights.len()
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the output pixels in `outputs`, when
/// `in_size` pixels (the whole axis: PIL's default box) are resampled to `out_size`.
fn taps(in_size: usize, out_size: usize, filter: Filter, outputs: Range<usize>) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter.support() * filter_scale;
    let inverse_filter_scale = 1.0 / filter_scale;
    let fixed_one = f64::from(1u32 << PRECISION_BITS);
    outputs
        .map(|out| {
            let center = (out as f64 + 0.5) * scale;
            // `as` truncates toward zero like Pillow's `(int)` casts; negatives clamp to 0 anyway.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64).clamp(0, in_size as i64) as usize;
            let raw: Vec<f64> = (first..end.max(first))
                .map(|x| filter.weight((x as f64 - center + 0.5) * inverse_filter_scale))
                .collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let half = if w < 0.0 { -0.5 } else { 0.5 };
                    (half + w * fixed_one) as i32
                })
                .collect();
            Taps { first, weights }
        })
        .collect()
}

/// Pillow's `clip8`: drop the fraction bits (flooring, as its arithmetic shift does), then clamp.
fn clip8(accumulator: i32) -> u8 {
    (accumulator >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The horizontal pass over `rows` of `image`: one output column per entry of `columns`.
fn convolve_rows(image: &RgbImage, rows: Range<usize>, columns: &[Taps]) -> RgbImage {
    let width = columns.len();
    let height = rows.len();
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in rows {
        let row = &image.pixels[y * image.width * 3..(y + 1) * image.width * 3];
        for taps in columns {
            let mut accumulator = [HALF; 3];
            let sources = &row[taps.sources().start * 3..taps.sources().end * 3];
            for (pixel, &weight) in sources.chunks_exact(3).zip(&taps.weights) {
                for (acc, &value) in accumulator.iter_mut().zip(pixel) {
                    *acc += i32::from(value) * weight;
                }
            }
            pixels.extend(accumulator.map(clip8));
        }
    }
    RgbImage {
        width,
        height,
        pixels,
    }
}

/// The vertical pass: `image` holds the source rows from `first_row` on; one output row per entry
/// of `rows`. Channels are independent here, so each row is handled as a flat byte run.
fn convolve_columns(image: &RgbImage, first_row: usize, rows: &[Taps]) -> RgbImage {
    let stride = image.width * 3;
    let mut pixels = Vec::with_capacity(stride * rows.len());
    let mut accumulator = vec![HALF; stride];
    for taps in rows {
        accumulator.fill(HALF);
        for (y, &weight) in taps.sources().zip(&taps.weights) {
            let start = (y - first_row) * stride;
            let row = &image.pixels[start..start + stride];
            for (acc, &value) in accumulator.iter_mut().zip(row) {
                *acc += i32::from(value) * weight;
            }
        }
        pixels.extend(accumulator.iter().map(|&acc| clip8(acc)));
    }
    RgbImage {
        width: image.width,
        height: rows.len(),
        pixels,
    }
}

/// A copy of `columns` × `rows` of `image` (what a skipped pass leaves of the crop).
fn copy_region(image: &RgbImage, columns: Range<usize>, rows: Range<usize>) -> RgbImage {
    let mut pixels = Vec::with_capacity(columns.len() * rows.len() * 3);
    for y in rows.clone() {
        let start = (y * image.width + columns.start) * 3;
        pixels.extend_from_slice(&image.pixels[start..start + columns.len() * 3]);
    }
    RgbImage {
        width: columns.len(),
        height: rows.len(),
        pixels,
    }
}

/// A rectangle of a resized image, in its pixel coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Window {
    pub columns: Range<usize>,
    pub rows: Range<usize>,
}

/// PIL's `image.resize((width, height), filter)`, the whole output.
///
/// An empty input gives a black image of the requested size (PIL refuses empty images; callers
/// check for them first).
///
/// # Panics
/// If `image.pixels` does not hold `width × height` RGB pixels (a programming error).
pub fn resize(image: &RgbImage, width: usize, height: usize, filter: Filter) -> RgbImage {
    let window = Window {
        columns: 0..width,
        rows: 0..height,
    };
    resize_window(image, width, height, &window, filter)
}

/// `window` of PIL's `image.resize((width, height), filter)`, computing only those pixels.
///
/// # Panics
/// If `image.pixels` does not hold `width × height` RGB pixels, or `window` leaves the resized
/// image (programming errors).
pub(super) fn resize_window(
    image: &RgbImage,
    width: usize,
    height: usize,
    window: &Window,
    filter: Filter,
) -> RgbImage {
    assert_eq!(
        image.pixels.len(),
        image.width * image.height * 3,
        "pixel buffer does not match {}×{} RGB",
        image.width,
        image.height
    );
    assert!(
        window.columns.end <= width && window.rows.end <= height,
        "window {window:?} outside {width}×{height}"
    );
    if window.columns.is_empty() || window.rows.is_empty() {
        return RgbImage {
            width: window.columns.len(),
            height: window.rows.len(),
            pixels: Vec::new(),
        };
    }
    // Pillow skips a pass whose size is unchanged.
    let row_taps =
        (height != image.height).then(|| taps(image.height, height, filter, window.rows.clone()));
    let source_rows = match &row_taps {
        Some(rows) => {
            let first = rows.iter().map(|t| t.first).min().unwrap_or(0);
            let end = rows.iter().map(|t| t.sources().end).max().unwrap_or(first);
            first..end
        }
        None => window.rows.clone(),
    };
    let horizontal = if width != image.width {
        let columns = taps(image.width, width, filter, window.columns.clone());
        convolve_rows(image, source_rows.clone(), &columns)
    } else {
        copy_region(image, window.columns.clone(), source_rows.clone())
    };
    match row_taps {
        Some(rows) => convolve_columns(&horizontal, source_rows.start, &rows),
        None => horizontal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(width: usize, height: usize) -> RgbImage {
        let pixels = (0..width * height * 3)
            .map(|i| ((i * 37 + i / 7 * 11) % 256) as u8)
            .collect();
        RgbImage {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn same_size_is_identity() {
        let image = pattern(13, 7);
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            assert_eq!(resize(&image, 13, 7, filter), image);
        }
    }

    #[test]
    fn unchanged_axis_filter_is_identity_even_when_computed() {
        // Pillow skips the pass, and computing it must give the same: weights exactly [0, 1, 0].
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            for taps in taps(9, 9, filter, 0..9) {
                let one = taps
                    .weights
                    .iter()
                    .filter(|&&w| w == 1 << PRECISION_BITS)
                    .count();
                let zero = taps.weights.iter().filter(|&&w| w == 0).count();
                assert_eq!((one, zero + one), (1, taps.weights.len()));
            }
        }
    }

    #[test]
    fn one_pixel_spreads_to_any_size_and_back() {
        let image = RgbImage {
            width: 1,
            height: 1,
            pixels: vec![12, 200, 255],
        };
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            let big = resize(&image, 5, 3, filter);
            assert_eq!(big.pixels, [12, 200, 255].repeat(15));
            assert_eq!(resize(&big, 1, 1, filter), image);
        }
    }

    #[test]
    fn constant_image_stays_constant_under_extreme_aspect() {
        let image = RgbImage {
            width: 1000,
            height: 2,
            pixels: [7, 128, 250].repeat(2000),
        };
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            let tall = resize(&image, 3, 400, filter);
            assert_eq!((tall.width, tall.height), (3, 400));
            assert!(tall.pixels.chunks(3).all(|p| p == [7, 128, 250]));
        }
    }

    #[test]
    fn window_equals_crop_of_full_resize() {
        let image = pattern(31, 17);
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            for (width, height) in [(12, 40), (64, 9), (31, 5), (7, 17)] {
                let full = resize(&image, width, height, filter);
                let window = Window {
                    columns: width / 4..width - width / 5,
                    rows: height / 3..height,
                };
                let part = resize_window(&image, width, height, &window, filter);
                assert_eq!(part, copy_region(&full, window.columns, window.rows));
            }
        }
    }

    #[test]
    fn bicubic_overshoot_is_clipped_not_wrapped() {
        // A hard edge rings with the bicubic kernel; values must saturate at 0 and 255.
        let mut pixels = Vec::new();
        for x in 0..8 {
            pixels.extend([if x < 4 { 0 } else { 255 }; 3]);
        }
        let image = RgbImage {
            width: 8,
            height: 1,
            pixels,
        };
        let up = resize(&image, 32, 1, Filter::Bicubic);
        let reds: Vec<u8> = up.pixels.chunks(3).map(|p| p[0]).collect();
        assert_eq!(reds[..12], [0; 12]);
        assert_eq!(reds[20..], [255; 12]);
        assert!(reds.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn empty_input_gives_black_output() {
        let image = RgbImage {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        };
        let out = resize(&image, 2, 2, Filter::Bicubic);
        assert_eq!(out.pixels, vec![0; 12]);
    }
}

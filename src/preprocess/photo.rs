//! Photos → the look of the dataset a model was trained on, before its normal preprocessing.
//!
//! A model trained on Fashion-MNIST has only seen grey items filling a small black square, while
//! users upload colour photos of any size, usually on a light background. A model's `config.json`
//! may name the rule that bridges this (`"photo_preprocess": {"item_on_black": 28}`); timm
//! ignores the key, so the folder stays a valid timm checkpoint.

use std::borrow::Cow;

use super::{resize, Filter, RgbImage};
use crate::model::{ModelConfig, PhotoPreprocess};

/// The image the model's preprocessing starts from: `image` itself, or what the model's photo
/// rule makes of it (shown to users as "what the network sees").
pub fn adapt_photo<'a>(image: &'a RgbImage, config: &ModelConfig) -> Cow<'a, RgbImage> {
    match config.photo_preprocess {
        Some(PhotoPreprocess {
            item_on_black: size,
        }) => Cow::Owned(item_on_black(image, size)),
        None => Cow::Borrowed(image),
    }
}

/// A border brighter than this (mean luma, 0–255) means a light background: the image is inverted.
const LIGHT_BACKGROUND: f32 = 127.5;
/// After levelling, pixels above this belong to the item (for cropping to it).
const ITEM_THRESHOLD: u8 = 32;

/// Brings `image` to the Fashion-MNIST look (the dataset's own recipe, as its README describes
/// it, adapted to photos) and returns what the network sees, a `size × size` grey image:
///
/// 1. greyscale (PIL's `convert('L')`);
/// 2. if the border (the outermost pixel ring) is light on average, invert, so the item is
///    light on dark like the dataset's;
/// 3. level: the border's mean becomes black and the brightest pixel white;
/// 4. crop to the item (pixels brighter than 32 after levelling; the whole image if none);
/// 5. resize so the longer side is `size`, keeping the aspect (bicubic, antialiased as PIL);
/// 6. centre on a black `size × size` square.
///
/// An image that already is `size × size` and dark-bordered (a dataset image) only goes
/// through step 1: it is used as it is.
pub fn item_on_black(image: &RgbImage, size: usize) -> RgbImage {
    let size = size.max(1);
    let grey = image.to_luma();
    let border = border_mean(&grey);
    let light = border > LIGHT_BACKGROUND;
    if grey.width == size && grey.height == size && !light {
        return grey;
    }
    let values: Vec<u8> = grey
        .pixels
        .iter()
        .step_by(3)
        .map(|&v| if light { 255 - v } else { v })
        .collect();
    let background = if light { 255.0 - border } else { border };
    let brightest = f32::from(values.iter().copied().max().unwrap_or(0));
    let range = (brightest - background).max(1.0);
    let levelled: Vec<u8> = values
        .iter()
        .map(|&v| ((f32::from(v) - background) * 255.0 / range).clamp(0.0, 255.0) as u8)
        .collect();

    let (columns, rows) = item_box(&levelled, grey.width, grey.height);
    let crop = RgbImage {
        width: columns.len(),
        height: rows.len(),
        pixels: rows
            .clone()
            .flat_map(|y| columns.clone().map(move |x| (x, y)))
            .flat_map(|(x, y)| [levelled[y * grey.width + x]; 3])
            .collect(),
    };
    let longer = crop.width.max(crop.height);
    let scaled = |side: usize| (side * size).div_ceil(longer).clamp(1, size);
    let item = resize(
        &crop,
        scaled(crop.width),
        scaled(crop.height),
        Filter::Bicubic,
    );
    let (left, top) = ((size - item.width) / 2, (size - item.height) / 2);
    let mut pixels = vec![0u8; size * size * 3];
    for y in 0..item.height {
        let row = &item.pixels[y * item.width * 3..(y + 1) * item.width * 3];
        let start = ((top + y) * size + left) * 3;
        pixels[start..start + row.len()].copy_from_slice(row);
    }
    RgbImage {
        width: size,
        height: size,
        pixels,
    }
}

/// The mean luma of the outermost ring of pixels.
fn border_mean(grey: &RgbImage) -> f32 {
    let (w, h) = (grey.width, grey.height);
    let on_border = |i: usize| {
        let (x, y) = (i % w, i / w);
        x == 0 || y == 0 || x + 1 == w || y + 1 == h
    };
    let (sum, count) = grey
        .pixels
        .iter()
        .step_by(3)
        .enumerate()
        .filter(|&(i, _)| on_border(i))
        .fold((0.0f64, 0usize), |(s, n), (_, &v)| {
            (s + f64::from(v), n + 1)
        });
    (sum / count.max(1) as f64) as f32
}

/// The bounding box (columns, rows) of the pixels above [`ITEM_THRESHOLD`]; the whole image when
/// none is.
fn item_box(
    values: &[u8],
    width: usize,
    height: usize,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let mut bounds: Option<[usize; 4]> = None;
    for (i, _) in values
        .iter()
        .enumerate()
        .filter(|&(_, &v)| v > ITEM_THRESHOLD)
    {
        let (x, y) = (i % width, i / width);
        let b = bounds.get_or_insert([x, y, x, y]);
        *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    match bounds {
        Some([x0, y0, x1, y1]) => (x0..x1 + 1, y0..y1 + 1),
        None => (0..width, 0..height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(image: &RgbImage) -> RgbImage {
        item_on_black(image, 28)
    }

    fn grey_image(width: usize, height: usize, value: impl Fn(usize, usize) -> u8) -> RgbImage {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| [value(x, y); 3])
            .collect();
        RgbImage::new(width, height, pixels).unwrap()
    }

    fn at(image: &RgbImage, x: usize, y: usize) -> u8 {
        image.pixels[(y * image.width + x) * 3]
    }

    #[test]
    fn dataset_images_pass_unchanged() {
        let item = grey_image(28, 28, |x, y| {
            ((x * 7 + y * 3) % 200) as u8 * u8::from(x > 3)
        });
        assert_eq!(fit(&item), item);
    }

    #[test]
    fn a_dark_item_on_a_white_photo_becomes_a_centred_light_item_on_black() {
        // A 200×100 photo: white background, a dark 60×80 "item" left of centre.
        let photo = grey_image(200, 100, |x, y| {
            if (20..80).contains(&x) && (10..90).contains(&y) {
                40
            } else {
                250
            }
        });
        let seen = fit(&photo);
        assert_eq!((seen.width, seen.height), (28, 28));
        // The item's 80-pixel height fills the square; its width scales to 21 and is centred.
        assert!(
            at(&seen, 14, 0) > 200 && at(&seen, 14, 27) > 200,
            "item spans the height"
        );
        assert!(
            at(&seen, 0, 14) < 10 && at(&seen, 27, 14) < 10,
            "black sides"
        );
        assert!(
            at(&seen, 4, 14) > 200 && at(&seen, 23, 14) > 200,
            "centred, 21 wide"
        );
    }

    #[test]
    fn a_blank_photo_gives_a_black_square_without_panicking() {
        for value in [0, 255] {
            let seen = fit(&grey_image(5, 3, |_, _| value));
            assert_eq!((seen.width, seen.height), (28, 28));
        }
        let seen = fit(&grey_image(1, 1, |_, _| 9));
        assert_eq!(seen.pixels.len(), 28 * 28 * 3);
    }
}

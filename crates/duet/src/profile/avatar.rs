//! Avatar images: decoding what the user sent (JPEG, PNG, WebP or GIF, with size and
//! dimension limits against decompression bombs), and re-encoding it as three JPEG
//! variants: full, semi-blurred (reveal level 1) and blurred (level 0). Nothing the
//! user sent is served back byte for byte. Runs on the blocking pool.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use crate::store::AvatarImages;

/// Longest side of the stored images; avatars are shown small.
pub const MAX_SIDE: u32 = 512;
/// Largest accepted source side (so at most 16.7 megapixels), checked from the file's
/// header before anything is decoded, and the decoder's largest allocation (a
/// 4096×4096 picture at 16 bits per channel with alpha).
const MAX_SOURCE_SIDE: u32 = 4096;
const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;
/// Blur radii of the reveal levels (SPEC 5: 20 px, then 5 px, then clear).
const BLUR_LEVEL_0: f32 = 20.0;
const BLUR_LEVEL_1: f32 = 5.0;

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("the file is not a JPEG, PNG, WebP or GIF image")]
    NotAnImage,
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
    #[error("the image is larger than {MAX_SOURCE_SIDE}x{MAX_SOURCE_SIDE} pixels")]
    TooManyPixels,
}

/// Decodes `bytes` and produces the three stored variants.
pub fn process(bytes: &[u8]) -> Result<AvatarImages, AvatarError> {
    let format = image::guess_format(bytes).map_err(|_| AvatarError::NotAnImage)?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif) {
        return Err(AvatarError::NotAnImage);
    }
    // The header's dimensions first: a small file may claim a huge picture.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| AvatarError::Undecodable(e.to_string()))?;
    if width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE {
        return Err(AvatarError::TooManyPixels);
    }
    // A picture with no pixels (a GIF may say its height is 0) would make the JPEG
    // encoder fail below.
    if width == 0 || height == 0 {
        return Err(AvatarError::Undecodable(format!("the picture is {width}x{height} pixels")));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => AvatarError::TooManyPixels,
        other => AvatarError::Undecodable(other.to_string()),
    })?;
    // Large pictures are scaled down; small ones are kept at their size.
    let fitted = if decoded.width() > MAX_SIDE || decoded.height() > MAX_SIDE {
        decoded.resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3)
    } else {
        decoded
    };
    let rgb = flatten(fitted);
    let semi = image::imageops::fast_blur(&rgb, BLUR_LEVEL_1);
    let blurred = image::imageops::fast_blur(&rgb, BLUR_LEVEL_0);
    Ok(AvatarImages { full: jpeg(&rgb), semi: jpeg(&semi), blurred: jpeg(&blurred) })
}

/// Drops transparency by painting the image over white (JPEG has no alpha).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(image)
        .expect("encoding an RGB image into memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x * 7) as u8, (y * 3) as u8, 128, if x < 4 { 0 } else { 255 }])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn variants_are_reencoded_resized_and_blurred() {
        let source = png(1024, 600);
        let images = process(&source).unwrap();
        for variant in [&images.full, &images.semi, &images.blurred] {
            assert_ne!(variant, &source);
            assert_eq!(image::guess_format(variant).unwrap(), ImageFormat::Jpeg);
            let decoded = image::load_from_memory(variant).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (512, 300));
        }
        assert_ne!(images.full, images.semi);
        assert_ne!(images.semi, images.blurred);
    }

    #[test]
    fn small_pictures_are_not_enlarged() {
        let images = process(&png(40, 30)).unwrap();
        let decoded = image::load_from_memory(&images.full).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 30));
    }

    #[test]
    fn a_picture_without_pixels_is_refused() {
        // Found by fuzzing: a GIF whose screen height is 0 decoded to a 24x0 picture,
        // and encoding it as JPEG panicked.
        let img = image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([(x * 10) as u8, (y * 15) as u8, 128]));
        let mut gif = Vec::new();
        DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut gif), ImageFormat::Gif).unwrap();
        assert!(process(&gif).is_ok());
        gif[8..10].copy_from_slice(&[0, 0]);
        assert!(matches!(process(&gif), Err(AvatarError::Undecodable(_))));
    }

    #[test]
    fn junk_is_refused() {
        assert!(matches!(process(b"definitely not an image"), Err(AvatarError::NotAnImage)));
        let mut truncated = png(64, 64);
        truncated.truncate(100);
        assert!(matches!(process(&truncated), Err(AvatarError::Undecodable(_))));
        assert!(matches!(process(b"BM\0\0\0\0"), Err(AvatarError::NotAnImage)));
    }

    /// A PNG whose header claims `width`×`height` but whose picture data is a few
    /// junk bytes: what a decompression bomb looks like before it is decoded.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut header = width.to_be_bytes().to_vec();
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [(b"IHDR", &header[..]), (b"IDAT", &[1, 2, 3, 4][..]), (b"IEND", &[][..])] {
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(data);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(&chunk);
            out.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn oversized_pictures_are_refused_from_their_header_before_decoding() {
        // No data to decode: only the header's dimensions can refuse these.
        assert!(matches!(process(&png_header(8192, 8192)), Err(AvatarError::TooManyPixels)));
        assert!(matches!(process(&png_header(4097, 16)), Err(AvatarError::TooManyPixels)));
        assert!(matches!(process(&png_header(4096, 16)), Err(AvatarError::Undecodable(_))));
        assert!(process(&png(4096, 2)).is_ok(), "the largest side is still accepted");
    }
}

//! The avatar upload's decode and re-encode, `profile::avatar::process`, on any bytes.
//! Never panics nor allocates past libFuzzer's memory limit, and an accepted picture
//! comes back as three JPEGs (full, semi-blurred, blurred) of one size: at most 512
//! pixels a side, the source's own size when it fits, else scaled so its longer side
//! is 512; the source itself is at most 4096 pixels a side.
#![no_main]

use std::io::Cursor;

use duet::fuzzing::{process_avatar, AVATAR_MAX_SIDE};
use image::{ImageFormat, ImageReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(images) = process_avatar(data) else {
        return;
    };
    let (w, h) = ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .unwrap()
        .into_dimensions()
        .expect("an accepted picture has dimensions");
    assert!(w <= 4096 && h <= 4096, "{w}x{h} accepted");
    let mut sizes = Vec::new();
    for variant in [&images.full, &images.semi, &images.blurred] {
        assert_eq!(image::guess_format(variant).unwrap(), ImageFormat::Jpeg);
        let decoded = image::load_from_memory_with_format(variant, ImageFormat::Jpeg).unwrap();
        sizes.push((decoded.width(), decoded.height()));
    }
    assert!(sizes.iter().all(|s| *s == sizes[0]), "{sizes:?}");
    let (vw, vh) = sizes[0];
    assert!(vw >= 1 && vh >= 1 && vw <= AVATAR_MAX_SIDE && vh <= AVATAR_MAX_SIDE, "{w}x{h} -> {vw}x{vh}");
    if w <= AVATAR_MAX_SIDE && h <= AVATAR_MAX_SIDE {
        assert_eq!((vw, vh), (w, h));
    } else {
        assert_eq!(vw.max(vh), AVATAR_MAX_SIDE, "{w}x{h} -> {vw}x{vh}");
    }
});

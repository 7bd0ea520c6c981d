//! Whatever bytes arrive, `inspect` answers: it never panics, and what it accepts is clean.

use std::sync::OnceLock;

use motcua_media::{Limits, Photo, inspect};
use proptest::prelude::*;

use crate::fixtures::*;

/// A photo accepted from any input is clean: looking at it again finds no facts, gives the same
/// size, and leaves it unchanged.
fn assert_clean(photo: &Photo) {
    let again = match inspect(&photo.clean, &Limits::default()) {
        Ok(again) => again,
        Err(e) => panic!("the stored copy is refused: {e}"),
    };
    assert_eq!(again.location, None);
    assert_eq!(again.taken_at, None);
    assert_eq!((again.width, again.height), (photo.width, photo.height));
    assert_eq!(again.clean, photo.clean);
}

/// Small valid photos with metadata, to mutate.
fn seeds() -> &'static [Vec<u8>; 3] {
    static SEEDS: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let image = marked(24, 16);
        let exif = Exif {
            orientation: Some(6),
            ..phone_exif()
        };
        [
            with_segments(
                &jpeg(&image, Some(icc_profile())),
                &[exif_segment(&exif), xmp_segment(), iptc_segment()],
            ),
            with_chunks(
                &png(&image, Some(icc_profile())),
                &[png_chunk(b"eXIf", &exif.tiff())],
            ),
            extended_webp(
                &webp(&image),
                24,
                16,
                Some(&icc_profile()),
                Some(&exif),
                true,
            ),
        ]
    })
}

fn mutate(seed: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(at, value) in edits {
        let at = at % bytes.len();
        bytes[at] = value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(photo) = inspect(&bytes, &Limits::default()) {
            assert_clean(&photo);
        }
    }

    #[test]
    fn arbitrary_bytes_behind_a_known_magic_never_panic(
        magic in 0usize..3,
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let head: &[u8] = match magic {
            0 => &[0xFF, 0xD8, 0xFF],
            1 => b"\x89PNG\r\n\x1a\n",
            _ => b"RIFF\0\x08\0\0WEBP",
        };
        let bytes = [head, &rest].concat();
        if let Ok(photo) = inspect(&bytes, &Limits::default()) {
            assert_clean(&photo);
        }
    }

    #[test]
    fn mutated_photos_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let bytes = mutate(&seeds()[which], &edits, cut);
        if let Ok(photo) = inspect(&bytes, &Limits::default()) {
            assert_clean(&photo);
        }
        let _ = motcua_media::thumbnail(&bytes, 8);
    }
}

#[test]
fn the_seeds_themselves_are_accepted_and_cleaned() {
    for seed in seeds() {
        let photo = ok(inspect(seed, &Limits::default()));
        assert!(photo.location.is_some());
        assert_eq!((photo.width, photo.height), (16, 24));
        assert_clean(&photo);
    }
}

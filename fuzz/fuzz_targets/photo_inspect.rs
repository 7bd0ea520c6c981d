//! Any bytes given as a citizen's photo: the check never panics, and whatever it accepts comes
//! back as a copy that is itself accepted, without a location and with the same size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use motcua_media::{Limits, inspect};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the checks are the same as with the defaults.
    let limits = Limits {
        max_bytes: 1024 * 1024,
        max_width: 2000,
        max_height: 2000,
        max_pixels: 1_000_000,
        max_alloc: 64 * 1024 * 1024,
    };
    if let Ok(photo) = inspect(data, &limits) {
        let again = inspect(&photo.clean, &limits)
            .unwrap_or_else(|e| panic!("the clean copy of an accepted photo is refused: {e}"));
        assert!(again.location.is_none(), "the clean copy still has a location");
        assert_eq!((again.width, again.height), (photo.width, photo.height));
    }
});

//! Any bytes given to the edXML reader: it never panics, and whatever it accepts is written
//! and read back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use motcua_edxml::{Limits, Profile, parse, parse_status, write, write_status};

fuzz_target!(|data: &[u8]| {
    let profile = Profile::default();
    // Small limits keep each run fast; the checks are the same as with the defaults.
    let limits = Limits {
        max_bytes: 1024 * 1024,
        max_attachment_bytes: 256 * 1024,
        ..Limits::default()
    };
    if let Ok(package) = parse(data, &profile, &limits) {
        let bytes = write(&package, &profile)
            .unwrap_or_else(|e| panic!("a package that was read cannot be written: {e}"));
        let again = parse(&bytes, &profile, &limits)
            .unwrap_or_else(|e| panic!("a package written cannot be read: {e}"));
        assert_eq!(again, package, "the package changed on a round trip");
    }
    if let Ok(status) = parse_status(data, &profile, &limits) {
        let bytes = write_status(&status, &profile)
            .unwrap_or_else(|e| panic!("a status that was read cannot be written: {e}"));
        let again = parse_status(&bytes, &profile, &limits)
            .unwrap_or_else(|e| panic!("a status written cannot be read: {e}"));
        assert_eq!(again, status, "the status changed on a round trip");
    }
});

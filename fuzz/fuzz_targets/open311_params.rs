//! Any form or query string given to the Open311 readers: they never panic, and a request
//! they accept keeps its coordinates in range.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Ok(r) = motcua_open311::parse_new_request(&pairs)
        && let Some(p) = r.lat_long
    {
        assert!((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.long));
    }
    let _ = motcua_open311::parse_request_query(&pairs);
    let _ = motcua_open311::parse_update_query(&pairs);
    let _ = motcua_open311::parse_new_update(&pairs);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = motcua_open311::parse_datetime(s);
    }
});

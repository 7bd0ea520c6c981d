//! Where and when a photo was taken, read from its EXIF.

use chrono::NaiveDate;
use motcua_media::Kind;

use crate::fixtures::*;

fn jpeg_with(exif: &Exif) -> Vec<u8> {
    with_segments(&jpeg(&marked(32, 24), None), &[exif_segment(exif)])
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

#[test]
fn north_and_east_give_positive_decimal_degrees() {
    let photo = inspect(&jpeg_with(&phone_exif()));
    let Some(at) = photo.location else {
        panic!("no location")
    };
    assert_close(at.lat, HANOI_LAT);
    assert_close(at.lon, HANOI_LON);
    assert_close(at.lat, 21.028_472_222_222_222);
    assert_eq!(photo.kind, Kind::Jpeg);
    assert_eq!((photo.width, photo.height), (32, 24));
}

#[test]
fn south_and_west_give_negative_decimal_degrees() {
    // 23° 33' 1" S, 46° 38' 2" W, written little-endian as many phones do.
    let exif = Exif {
        little_endian: true,
        gps: Some(Gps {
            lat_ref: "S",
            lat: [(23, 1), (33, 1), (1, 1)],
            lon_ref: "W",
            lon: [(46, 1), (38, 1), (2, 1)],
        }),
        ..Exif::default()
    };
    let Some(at) = inspect(&jpeg_with(&exif)).location else {
        panic!("no location")
    };
    assert_close(at.lat, -(23.0 + 33.0 / 60.0 + 1.0 / 3600.0));
    assert_close(at.lon, -(46.0 + 38.0 / 60.0 + 2.0 / 3600.0));

    // Mixed: south and east.
    let exif = Exif {
        gps: Some(Gps {
            lat_ref: "S",
            lon_ref: "E",
            ..HANOI
        }),
        ..Exif::default()
    };
    let Some(at) = inspect(&jpeg_with(&exif)).location else {
        panic!("no location")
    };
    assert_close(at.lat, -HANOI_LAT);
    assert_close(at.lon, HANOI_LON);
}

#[test]
fn impossible_or_unreferenced_positions_are_dropped() {
    let dropped = [
        // Latitude beyond the pole.
        Gps {
            lat: [(91, 1), (0, 1), (0, 1)],
            ..HANOI
        },
        // Longitude beyond the date line.
        Gps {
            lon: [(180, 1), (0, 1), (1, 1)],
            ..HANOI
        },
        // Minutes that are not minutes.
        Gps {
            lat: [(21, 1), (75, 1), (0, 1)],
            ..HANOI
        },
        // A zero denominator.
        Gps {
            lon: [(105, 0), (51, 1), (15, 1)],
            ..HANOI
        },
        // An unknown reference.
        Gps {
            lat_ref: "X",
            ..HANOI
        },
        // No reference at all.
        Gps {
            lon_ref: "",
            ..HANOI
        },
        // What a phone without a fix writes.
        Gps {
            lat: [(0, 1), (0, 1), (0, 1)],
            lon: [(0, 1), (0, 1), (0, 1)],
            ..HANOI
        },
    ];
    for gps in dropped {
        let exif = Exif {
            gps: Some(gps),
            taken: Some(TAKEN),
            ..Exif::default()
        };
        let photo = inspect(&jpeg_with(&exif));
        assert_eq!(photo.location, None, "{:?} {:?}", gps.lat, gps.lon);
        // The rest of the EXIF is still read.
        assert!(photo.taken_at.is_some());
    }
    // The edge of the range is still a place.
    let edge = Exif {
        gps: Some(Gps {
            lat: [(90, 1), (0, 1), (0, 1)],
            lon: [(180, 1), (0, 1), (0, 1)],
            lon_ref: "W",
            ..HANOI
        }),
        ..Exif::default()
    };
    let Some(at) = inspect(&jpeg_with(&edge)).location else {
        panic!("no location")
    };
    assert_eq!((at.lat, at.lon), (90.0, -180.0));
}

#[test]
fn the_date_taken_comes_from_date_time_original() {
    let photo = inspect(&jpeg_with(&phone_exif()));
    let expected = NaiveDate::from_ymd_opt(2024, 5, 17).and_then(|d| d.and_hms_opt(8, 30, 12));
    assert_eq!(photo.taken_at, expected);

    let exif = Exif {
        taken: Some("2023:12:31 23:59:58"),
        subsec: Some("25"),
        ..Exif::default()
    };
    let photo = inspect(&jpeg_with(&exif));
    let expected =
        NaiveDate::from_ymd_opt(2023, 12, 31).and_then(|d| d.and_hms_milli_opt(23, 59, 58, 250));
    assert_eq!(photo.taken_at, expected);
    assert_eq!(photo.location, None);

    for bad in [
        "2024:13:01 00:00:00",
        "2024:02:30 10:00:00",
        "    :  :     :  :  ",
        "yesterday",
    ] {
        let exif = Exif {
            taken: Some(bad),
            ..Exif::default()
        };
        assert_eq!(inspect(&jpeg_with(&exif)).taken_at, None, "{bad}");
    }
}

#[test]
fn photos_without_exif_or_with_broken_exif_have_no_facts_but_are_accepted() {
    let plain = inspect(&jpeg(&marked(32, 24), None));
    assert_eq!((plain.location, plain.taken_at), (None, None));

    let mut broken_tiff = phone_exif().tiff();
    broken_tiff.truncate(20);
    let broken = with_segments(
        &jpeg(&marked(32, 24), None),
        &[jpeg_segment(
            0xE1,
            &[b"Exif\0\0".as_slice(), &broken_tiff].concat(),
        )],
    );
    let photo = inspect(&broken);
    assert_eq!((photo.location, photo.taken_at), (None, None));
    assert!(!contains(&photo.clean, b"Exif\0\0"));
}

#[test]
fn png_and_webp_exif_are_read_too() {
    let png = with_chunks(
        &png(&marked(32, 24), None),
        &[png_chunk(b"eXIf", &phone_exif().tiff())],
    );
    let photo = inspect(&png);
    assert_eq!(photo.kind, Kind::Png);
    let Some(at) = photo.location else {
        panic!("no location in the PNG")
    };
    assert!((at.lat - HANOI_LAT).abs() < 1e-9 && (at.lon - HANOI_LON).abs() < 1e-9);
    assert!(photo.taken_at.is_some());

    let webp = extended_webp(
        &webp(&marked(32, 24)),
        32,
        24,
        None,
        Some(&phone_exif()),
        false,
    );
    let photo = inspect(&webp);
    assert_eq!(photo.kind, Kind::Webp);
    let Some(at) = photo.location else {
        panic!("no location in the WebP")
    };
    assert!((at.lat - HANOI_LAT).abs() < 1e-9 && (at.lon - HANOI_LON).abs() < 1e-9);
}

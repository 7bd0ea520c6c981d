//! The stored copy: no metadata left, the colour profile and the pixels kept.

use motcua_media::Kind;

use crate::fixtures::*;

/// The metadata a phone or an editor leaves in a JPEG, put into a plain one.
fn loaded_jpeg(plain: &[u8]) -> Vec<u8> {
    with_segments(
        plain,
        &[
            exif_segment(&phone_exif()),
            xmp_segment(),
            iptc_segment(),
            jpeg_segment(0xFE, COMMENT),
        ],
    )
}

/// Nothing in `clean` tells where, when or by whom.
fn assert_no_metadata(clean: &[u8]) {
    for (what, needle) in [
        ("EXIF", &b"Exif\0\0"[..]),
        ("the date taken", TAKEN.as_bytes()),
        (
            "the GPS longitude, big-endian",
            &hanoi_lon_seconds_bytes(false),
        ),
        (
            "the GPS longitude, little-endian",
            &hanoi_lon_seconds_bytes(true),
        ),
        ("the EXIF thumbnail", THUMBNAIL_MARK),
        ("XMP", b"http://ns.adobe.com/xap/1.0/"),
        ("XMP", b"x:xmpmeta"),
        ("IPTC", b"Photoshop 3.0"),
        ("IPTC", IPTC_MARK),
        ("a comment", COMMENT),
    ] {
        assert!(!contains(clean, needle), "{what} is still there");
    }
    // Nor does looking again find anything.
    let again = inspect(clean);
    assert_eq!(again.location, None);
    assert_eq!(again.taken_at, None);
}

#[test]
fn jpeg_metadata_is_removed_and_the_colour_profile_kept() {
    let plain = jpeg(&marked(64, 48), Some(icc_profile()));
    let loaded = loaded_jpeg(&plain);
    for needle in [
        &b"Exif\0\0"[..],
        TAKEN.as_bytes(),
        THUMBNAIL_MARK,
        IPTC_MARK,
        COMMENT,
    ] {
        assert!(
            contains(&loaded, needle),
            "the fixture carries its metadata"
        );
    }

    let photo = inspect(&loaded);
    assert!(
        photo.location.is_some(),
        "the facts are read before they go"
    );
    assert_eq!(photo.kind, Kind::Jpeg);
    assert_no_metadata(&photo.clean);

    let decoded = decode(&photo.clean);
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    assert_eq!((photo.width, photo.height), (64, 48));
    assert_eq!(icc_of(&photo.clean), Some(icc_profile()));
    // Not re-encoded: the pieces that remain are the plain file's, byte for byte.
    assert_eq!(photo.clean, plain);
}

#[test]
fn jfif_thumbnails_mpf_and_trailing_data_are_removed() {
    let plain = jpeg(&marked(64, 48), None);
    // A JFIF header with a 1×1 thumbnail, an MPF index, and a second image after the end.
    let mut jfif = b"JFIF\0\x01\x02\x01\0\x48\0\x48\x01\x01".to_vec();
    jfif.extend_from_slice(&[0xAB, 0xCD, 0xEF]);
    let mut file = with_segments(
        &plain[..],
        &[
            jpeg_segment(0xE0, &jfif),
            jpeg_segment(0xE2, b"MPF\0II*\0MPF-INDEX"),
            jpeg_segment(0xEB, b"JP\0\0HDR-GAIN-MAP"),
        ],
    );
    file.extend_from_slice(b"\xFF\xD8APPENDED-SECOND-IMAGE\xFF\xD9");
    let photo = inspect(&file);
    for needle in [
        &[0xAB, 0xCD, 0xEF][..],
        b"MPF-INDEX",
        b"HDR-GAIN-MAP",
        b"APPENDED-SECOND-IMAGE",
    ] {
        assert!(!contains(&photo.clean, needle));
    }
    assert!(photo.clean.ends_with(&[0xFF, 0xD9]));
    assert_eq!((photo.width, photo.height), (64, 48));
}

#[test]
fn png_text_chunks_and_exif_are_removed_and_the_colour_profile_kept() {
    let plain = png(&marked(40, 30), Some(icc_profile()));
    let mut itxt_xmp = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt_xmp.extend_from_slice(XMP);
    let loaded = with_chunks(
        &plain,
        &[
            png_chunk(b"eXIf", &phone_exif().tiff()),
            png_chunk(b"tEXt", &[b"Comment\0".as_slice(), COMMENT].concat()),
            png_chunk(
                b"zTXt",
                b"Raw profile type iptc\0\0\x78\x9c\x03\0\0\0\0\x01",
            ),
            png_chunk(b"iTXt", &itxt_xmp),
            png_chunk(b"tIME", &[0x07, 0xE8, 5, 17, 8, 30, 12]),
        ],
    );
    let photo = inspect(&loaded);
    assert!(photo.location.is_some());
    assert_eq!(photo.kind, Kind::Png);
    assert_no_metadata(&photo.clean);
    for chunk in [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"] {
        assert!(!contains(&photo.clean, chunk), "{chunk:?} is still there");
    }
    assert!(contains(&photo.clean, b"iCCP"));
    assert_eq!(icc_of(&photo.clean), Some(icc_profile()));
    let decoded = decode(&photo.clean);
    assert_eq!((decoded.width(), decoded.height()), (40, 30));
    assert_eq!(
        decoded.to_rgb8(),
        marked(40, 30).to_rgb8(),
        "lossless stays lossless"
    );
}

#[test]
fn webp_exif_and_xmp_are_removed_and_the_colour_profile_kept() {
    let simple = webp(&marked(40, 30));
    let loaded = extended_webp(
        &simple,
        40,
        30,
        Some(&icc_profile()),
        Some(&phone_exif()),
        true,
    );
    assert!(contains(&loaded, b"XMP ") && contains(&loaded, b"EXIF"));

    let photo = inspect(&loaded);
    assert!(photo.location.is_some());
    assert_eq!(photo.kind, Kind::Webp);
    assert_no_metadata(&photo.clean);
    assert!(!contains(&photo.clean, b"EXIF") && !contains(&photo.clean, b"XMP "));
    assert!(contains(&photo.clean, b"ICCP"));
    // The VP8X flags no longer announce EXIF or XMP.
    assert_eq!(&photo.clean[12..16], b"VP8X");
    assert_eq!(photo.clean[20] & (VP8X_EXIF | VP8X_XMP), 0);
    assert_eq!(photo.clean[20] & VP8X_ICC, VP8X_ICC);
    assert_eq!(icc_of(&photo.clean), Some(icc_profile()));
    let decoded = decode(&photo.clean);
    assert_eq!((decoded.width(), decoded.height()), (40, 30));
    assert_eq!(decoded.to_rgb8(), marked(40, 30).to_rgb8());
}

#[test]
fn plain_photos_are_stored_as_they_came() {
    let image = marked(20, 10);
    for (kind, bytes) in [
        (Kind::Jpeg, jpeg(&image, None)),
        (Kind::Png, png(&image, None)),
        (Kind::Webp, webp(&image)),
    ] {
        let photo = inspect(&bytes);
        assert_eq!(photo.kind, kind);
        assert_eq!(photo.clean, bytes, "{kind:?}");
        assert_eq!((photo.width, photo.height), (20, 10));
        // And cleaning a clean copy changes nothing.
        assert_eq!(inspect(&photo.clean).clean, photo.clean);
    }
}

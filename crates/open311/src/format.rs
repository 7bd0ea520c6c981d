//! The two answer formats and the file-name suffix that picks one.

/// The format of an answer, chosen by the client with the resource's suffix
/// (`services.xml`, `requests/42.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/json`: the specification's JSON mapping of the XML tree.
    Json,
    /// `text/xml`: the specification's required format.
    Xml,
}

impl Format {
    /// Takes a last path segment apart into the resource and its format:
    /// `"services.json"` gives `("services", Json)`, `"033.xml"` gives `("033", Xml)`.
    /// Anything else (no suffix, another suffix, an upper-case suffix, an empty resource, a
    /// resource holding `/`) gives `None`, which the server answers with 404.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, suffix) = file.rsplit_once('.')?;
        if stem.is_empty() || stem.contains('/') {
            return None;
        }
        let format = match suffix {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        Some((stem, format))
    }

    /// The `Content-Type` of an answer in this format, with its charset, as the
    /// specification gives it: `application/json; charset=utf-8` or `text/xml; charset=utf-8`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }

    /// The bare MIME type, as a discovery endpoint lists it: `application/json` or `text/xml`.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "text/xml",
        }
    }

    /// The file-name suffix without its dot: `json` or `xml`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }
}

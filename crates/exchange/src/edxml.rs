//! edXML packages.

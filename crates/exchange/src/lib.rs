//! The document exchange hub (Trục liên thông văn bản): official documents as edXML packages
//! between agencies, signed with the sending agency's certificate, delivered to each recipient
//! with the statuses they answer.

pub mod edxml;

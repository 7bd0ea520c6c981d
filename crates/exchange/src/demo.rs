//! The demo's hub: four Hà Nội agencies on it, each with a certificate whose key the node
//! keeps, and one document already sent by the People's Committee to the service centre, so
//! that the demo clerk's inbox has something in it.

use kernel::pki;

use crate::edxml::{self, Attachment};
use crate::registry::{AgencySpec, CertificateRequest};
use crate::{Exchange, Result};

/// The agencies the demo puts on the hub.
pub const AGENCIES: &[(&str, &str)] = &[
    ("000.00.00.H26", "Ủy ban nhân dân Thành phố Hà Nội"),
    (
        "000.00.02.H26",
        "Trung tâm Phục vụ hành chính công Thành phố Hà Nội",
    ),
    ("000.00.03.H26", "Sở Tư pháp Thành phố Hà Nội"),
    ("000.00.04.H26", "Sở Tài chính Thành phố Hà Nội"),
];

/// A one-page PDF with a line of (ASCII) text, for demo and test attachments.
pub fn simple_pdf(line: &str) -> Vec<u8> {
    let text: String = line
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '(' | ')' | '\\'))
        .collect();
    let stream = format!("BT /F1 14 Tf 56 780 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Puts the demo agencies on the hub and sends the first document, once; answers whether it
/// did anything.
pub async fn seed(x: &Exchange) -> Result<bool> {
    if !x.agencies().await?.is_empty() {
        return Ok(false);
    }
    for (code, name) in AGENCIES {
        x.put_agency(
            "system:demo",
            AgencySpec {
                organ_id: code.to_string(),
                name: name.to_string(),
                endpoint: None,
                push_secret: None,
                active: true,
            },
        )
        .await?;
        x.add_certificate("system:demo", code, CertificateRequest::default())
            .await?;
    }
    let (from, to) = (AGENCIES[0], AGENCIES[1]);
    let mut p = edxml::sample_package(from.0, &[to.0], 1);
    p.header.from.organ_name = from.1.to_string();
    p.header.to[0].organ_name = to.1.to_string();
    p.header.code.code_notation = "UBND-KSTTHC".into();
    p.header.promulgation_info.promulgation_date = kernel::clock::to_local(x.now()).date();
    p.header.due_date = None;
    p.header.document_id = None;
    p.header.subject =
        "Về việc đẩy mạnh tiếp nhận hồ sơ trực tuyến toàn trình tại Trung tâm Phục vụ hành chính công"
            .into();
    p.header.other_info.appendixes.clear();
    p.trace.clear();
    p.attachments = vec![Attachment {
        content_id: "1".into(),
        name: "cong-van-1-ubnd.pdf".into(),
        content_type: "application/pdf".into(),
        description: "Công văn đã ký".into(),
        data: simple_pdf("UBND TP Ha Noi - Cong van so 1/UBND-KSTTHC"),
    }];
    let bytes = edxml::write(&p, x.profile())?;
    let key = x.signing_key(from.0).await?;
    let sig = pki::sign_detached(&key, &bytes, x.now())?;
    let d = x.accept_as(None, "system:demo", &bytes, &sig).await?;
    tracing::info!(document = %d.id, "demo document sent through the hub");
    Ok(true)
}

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use proptest::prelude::*;

use super::*;

const NS: &str = QCVN_102_2016_NAMESPACE;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("utf-8: {e}"))
}

fn profile() -> Profile {
    Profile::default()
}

fn limits() -> Limits {
    Limits::default()
}

fn sample() -> Package {
    sample_package("000.00.01.H26", &["000.00.02.H26", "000.00.03.H26"], 125)
}

fn written(p: &Package) -> String {
    text(&ok(write(p, &profile()), "write"))
}

fn parsed(xml: &str) -> Result<Package, EdxmlError> {
    parse(xml.as_bytes(), &profile(), &limits())
}

fn fields(e: &EdxmlError) -> Vec<String> {
    e.problems().iter().map(|p| p.field.clone()).collect()
}

/// A package written by hand the way other hubs write them: the namespace as the default
/// one on the root and as the `edXML` prefix on the envelope, the attachments unprefixed
/// outside it, `cid:` content ids in the manifest, times without an offset, an empty
/// signature element and an element this model does not know.
const HUB_STYLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edXML xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>H37.01</edXML:OrganId>
          <edXML:OrganizationInCharge>UBND tỉnh</edXML:OrganizationInCharge>
          <edXML:OrganName>Sở Tư pháp</edXML:OrganName>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>H37.02</edXML:OrganId>
          <edXML:OrganName>Sở Nội vụ</edXML:OrganName>
        </edXML:To>
        <edXML:Code>
          <edXML:CodeNumber>48</edXML:CodeNumber>
          <edXML:CodeNotation>STP-VP</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Lạng Sơn</edXML:Place>
          <edXML:PromulgationDate>2024/03/07</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeDetail>0</edXML:TypeDetail>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>V/v góp ý dự thảo &amp; đề xuất</edXML:Subject>
        <edXML:Content><![CDATA[Nội dung <tóm tắt>]]></edXML:Content>
        <edXML:SignerInfo>
          <edXML:Competence>KT. GIÁM ĐỐC</edXML:Competence>
          <edXML:Position>Phó Giám đốc</edXML:Position>
          <edXML:FullName>Hoàng Văn Minh</edXML:FullName>
        </edXML:SignerInfo>
        <edXML:DueDate>2024/03/20</edXML:DueDate>
        <edXML:ToPlaces>
          <edXML:Place>Như trên</edXML:Place>
        </edXML:ToPlaces>
        <edXML:OtherInfo>
          <edXML:Priority>2</edXML:Priority>
          <edXML:PromulgationAmount>3</edXML:PromulgationAmount>
          <edXML:PageAmount>4</edXML:PageAmount>
          <edXML:Direction>false</edXML:Direction>
        </edXML:OtherInfo>
        <edXML:SteeringType>1</edXML:SteeringType>
        <edXML:DocumentId>H37.01,2024/03/07,48/STP-VP</edXML:DocumentId>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList id="a1b2" version="1.0">
        <edXML:TraceHeader>
          <edXML:OrganId>H37.01</edXML:OrganId>
          <edXML:Timestamp>2024/03/07 10:05:00</edXML:Timestamp>
        </edXML:TraceHeader>
        <edXML:Bussiness>
          <edXML:BussinessDocType>0</edXML:BussinessDocType>
          <edXML:BussinessDocReason>Văn bản mới</edXML:BussinessDocReason>
          <edXML:Paper>0</edXML:Paper>
        </edXML:Bussiness>
      </edXML:TraceHeaderList>
      <edXML:DigitalSignature />
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="cid:f00d">
          <edXML:Description>Tệp 1</edXML:Description>
          <edXML:AttachmentName>gop-y.pdf</edXML:AttachmentName>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:ContentId>cid:f00d</edXML:ContentId>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentType>application/pdf</ContentType>
      <ContentId>f00d</ContentId>
      <ContentTransferEncoded>JVBERi0x
LjQK</ContentTransferEncoded>
      <AttachmentName>gop-y.pdf</AttachmentName>
    </Attachment>
  </AttachmentEncoded>
</edXML>
"#;

/// The shape of the national hub's own test packages: an opaque DocumentId, an empty
/// ResponseFor, an unprefixed XML-DSig Signature in the default namespace, no Bussiness, the
/// content element prefixed inside an unprefixed attachment, `cid:` on both sides.
const NATIONAL_HUB_STYLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From><edXML:OrganId>000.00.31.H01</edXML:OrganId><edXML:OrganName>Bộ A</edXML:OrganName></edXML:From>
        <edXML:To><edXML:OrganId>000.00.32.H01</edXML:OrganId></edXML:To>
        <edXML:DocumentId>5b0f3c7e-2d4a-4f0e-9c51-7d1e2a3b4c5d</edXML:DocumentId>
        <edXML:Code><edXML:CodeNumber>301</edXML:CodeNumber><edXML:CodeNotation>BA-VP</edXML:CodeNotation></edXML:Code>
        <edXML:PromulgationInfo><edXML:Place>Hà Nội</edXML:Place><edXML:PromulgationDate>2023/11/20</edXML:PromulgationDate></edXML:PromulgationInfo>
        <edXML:DocumentType><edXML:Type>2</edXML:Type><edXML:TypeName>Thông báo</edXML:TypeName></edXML:DocumentType>
        <edXML:Subject>Thông báo lịch làm việc</edXML:Subject>
        <edXML:SignerInfo><edXML:FullName>Phạm Văn Bình</edXML:FullName></edXML:SignerInfo>
        <edXML:OtherInfo><edXML:Priority>0</edXML:Priority></edXML:OtherInfo>
        <edXML:ResponseFor />
        <edXML:SteeringType>1</edXML:SteeringType>
        <edXML:ToPlaces><edXML:Place>Các đơn vị thuộc Bộ</edXML:Place></edXML:ToPlaces>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader><edXML:OrganId>000.00.31.H01</edXML:OrganId><edXML:Timestamp>2023/11/20 16:35:56</edXML:Timestamp></edXML:TraceHeader>
        <edXML:TraceHeader><edXML:OrganId>VPCP</edXML:OrganId><edXML:Timestamp>2023/11/20 16:36:02</edXML:Timestamp></edXML:TraceHeader>
      </edXML:TraceHeaderList>
      <Signature>
        <SignedInfo><Reference URI=""><DigestValue>AAAA</DigestValue></Reference></SignedInfo>
        <SignatureValue>AAAA</SignatureValue>
        <KeyInfo><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo>
      </Signature>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference>
          <edXML:ContentId>cid:9a1</edXML:ContentId>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:AttachmentName>thong-bao.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentId>cid:9a1</ContentId>
      <AttachmentName>thong-bao.pdf</AttachmentName>
      <ContentType>application/zip</ContentType>
      <edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">JVBERi0xLjQK</edXML:ContentTransferEncoded>
    </Attachment>
  </AttachmentEncoded>
</edXML>
"#;

#[test]
fn a_package_shaped_like_the_national_hubs_is_read() {
    let p = ok(parsed(NATIONAL_HUB_STYLE), "parse");
    assert_eq!(
        p.header.document_id.as_deref(),
        Some("5b0f3c7e-2d4a-4f0e-9c51-7d1e2a3b4c5d")
    );
    assert_eq!(p.document_id(), "5b0f3c7e-2d4a-4f0e-9c51-7d1e2a3b4c5d");
    assert!(p.header.response_for.is_empty());
    assert_eq!(p.trace.len(), 2);
    assert_eq!(p.business, Business::default());
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].content_id, "9a1");
    // The manifest's media type wins over the attachment's own.
    assert_eq!(p.attachments[0].content_type, "application/pdf");
    assert_eq!(p.attachments[0].data, b"%PDF-1.4\n".to_vec());
    assert_eq!(ok(parsed(&written(&p)), "again"), p);
}

#[test]
fn a_sample_package_survives_a_round_trip() {
    let p = sample();
    let xml = written(&p);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains(&format!("<edXML xmlns=\"{NS}\" xmlns:edXML=\"{NS}\"")));
    assert!(xml.contains("<edXML:MessageHeader>"));
    assert!(xml.contains("<edXML:Bussiness>"));
    assert!(xml.contains("<AttachmentEncoded>"));
    assert!(!xml.contains("Signature"));
    let back = ok(parsed(&xml), "parse");
    assert_eq!(back, p);
    assert_eq!(
        back.document_id(),
        "000.00.01.H26,2024/05/02,125/UBND-VP".to_string()
    );
}

#[test]
fn the_document_id_is_built_when_absent() {
    let mut p = sample();
    p.header.document_id = None;
    assert_eq!(p.document_id(), "000.00.01.H26,2024/05/02,125/UBND-VP");
    p.header.code.code_notation.clear();
    assert_eq!(p.document_id(), "000.00.01.H26,2024/05/02,125");
    let back = ok(parsed(&written(&p)), "parse");
    assert_eq!(back.header.document_id, None);
    assert_eq!(back, p);
    p.header.document_id = Some("000.00.01.H26,2024/05/03,125".into());
    let e = write(&p, &profile()).err();
    assert!(e.is_some_and(|e| fields(&e) == ["MessageHeader.DocumentId"]));
    p.header.document_id = Some("an-opaque-id".into());
    assert_eq!(ok(parsed(&written(&p)), "opaque"), p);
}

#[test]
fn a_hub_style_package_is_read() {
    let p = ok(parsed(HUB_STYLE), "parse");
    let h = &p.header;
    assert_eq!(h.from.organ_id, "H37.01");
    assert_eq!(h.from.organization_in_charge, "UBND tỉnh");
    assert_eq!(h.to.len(), 1);
    assert_eq!(h.to[0].organ_name, "Sở Nội vụ");
    assert_eq!(h.code.display(), "48/STP-VP");
    assert_eq!(
        h.promulgation_info.promulgation_date,
        NaiveDate::from_ymd_opt(2024, 3, 7).unwrap_or_default()
    );
    assert_eq!(h.subject, "V/v góp ý dự thảo & đề xuất");
    assert_eq!(h.content, "Nội dung <tóm tắt>");
    assert_eq!(h.other_info.priority, 2);
    assert_eq!(h.steering_type, 1);
    assert_eq!(h.to_places, vec!["Như trên".to_string()]);
    assert_eq!(p.trace.len(), 1);
    assert_eq!(
        p.trace[0].timestamp.to_rfc3339(),
        "2024-03-07T10:05:00+07:00".to_string()
    );
    assert_eq!(p.business.business_doc_type, BusinessType::New);
    assert_eq!(p.business.business_doc_reason, "Văn bản mới");
    assert_eq!(p.attachments.len(), 1);
    let a = &p.attachments[0];
    assert_eq!(a.content_id, "f00d");
    assert_eq!(a.name, "gop-y.pdf");
    assert_eq!(a.description, "Tệp 1");
    assert_eq!(a.data, b"%PDF-1.4\n".to_vec());
    // Written again and read again, nothing changes.
    assert_eq!(ok(parsed(&written(&p)), "again"), p);
}

#[test]
fn any_prefix_or_none_is_read_by_namespace() {
    let p = sample();
    let prefixed = written(&p);
    // Every element unprefixed, the namespace the default one.
    let plain = text(&ok(
        write(
            &p,
            &Profile {
                prefix: String::new(),
                ..Profile::default()
            },
        ),
        "write",
    ));
    assert!(plain.contains("<MessageHeader>"));
    assert_eq!(ok(parsed(&plain), "plain"), p);
    // Another prefix, the root prefixed too and no default namespace.
    let other = prefixed
        .replace(
            &format!(" xmlns=\"{NS}\" xmlns:edXML=\"{NS}\""),
            &format!(" xmlns:q=\"{NS}\""),
        )
        .replace("<edXML:", "<q:")
        .replace("</edXML:", "</q:")
        .replace("<edXML ", "<q:edXML ")
        .replace("</edXML>", "</q:edXML>")
        .replace("<AttachmentEncoded>", "<q:AttachmentEncoded>")
        .replace("</AttachmentEncoded>", "</q:AttachmentEncoded>");
    assert!(other.contains("<q:edXML xmlns:q="));
    // The attachments, unprefixed with no default namespace, are in no namespace: taken too.
    assert_eq!(ok(parsed(&other), "q prefix"), p);
}

#[test]
fn another_hubs_namespace_can_be_configured() {
    let p = sample();
    let theirs = Profile {
        namespace: "urn:example:edxml".into(),
        prefix: "ed".into(),
        timestamps: TimestampStyle::Rfc3339,
    };
    let bytes = ok(write(&p, &theirs), "write");
    assert!(text(&bytes).contains("<ed:MessageHeader>"));
    assert_eq!(ok(parse(&bytes, &theirs, &limits()), "parse"), p);
    let e = parse(&bytes, &profile(), &limits()).err();
    assert!(
        matches!(&e, Some(EdxmlError::WrongRoot { found, .. }) if found.contains("urn:example:edxml")),
        "{e:?}"
    );
}

#[test]
fn the_root_must_be_edxml_in_the_namespace() {
    let cases = [
        "<edXML><edXMLEnvelope/></edXML>".to_string(),
        format!("<edXMLEnvelope xmlns=\"{NS}\"/>"),
        "<edXML xmlns=\"urn:other\"/>".to_string(),
        format!("<x:edXML xmlns:x=\"{NS}/\"/>"),
    ];
    for c in cases {
        let e = parsed(&c).err();
        assert!(
            matches!(e, Some(EdxmlError::WrongRoot { .. })),
            "{c}: {e:?}"
        );
    }
}

#[test]
fn a_doctype_is_refused_whatever_it_declares() {
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
         <edXML xmlns=\"{NS}\"><edXMLEnvelope>&xxe;</edXMLEnvelope></edXML>"
    );
    let laughs = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n\
         <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n\
         <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n\
         <edXML xmlns=\"{NS}\">&lol3;</edXML>"
    );
    let plain = format!("<!DOCTYPE edXML><edXML xmlns=\"{NS}\"/>");
    for c in [xxe, laughs, plain] {
        assert_eq!(parsed(&c).err(), Some(EdxmlError::Doctype), "{c}");
        assert_eq!(
            parse_status(c.as_bytes(), &profile(), &limits()).err(),
            Some(EdxmlError::Doctype)
        );
    }
}

#[test]
fn only_predefined_entities_and_character_references_are_decoded() {
    let xml = written(&sample());
    let with = xml.replace(
        "<edXML:Subject>",
        "<edXML:Subject>&lt;&gt;&amp;&apos;&quot;&#65;&#x1F600;&#xD; ",
    );
    let p = ok(parsed(&with), "parse");
    assert!(
        p.header.subject.starts_with("<>&'\"A😀\r "),
        "{}",
        p.header.subject
    );
    for bad in ["&nbsp;", "&xxe;", "&#0;", "&#xFFFE;", "&#1;", "&#xZZ;"] {
        let xml2 = xml.replace("<edXML:Subject>", &format!("<edXML:Subject>{bad}"));
        let e = parsed(&xml2).err();
        assert!(
            matches!(e, Some(EdxmlError::Malformed { .. })),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn only_utf8_is_taken() {
    let xml = written(&sample());
    let latin = xml.replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"");
    assert!(matches!(parsed(&latin), Err(EdxmlError::Encoding { .. })));
    let utf16 = xml.replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    assert!(matches!(parsed(&utf16), Err(EdxmlError::Encoding { .. })));
    let lower = xml.replace("encoding=\"UTF-8\"", "encoding=\"utf-8\"");
    assert!(parsed(&lower).is_ok());
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(xml.as_bytes());
    assert!(parse(&bom, &profile(), &limits()).is_ok());
    let mut invalid = xml.clone().into_bytes();
    let at = xml.find("Về việc").unwrap_or(0);
    invalid[at + 1] = 0xFF;
    assert!(matches!(
        parse(&invalid, &profile(), &limits()),
        Err(EdxmlError::Encoding { .. })
    ));
    let wide: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(xml.encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    assert!(matches!(
        parse(&wide, &profile(), &limits()),
        Err(EdxmlError::Encoding { .. })
    ));
    let no_bom: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    assert!(matches!(
        parse(&no_bom, &profile(), &limits()),
        Err(EdxmlError::Encoding { .. })
    ));
}

#[test]
fn limits_are_enforced() {
    let p = sample();
    let xml = written(&p);
    let small = Limits {
        max_bytes: xml.len() - 1,
        ..limits()
    };
    assert!(matches!(
        parse(xml.as_bytes(), &profile(), &small),
        Err(EdxmlError::TooLarge { .. })
    ));

    let deep = format!(
        "{}{}",
        "<edXML:Future>".repeat(40),
        "</edXML:Future>".repeat(40)
    );
    let nested = xml.replace("<edXML:Subject>", &format!("{deep}<edXML:Subject>"));
    assert_eq!(
        parsed(&nested).err(),
        Some(EdxmlError::TooDeep { limit: 32 })
    );
    let foreign = format!(
        "{}{}",
        "<x:a xmlns:x=\"urn:x\">".repeat(40),
        "</x:a>".repeat(40)
    );
    let nested = xml.replace("<edXML:Subject>", &format!("{foreign}<edXML:Subject>"));
    assert_eq!(
        parsed(&nested).err(),
        Some(EdxmlError::TooDeep { limit: 32 })
    );

    let mut long = p.clone();
    long.header.subject = "ả".repeat(40 * 1024);
    let e = parsed(&written(&long)).err();
    assert!(
        matches!(&e, Some(EdxmlError::TooLarge { what, .. }) if what.contains("Subject")),
        "{e:?}"
    );

    let mut many = p.clone();
    for i in 0..3 {
        let mut a = many.attachments[0].clone();
        a.content_id = format!("extra-{i}");
        many.attachments.push(a);
    }
    let few = Limits {
        max_attachments: 3,
        ..limits()
    };
    assert!(matches!(
        parse(written(&many).as_bytes(), &profile(), &few),
        Err(EdxmlError::TooLarge { .. })
    ));

    let mut big = p.clone();
    big.attachments[0].data = vec![7; 5000];
    let tight = Limits {
        max_attachment_bytes: 4999,
        ..limits()
    };
    assert!(matches!(
        parse(written(&big).as_bytes(), &profile(), &tight),
        Err(EdxmlError::TooLarge { .. })
    ));
    let enough = Limits {
        max_attachment_bytes: 5000,
        ..limits()
    };
    assert_eq!(
        ok(parse(written(&big).as_bytes(), &profile(), &enough), "5000"),
        big
    );

    let flood = xml.replace(
        "<edXML:Subject>",
        &format!("{}<edXML:Subject>", "<edXML:X/>".repeat(200)),
    );
    let fewer = Limits {
        max_elements: 150,
        ..limits()
    };
    assert!(matches!(
        parse(flood.as_bytes(), &profile(), &fewer),
        Err(EdxmlError::TooLarge { .. })
    ));
}

#[test]
fn unknown_elements_and_the_signature_are_skipped() {
    let p = sample();
    let xml = written(&p);
    let extra = xml
        .replace(
            "<edXML:Subject>",
            "<edXML:FutureField a=\"1\"><edXML:OrganId>ignored</edXML:OrganId></edXML:FutureField>\
             <other:Thing xmlns:other=\"urn:x\"><other:Subject>no</other:Subject></other:Thing>\
             <edXML:Subject>",
        )
        .replace(
            "</edXML:TraceHeaderList>",
            "</edXML:TraceHeaderList>\
             <Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>\
             <CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>\
             <Reference URI=\"\"><DigestValue>AAAA</DigestValue></Reference></SignedInfo>\
             <SignatureValue>AAAA</SignatureValue><KeyInfo><X509Data><X509Certificate>AAAA\
             </X509Certificate></X509Data></KeyInfo></Signature>\
             <edXML:Signature><edXML:MessageHeader/></edXML:Signature>",
        )
        .replace("</edXML:edXMLEnvelope>", "</edXML:edXMLEnvelope><!-- a comment --><?pi x?>");
    assert_eq!(ok(parsed(&extra), "parse"), p);
}

#[test]
fn every_problem_is_listed() {
    let p = sample();
    let xml = written(&p)
        .replace(
            "<edXML:OrganId>000.00.01.H26</edXML:OrganId>",
            "<edXML:OrganId></edXML:OrganId>",
        )
        .replace(
            "<edXML:CodeNumber>125</edXML:CodeNumber>",
            "<edXML:CodeNumber> </edXML:CodeNumber>",
        )
        .replace(
            "<edXML:PromulgationDate>2024/05/02</edXML:PromulgationDate>",
            "<edXML:PromulgationDate>2024/02/30</edXML:PromulgationDate>",
        )
        .replace(
            "<edXML:Priority>1</edXML:Priority>",
            "<edXML:Priority>x</edXML:Priority>",
        )
        .replace(
            "<edXML:OrganId>000.00.03.H26</edXML:OrganId>",
            &format!("<edXML:OrganId>{}</edXML:OrganId>", "9".repeat(65)),
        )
        .replace(
            "<edXML:BussinessDocType>0</edXML:BussinessDocType>",
            "<edXML:BussinessDocType>7</edXML:BussinessDocType>",
        );
    let xml = regex_like_replace(&xml, "<edXML:Subject>", "</edXML:Subject>", "  ");
    let xml = regex_like_replace(
        &xml,
        "<ContentTransferEncoded>",
        "</ContentTransferEncoded>",
        "@@not base64@@",
    );
    let e = parsed(&xml).err().unwrap_or_else(|| panic!("accepted"));
    let f = fields(&e);
    for expected in [
        "MessageHeader.From.OrganId",
        "MessageHeader.To[2].OrganId",
        "MessageHeader.Code.CodeNumber",
        "MessageHeader.PromulgationInfo.PromulgationDate",
        "MessageHeader.OtherInfo.Priority",
        "MessageHeader.Subject",
        "MessageHeader.DocumentId",
        "TraceHeaderList.TraceHeader[1].OrganId",
        "TraceHeaderList.Bussiness.BussinessDocType",
        "AttachmentEncoded.Attachment[1].ContentTransferEncoded",
    ] {
        assert!(f.iter().any(|x| x == expected), "{expected} not in {f:?}");
    }
    assert!(e.message_vi().contains("không hợp lệ"));
    assert!(e.message_en().contains("invalid"));
    assert_eq!(e.kind(), "edxml_invalid");
    for p in e.problems() {
        assert!(!p.vi.is_empty() && !p.en.is_empty());
    }
}

/// Replaces the text between the first `open` and the next `close`.
fn regex_like_replace(s: &str, open: &str, close: &str, with: &str) -> String {
    let start = s.find(open).unwrap_or_else(|| panic!("{open}")) + open.len();
    let end = start + s[start..].find(close).unwrap_or_else(|| panic!("{close}"));
    format!("{}{}{}", &s[..start], with, &s[end..])
}

#[test]
fn recipients_and_attachments_are_checked() {
    let mut p = sample();
    p.header.to.clear();
    let mut dup = p.attachments[0].clone();
    dup.name = "  ".into();
    p.attachments.push(dup);
    let mut odd = p.attachments[0].clone();
    odd.content_id = "cid:x".into();
    p.attachments.push(odd);
    let e = write(&p, &profile())
        .err()
        .unwrap_or_else(|| panic!("written"));
    let f = fields(&e);
    assert!(f.contains(&"MessageHeader.To".to_string()), "{f:?}");
    assert!(
        f.contains(&"AttachmentEncoded.Attachment[2].ContentId".to_string()),
        "{f:?}"
    );
    assert!(
        f.contains(&"AttachmentEncoded.Attachment[2].AttachmentName".to_string()),
        "{f:?}"
    );
    assert!(
        f.contains(&"AttachmentEncoded.Attachment[3].ContentId".to_string()),
        "{f:?}"
    );

    // A manifest entry without content.
    let xml = written(&sample()).replace(
        "</edXML:edXMLManifest>",
        "<edXML:Reference><edXML:ContentId>cid:lost</edXML:ContentId>\
         <edXML:AttachmentName>lost.pdf</edXML:AttachmentName></edXML:Reference></edXML:edXMLManifest>",
    );
    let e = parsed(&xml).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(fields(&e), ["edXMLManifest.Reference[2]"]);
}

#[test]
fn text_that_xml_cannot_carry_is_not_written() {
    let mut p = sample();
    p.header.content = "bell \u{7}".into();
    let e = write(&p, &profile())
        .err()
        .unwrap_or_else(|| panic!("written"));
    assert_eq!(
        fields(&e),
        ["edXMLEnvelope.edXMLHeader.MessageHeader.Content"]
    );
    let bad = Profile {
        prefix: "1x".into(),
        ..Profile::default()
    };
    assert!(write(&sample(), &bad).is_err());
}

#[test]
fn markup_characters_and_line_ends_survive() {
    let mut p = sample();
    p.header.subject = "a < b && c > d \"quoted\" 'single' ]]> \r\n line\rend \t😀".into();
    p.header.content = "  leading and trailing  ".into();
    p.header.to_places = vec![String::new(), " ".into(), "Nơi nhận".into()];
    p.header.signer_info.full_name = "<![CDATA[x]]>".into();
    let xml = written(&p);
    assert!(xml.contains("&amp;&amp;") && xml.contains("&#xD;"));
    assert_eq!(ok(parsed(&xml), "parse"), p);
}

#[test]
fn business_details_survive() {
    let mut p = sample();
    p.business = Business {
        business_doc_type: BusinessType::Replace,
        business_doc_reason: "Thay thế do sai sót số liệu".into(),
        document_id: Some("000.00.01.H26,2024/04/01,99/UBND-VP".into()),
        document_info: Some(BusinessDocumentInfo {
            document_info: "1".into(),
            document_receiver: "1".into(),
            receivers: vec![
                Receiver {
                    receiver_type: ReceiverType::Added,
                    organ_id: "000.00.04.H26".into(),
                },
                Receiver {
                    receiver_type: ReceiverType::Removed,
                    organ_id: "000.00.03.H26".into(),
                },
            ],
        }),
        staff_info: None,
        paper: 1,
        replacement_info: vec![ReplacementInfo {
            document_id: "000.00.01.H26,2024/04/01,99/UBND-VP".into(),
            organ_ids: vec!["000.00.02.H26".into(), "000.00.03.H26".into()],
        }],
    };
    p.header.response_for = vec![ResponseFor {
        organ_id: "000.00.09.H26".into(),
        code: "7/SNV-TCBC".into(),
        promulgation_date: NaiveDate::from_ymd_opt(2024, 4, 20),
        document_id: "000.00.09.H26,2024/04/20,7/SNV-TCBC".into(),
    }];
    p.trace.push(TraceHeader {
        organ_id: "VPCP".into(),
        timestamp: ok(
            DateTime::parse_from_rfc3339("2024-05-02T02:16:01.250+00:00"),
            "time",
        ),
    });
    let back = ok(parsed(&written(&p)), "parse");
    assert_eq!(back, p);
    assert_eq!(back.trace[1].timestamp.offset().local_minus_utc(), 0);
    for t in BusinessType::ALL {
        assert_eq!(BusinessType::from_code(t.code()), Some(t));
        assert!(!t.label_vi().is_empty() && !t.label_en().is_empty());
    }
    assert_eq!(BusinessType::from_code(4), None);
}

#[test]
fn the_business_element_may_be_spelled_correctly() {
    let xml = written(&sample()).replace("Bussiness", "Business");
    assert_eq!(ok(parsed(&xml), "parse"), sample());
}

#[test]
fn hub_style_timestamps_keep_whole_seconds() {
    let p = sample();
    let hub = Profile {
        timestamps: TimestampStyle::Hub,
        ..Profile::default()
    };
    let xml = text(&ok(write(&p, &hub), "write"));
    assert!(
        xml.contains("<edXML:Timestamp>2024/05/02 09:15:00</edXML:Timestamp>"),
        "{xml}"
    );
    assert_eq!(ok(parse(xml.as_bytes(), &hub, &limits()), "parse"), p);
}

#[test]
fn malformed_input_is_reported_with_its_line() {
    let xml = written(&sample());
    let cases = [
        xml.replace("</edXML:Subject>", "</edXML:Subjec>"),
        xml.replace("</edXML>", ""),
        xml.replace("</edXML>", "</edXML><edXML/>"),
        xml.replace("</edXML>", "</edXML>trailing"),
        xml.replace("<edXML:Subject>", "<edXML:Subject>a & b"),
        xml.replace("<edXML:Subject>", "<zz:Subject>"),
        String::new(),
        "   ".to_string(),
    ];
    for c in &cases {
        let e = parsed(c).err();
        assert!(
            matches!(e, Some(EdxmlError::Malformed { .. })),
            "{c:.80}: {e:?}"
        );
    }
    let broken = xml.replace("</edXML:Subject>", "</edXML:Subjec>");
    let line = 1 + xml[..xml.find("</edXML:Subject>").unwrap_or(0)]
        .matches('\n')
        .count();
    match parsed(&broken) {
        Err(EdxmlError::Malformed { line: l, .. }) => assert_eq!(l, line),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statuses_survive_a_round_trip() {
    let p = sample();
    for code in StatusCode::ALL {
        let s = sample_status("000.00.02.H26", &p, code);
        let bytes = ok(write_status(&s, &profile()), "write");
        let xml = text(&bytes);
        assert!(xml.contains(&format!(
            "<edXML:StatusCode>{}</edXML:StatusCode>",
            code.code()
        )));
        assert!(xml.contains("<edXML:Status>"));
        let back = ok(parse_status(&bytes, &profile(), &limits()), "parse");
        assert_eq!(back, s);
        assert_eq!(back.response_for.document_id, p.document_id());
        // A status is not a document package, and the other way round.
        assert!(parse(&bytes, &profile(), &limits()).is_err());
    }
    let doc = ok(write(&p, &profile()), "write");
    let e = parse_status(&doc, &profile(), &limits()).err();
    assert_eq!(
        e.map(|e| fields(&e)),
        Some(vec!["edXMLHeader.Status".to_string()])
    );
}

#[test]
fn status_codes_read_and_label() {
    let expected = ["01", "02", "03", "04", "05", "06", "13", "15", "16"];
    for (code, text) in StatusCode::ALL.iter().zip(expected) {
        assert_eq!(code.code(), text);
        assert_eq!(StatusCode::parse(text), Some(*code));
        assert_eq!(StatusCode::parse(&code.number().to_string()), Some(*code));
        assert_eq!(StatusCode::parse(&format!(" {text} ")), Some(*code));
        assert!(!code.label_vi().is_empty() && !code.label_en().is_empty());
        assert_eq!(code.to_string(), text);
    }
    for bad in [
        "", "0", "00", "07", "12", "14", "17", "1a", "-1", "+1", "0001", "x",
    ] {
        assert_eq!(StatusCode::parse(bad), None, "{bad}");
    }
    assert!(StatusCode::RecallAccepted.is_recall());
    assert!(!StatusCode::Completed.is_recall());
}

#[test]
fn a_hub_style_status_is_read() {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{NS}">
  <edXMLEnvelope>
    <edXMLHeader>
      <Status>
        <ResponseFor>
          <OrganId>H37.01</OrganId>
          <Code>48/STP-VP</Code>
          <PromulgationDate>07/03/2024</PromulgationDate>
          <DocumentId>H37.01,2024/03/07,48/STP-VP</DocumentId>
        </ResponseFor>
        <From><OrganId>H37.02</OrganId><OrganName>Sở Nội vụ</OrganName></From>
        <StatusCode>3</StatusCode>
        <Description>Đã vào sổ</Description>
        <TimeStamp>07/03/2024 14:20:00</TimeStamp>
        <StaffInfo><Department>Văn thư</Department><Staff>Đỗ Thị Hà</Staff></StaffInfo>
      </Status>
    </edXMLHeader>
  </edXMLEnvelope>
</edXML>"#
    );
    let s = ok(parse_status(xml.as_bytes(), &profile(), &limits()), "parse");
    assert_eq!(s.status_code, StatusCode::Accepted);
    assert_eq!(
        s.response_for.promulgation_date,
        NaiveDate::from_ymd_opt(2024, 3, 7)
    );
    assert_eq!(s.timestamp.to_rfc3339(), "2024-03-07T14:20:00+07:00");
    assert_eq!(s.staff_info.staff, "Đỗ Thị Hà");
    let bad = xml.replace("<StatusCode>3</StatusCode>", "<StatusCode>09</StatusCode>");
    let e = parse_status(bad.as_bytes(), &profile(), &limits()).err();
    assert_eq!(
        e.map(|e| fields(&e)),
        Some(vec!["Status.StatusCode".to_string()])
    );
}

#[test]
fn errors_read_in_both_languages() {
    let errors = [
        EdxmlError::Doctype,
        EdxmlError::Encoding { detail: "x".into() },
        EdxmlError::TooLarge {
            what: "the package".into(),
            limit: 1,
        },
        EdxmlError::TooDeep { limit: 32 },
        EdxmlError::Malformed {
            line: 3,
            offset: 40,
            detail: "x".into(),
        },
        EdxmlError::WrongRoot {
            found: "a".into(),
            expected: NS.into(),
        },
        EdxmlError::Invalid(vec![Problem::new("f", "sai", "wrong")]),
    ];
    for e in errors {
        assert!(!e.message_vi().is_empty() && !e.message_en().is_empty());
        assert!(e.kind().starts_with("edxml_"));
    }
}

/// A small deterministic generator, so that the mutation test needs no other crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x1F600;",
    b"&lol;",
    b"<!DOCTYPE x>",
    b"<![CDATA[",
    b"]]>",
    b"</",
    b"/>",
    b"<edXML:To><edXML:OrganId>X</edXML:OrganId></edXML:To>",
    b"<edXML:Signature>",
    b"xmlns=\"urn:x\"",
    b"xmlns:edXML=\"\"",
    b"<?xml version=\"1.0\" encoding=\"latin1\"?>",
    b"\xFF",
    b"\0",
    b"cid:",
    b"====",
    b"\r\n",
    "ệ😀".as_bytes(),
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let tail = b.split_off(at);
                b.extend_from_slice(t);
                b.extend(tail);
            }
            2 if at < b.len() => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            3 => b.truncate(at),
            4 if at < b.len() => {
                let end = (at + 1 + rng.below(200)).min(b.len());
                let piece = b[at..end].to_vec();
                let to = rng.below(b.len() + 1);
                let tail = b.split_off(to);
                b.extend(piece);
                b.extend(tail);
            }
            _ => {
                let i = rng.below(b.len().max(1));
                if let Some(x) = b.get_mut(i) {
                    *x = b"<>&;\"'/=:x0 \n"[rng.below(13)];
                }
            }
        }
    }
    b
}

#[test]
fn mutated_packages_never_panic() {
    let doc = ok(write(&sample(), &profile()), "doc");
    let status = ok(
        write_status(
            &sample_status("000.00.02.H26", &sample(), StatusCode::Refused),
            &profile(),
        ),
        "status",
    );
    let hub = HUB_STYLE.as_bytes().to_vec();
    let national = NATIONAL_HUB_STYLE.as_bytes().to_vec();
    let seeds = [doc, status, hub, national];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for i in 0..4000 {
        let input = mutate(&seeds[i % seeds.len()], &mut rng);
        if let Ok(p) = parse(&input, &profile(), &limits()) {
            accepted += 1;
            let again = ok(write(&p, &profile()), "write what was read");
            assert_eq!(ok(parse(&again, &profile(), &limits()), "read again"), p);
        }
        if let Ok(s) = parse_status(&input, &profile(), &limits()) {
            let again = ok(write_status(&s, &profile()), "write what was read");
            assert_eq!(
                ok(parse_status(&again, &profile(), &limits()), "read again"),
                s
            );
        }
    }
    // Some mutations leave a valid package (a changed letter in a subject, say).
    assert!(accepted > 0);
}

#[test]
fn the_fuzz_seeds_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let doc = ok(std::fs::read(dir.join("document.edxml")), "document seed");
    assert!(parse(&doc, &profile(), &limits()).is_ok());
    let status = ok(std::fs::read(dir.join("status.edxml")), "status seed");
    assert!(parse_status(&status, &profile(), &limits()).is_ok());
}

/// Writes the fuzz seeds again: `cargo test -p motcua-exchange -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    ok(std::fs::create_dir_all(&dir), "mkdir");
    let p = sample_package("000.00.01.H26", &["000.00.02.H26"], 7);
    ok(
        std::fs::write(dir.join("document.edxml"), ok(write(&p, &profile()), "doc")),
        "write doc",
    );
    let s = sample_status("000.00.02.H26", &p, StatusCode::Accepted);
    ok(
        std::fs::write(
            dir.join("status.edxml"),
            ok(write_status(&s, &profile()), "status"),
        ),
        "write status",
    );
}

// Arbitrary values for the round trip.

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\PC]{0,24}",
        "[<&>\"' a-zA-Zàáạảãăắằẳẵặâấầẩẫậđèéẹẻẽêếềểễệôơưữ😀🇻🇳\\t\\n\\r]{0,24}",
        Just(String::new()),
    ]
}

fn any_non_blank() -> impl Strategy<Value = String> {
    ("[a-zA-ZđĐ0-9😀]", any_text()).prop_map(|(a, b)| format!("{a}{b}"))
}

fn any_organ_id() -> impl Strategy<Value = String> {
    "[A-Z0-9][A-Z0-9.\\-]{0,20}"
}

fn any_org() -> impl Strategy<Value = Organization> {
    (
        any_organ_id(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
    )
        .prop_map(
            |(id, incharge, name, add, email, tel, fax, web)| Organization {
                organ_id: id,
                organization_in_charge: incharge,
                organ_name: name,
                organ_add: add,
                email,
                telephone: tel,
                fax,
                website: web,
            },
        )
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    (1990i32..2100, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
}

fn any_time() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (
        0i64..4_000_000_000,
        -(12 * 4)..=(14 * 4),
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
    )
        .prop_map(|(secs, quarters, nanos)| {
            let offset = FixedOffset::east_opt(quarters * 15 * 60)
                .unwrap_or_else(|| panic!("offset {quarters}"));
            let utc = chrono::Utc
                .timestamp_opt(secs, nanos)
                .single()
                .unwrap_or_else(|| panic!("time {secs}"));
            utc.with_timezone(&offset)
        })
}

fn any_response_for() -> impl Strategy<Value = ResponseFor> {
    (
        any_organ_id(),
        any_text(),
        prop::option::of(any_date()),
        any_text(),
    )
        .prop_map(
            |(organ_id, code, promulgation_date, document_id)| ResponseFor {
                organ_id,
                code,
                promulgation_date,
                document_id,
            },
        )
}

fn any_staff() -> impl Strategy<Value = StaffInfo> {
    (any_text(), any_text(), any_text(), any_text()).prop_map(
        |(department, staff, mobile, email)| StaffInfo {
            department,
            staff,
            mobile,
            email,
        },
    )
}

fn any_business() -> impl Strategy<Value = Business> {
    (
        prop::sample::select(BusinessType::ALL.to_vec()),
        any_text(),
        prop::option::of(any_non_blank()),
        prop::option::of((
            any_text(),
            any_text(),
            prop::collection::vec((any::<bool>(), any_organ_id()), 0..3),
        )),
        prop::option::of(any_staff()),
        0u8..=1,
        prop::collection::vec(
            (any_text(), prop::collection::vec(any_organ_id(), 0..3)),
            0..3,
        ),
    )
        .prop_map(
            |(kind, reason, document_id, info, staff, paper, replaced)| Business {
                business_doc_type: kind,
                business_doc_reason: reason,
                document_id,
                document_info: info.map(|(document_info, document_receiver, receivers)| {
                    BusinessDocumentInfo {
                        document_info,
                        document_receiver,
                        receivers: receivers
                            .into_iter()
                            .map(|(added, organ_id)| Receiver {
                                receiver_type: if added {
                                    ReceiverType::Added
                                } else {
                                    ReceiverType::Removed
                                },
                                organ_id,
                            })
                            .collect(),
                    }
                }),
                staff_info: staff,
                paper,
                replacement_info: replaced
                    .into_iter()
                    .map(|(document_id, organ_ids)| ReplacementInfo {
                        document_id,
                        organ_ids,
                    })
                    .collect(),
            },
        )
}

fn any_attachments() -> impl Strategy<Value = Vec<Attachment>> {
    prop::collection::vec(
        (
            "[A-Za-z0-9._@\\-]{1,20}",
            any_non_blank(),
            any_text(),
            any_text(),
            prop::collection::vec(any::<u8>(), 0..300),
        ),
        0..4,
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(
                |(i, (id, name, content_type, description, data))| Attachment {
                    content_id: format!("{i}.{id}"),
                    name,
                    content_type,
                    description,
                    data,
                },
            )
            .collect()
    })
}

fn any_header() -> impl Strategy<Value = MessageHeader> {
    let parties = (any_org(), prop::collection::vec(any_org(), 1..4));
    let document = (
        ("[0-9]{1,4}", any_text()),
        (any_text(), any_date()),
        (any::<u16>(), any::<u16>(), any_text()),
        any_non_blank(),
        any_text(),
        (any_text(), any_text(), any_text()),
    );
    let rest = (
        prop::option::of(any_date()),
        prop::collection::vec(any_text(), 0..3),
        (
            0u8..=4,
            any_text(),
            any_text(),
            any::<u32>(),
            any::<u32>(),
            prop::collection::vec(any_text(), 0..3),
        ),
        prop::collection::vec(any_response_for(), 0..2),
        any::<u8>(),
        any::<bool>(),
    );
    (parties, document, rest).prop_map(
        |(
            (from, to),
            (
                (number, notation),
                (place, date),
                (type_code, type_detail, type_name),
                subject,
                content,
                signer,
            ),
            (due_date, to_places, other, response_for, steering_type, with_id),
        )| {
            let mut h = MessageHeader {
                from,
                to,
                code: Code {
                    code_number: number,
                    code_notation: notation,
                },
                promulgation_info: PromulgationInfo {
                    place,
                    promulgation_date: date,
                },
                document_type: DocumentType {
                    type_code,
                    type_detail,
                    type_name,
                },
                subject,
                content,
                signer_info: SignerInfo {
                    competence: signer.0,
                    position: signer.1,
                    full_name: signer.2,
                },
                due_date,
                to_places,
                other_info: OtherInfo {
                    priority: other.0,
                    sphere_of_promulgation: other.1,
                    typer_notation: other.2,
                    promulgation_amount: other.3,
                    page_amount: other.4,
                    appendixes: other.5,
                },
                response_for,
                steering_type,
                document_id: None,
            };
            if with_id {
                h.document_id = Some(model::built_document_id(&h));
            }
            h
        },
    )
}

fn any_package() -> impl Strategy<Value = Package> {
    (
        any_header(),
        prop::collection::vec((any_organ_id(), any_time()), 0..3),
        any_business(),
        any_attachments(),
    )
        .prop_map(|(header, trace, business, attachments)| Package {
            header,
            trace: trace
                .into_iter()
                .map(|(organ_id, timestamp)| TraceHeader {
                    organ_id,
                    timestamp,
                })
                .collect(),
            business,
            attachments,
        })
}

fn any_status() -> impl Strategy<Value = StatusPackage> {
    (
        any_response_for(),
        any_non_blank(),
        any_org(),
        prop::sample::select(StatusCode::ALL.to_vec()),
        any_text(),
        any_time(),
        any_staff(),
    )
        .prop_map(
            |(
                mut response_for,
                document_id,
                from,
                status_code,
                description,
                timestamp,
                staff_info,
            )| {
                response_for.document_id = document_id;
                StatusPackage {
                    response_for,
                    from,
                    status_code,
                    description,
                    timestamp,
                    staff_info,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_valid_package_survives_a_round_trip(p in any_package()) {
        let bytes = write(&p, &profile()).unwrap_or_else(|e| panic!("write: {e}"));
        let back = parse(&bytes, &profile(), &limits()).unwrap_or_else(|e| panic!("parse: {e}"));
        prop_assert_eq!(&back, &p);
        // The offsets of times are kept too, not only the instants.
        for (a, b) in back.trace.iter().zip(&p.trace) {
            prop_assert_eq!(a.timestamp.offset(), b.timestamp.offset());
        }
    }

    #[test]
    fn any_valid_status_survives_a_round_trip(s in any_status()) {
        let bytes = write_status(&s, &profile()).unwrap_or_else(|e| panic!("write: {e}"));
        let back = parse_status(&bytes, &profile(), &limits()).unwrap_or_else(|e| panic!("parse: {e}"));
        prop_assert_eq!(back.timestamp.offset(), s.timestamp.offset());
        prop_assert_eq!(back, s);
    }

    #[test]
    fn hub_times_survive_to_the_second(secs in 0i64..4_000_000_000) {
        let t = chrono::Utc.timestamp_opt(secs, 0).single().unwrap_or_else(|| panic!("time"));
        let s = StatusPackage {
            timestamp: t.fixed_offset(),
            ..sample_status("A1", &sample(), StatusCode::Completed)
        };
        let hub = Profile { timestamps: TimestampStyle::Hub, ..Profile::default() };
        let bytes = write_status(&s, &hub).unwrap_or_else(|e| panic!("write: {e}"));
        let back = parse_status(&bytes, &hub, &limits()).unwrap_or_else(|e| panic!("parse: {e}"));
        prop_assert_eq!(back.timestamp, s.timestamp);
    }

    #[test]
    fn random_bytes_are_refused_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(parse(&bytes, &profile(), &limits()).is_err());
        prop_assert!(parse_status(&bytes, &profile(), &limits()).is_err());
    }
}

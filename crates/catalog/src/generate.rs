//! Generated procedures for scale tests and benchmarks: plausible Vietnamese names built from
//! parts, spread over the agencies and fields that exist. Deterministic for a given seed.

use kernel::ids::AgencyCode;
use kernel::sample::Rng;

use crate::model::{Audience, Fee, OnlineMode, ProcedureSpec, RequiredDocument};

const ACTIONS: &[&str] = &[
    "Cấp",
    "Cấp lại",
    "Cấp đổi",
    "Điều chỉnh",
    "Gia hạn",
    "Thu hồi",
    "Công nhận",
    "Chấp thuận",
    "Thẩm định",
    "Phê duyệt",
    "Xác nhận",
    "Thông báo",
    "Bổ sung",
    "Đình chỉ",
    "Khôi phục",
    "Hủy bỏ",
    "Sửa đổi",
    "Tiếp nhận",
    "Giải quyết",
    "Cho phép",
];
const OBJECTS: &[&str] = &[
    "giấy phép hoạt động",
    "giấy chứng nhận đủ điều kiện",
    "chứng chỉ hành nghề",
    "giấy phép kinh doanh",
    "quyết định thành lập",
    "hồ sơ đề nghị hỗ trợ",
    "phương án sản xuất",
    "báo cáo đánh giá tác động",
    "giấy phép khai thác",
    "văn bản chấp thuận",
    "giấy xác nhận ưu đãi",
    "danh mục kỹ thuật",
    "kế hoạch bảo vệ",
    "giấy phép vận chuyển",
    "giấy chứng nhận lưu hành",
    "hồ sơ công bố",
    "giấy phép sử dụng",
    "chứng nhận chất lượng",
    "giấy phép xả thải",
    "thỏa thuận đấu nối",
    "giấy phép tổ chức",
    "văn bản xác nhận",
    "chứng chỉ năng lực",
    "giấy phép liên kết",
    "hồ sơ thẩm tra",
    "dự án đầu tư",
    "quy chế hoạt động",
    "giấy phép nhập khẩu",
];
const SUBJECTS: &[&str] = &[
    "cơ sở bán lẻ thuốc",
    "trung tâm ngoại ngữ",
    "cơ sở giáo dục mầm non",
    "phòng khám đa khoa",
    "nhà hàng ăn uống",
    "cơ sở chăn nuôi",
    "tàu cá",
    "trạm sạc xe điện",
    "bến thủy nội địa",
    "cơ sở lưu trú du lịch",
    "doanh nghiệp vận tải",
    "cơ sở giết mổ",
    "trang trại thủy sản",
    "đại lý xăng dầu",
    "công trình thủy lợi",
    "cơ sở in",
    "thư viện tư nhân",
    "câu lạc bộ thể thao",
    "cơ sở trợ giúp xã hội",
    "hợp tác xã nông nghiệp",
    "cơ sở sản xuất phân bón",
    "mỏ khoáng sản",
    "kho chứa hóa chất",
    "đài truyền thanh",
    "nhà thuốc bệnh viện",
    "cơ sở đào tạo lái xe",
    "cảng cá",
    "khu công nghiệp",
    "cụm công nghiệp",
    "chợ đầu mối",
];
const QUALIFIERS: &[&str] = &[
    "",
    "có vốn đầu tư nước ngoài",
    "trên địa bàn tỉnh",
    "cấp xã",
    "quy mô nhỏ",
    "trong khu kinh tế",
    "thuộc thẩm quyền cấp tỉnh",
    "thuộc thẩm quyền trung ương",
    "theo hình thức trực tuyến",
    "trường hợp bị mất",
    "trường hợp hết hạn",
    "khi thay đổi địa điểm",
    "khi thay đổi chủ sở hữu",
    "lần đầu",
    "đối với hộ kinh doanh",
    "đối với tổ chức",
    "vùng biên giới",
    "ven biển",
];

/// `n` procedures numbered from `9.000001`, over the given fields and agencies (which must not
/// be empty).
pub fn procedures(
    n: usize,
    seed: u64,
    fields: &[String],
    agencies: &[AgencyCode],
) -> Vec<ProcedureSpec> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    if fields.is_empty() || agencies.is_empty() {
        return out;
    }
    for i in 0..n {
        let action = *rng.pick(ACTIONS);
        let object = *rng.pick(OBJECTS);
        let subject = *rng.pick(SUBJECTS);
        let qualifier = *rng.pick(QUALIFIERS);
        let name = if qualifier.is_empty() {
            format!("{action} {object} {subject}")
        } else {
            format!("{action} {object} {subject} {qualifier}")
        };
        let level = 1 + (rng.next_u64() % 4) as u8;
        let online = match level {
            4 => OnlineMode::Full,
            3 => OnlineMode::Partial,
            _ => OnlineMode::None,
        };
        let n_agencies = 1 + (rng.next_u64() % 3) as usize;
        let mut ag: Vec<AgencyCode> = (0..n_agencies)
            .map(|_| rng.pick(agencies).clone())
            .collect();
        ag.sort();
        ag.dedup();
        let audience = match rng.next_u64() % 3 {
            0 => vec![Audience::Citizen],
            1 => vec![Audience::Business],
            _ => vec![Audience::Citizen, Audience::Business],
        };
        let fee = (rng.next_u64() % 20) as i64 * 50_000;
        out.push(ProcedureSpec {
            code: format!("9.{:06}", i + 1),
            name,
            field: rng.pick(fields).clone(),
            agencies: ag,
            audience,
            level,
            online,
            time_limit_days: (rng.next_u64() % 30) as u16 + 1,
            time_limit_note: None,
            fees: vec![Fee {
                label: "Phí thẩm định".into(),
                amount: fee,
                case: None,
                per_copy: false,
                beneficiary: false,
            }],
            fee_due: None,
            documents: vec![
                RequiredDocument {
                    name: format!("Đơn đề nghị {}", object),
                    copies: 1,
                    original: true,
                    template: Some("Mẫu 01".into()),
                },
                RequiredDocument {
                    name: "Bản sao giấy tờ pháp lý của tổ chức, cá nhân".into(),
                    copies: 1,
                    original: false,
                    template: None,
                },
            ],
            steps: vec![
                "Tổ chức, cá nhân nộp hồ sơ tại Bộ phận Một cửa hoặc trực tuyến".into(),
                "Cơ quan giải quyết thẩm định hồ sơ".into(),
                "Trả kết quả cho tổ chức, cá nhân".into(),
            ],
            legal_basis: vec!["Văn bản quy phạm pháp luật chuyên ngành".into()],
            result: format!("Văn bản {} {}", action.to_lowercase(), object),
            where_to_submit: "Bộ phận Một cửa của cơ quan giải quyết".into(),
            description: format!("Thủ tục dành cho {subject}."),
            requires_assurance: None,
            form: vec![],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_procedures_are_valid_and_deterministic() {
        let fields = vec!["HT".to_string()];
        let agencies = vec![AgencyCode::parse("000.00.00.H26").unwrap_or_else(|e| panic!("{e}"))];
        let a = procedures(200, 7, &fields, &agencies);
        let b = procedures(200, 7, &fields, &agencies);
        assert_eq!(a, b);
        assert_eq!(a.len(), 200);
        for p in &a {
            assert!(crate::model::validate_procedure(p).is_empty(), "{p:?}");
        }
        assert!(procedures(5, 1, &[], &agencies).is_empty());
    }
}

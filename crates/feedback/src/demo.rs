//! The demo's feedback: the areas of its wards (rough outlines drawn for the demo, not survey
//! boundaries) with their People's Committees, and a few reports in Hoàn Kiếm ward, one of
//! them answered.

use crate::areas::AreaSpec;
use crate::reports::{ActRequest, NewReport, Reporter};
use crate::rules::{Act, Point};
use crate::{Feedback, Result};

/// South, north, west and east edges, in degrees.
type Edges = (f64, f64, f64, f64);

/// Ward, its People's Committee, and its outline.
const WARDS: &[(&str, &str, Edges)] = &[
    ("00070", "000.00.51.H26", (21.018, 21.038, 105.843, 105.862)),
    ("00166", "000.00.52.H26", (21.020, 21.045, 105.780, 105.805)),
    ("19789", "000.00.51.H57", (16.440, 16.480, 107.570, 107.620)),
    ("26740", "000.00.51.H29", (10.772, 10.790, 106.695, 106.712)),
    ("26743", "000.00.52.H29", (10.762, 10.772, 106.685, 106.700)),
    ("14797", "000.00.51.H56", (19.790, 19.830, 105.760, 105.800)),
    ("16531", "000.00.52.H56", (19.720, 19.770, 105.880, 105.920)),
];

/// Seeds the demo once; answers whether it did.
pub async fn seed(f: &Feedback) -> Result<bool> {
    f.ensure_services().await?;
    if !f.areas().await?.is_empty() {
        return Ok(false);
    }
    for (unit, agency, (s, n, w, e)) in WARDS {
        let spec = AreaSpec {
            agency_code: (*agency).to_string(),
            geometry: serde_json::json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}),
        };
        f.set_area("system:demo", unit, &spec).await?;
    }
    let citizen = Reporter {
        account: None,
        name: "Trần Minh Khoa".into(),
        // No address: the demo writes nothing to the outbox.
        email: None,
        phone: None,
        device_id: None,
    };
    let reports = [
        (
            "HT01",
            "Ổ gà lớn trước số 12 Hàng Bài",
            "Ổ gà sâu khoảng 15 cm giữa làn xe máy, trời mưa đọng nước rất nguy hiểm cho người đi đường.",
            (21.0245, 105.8522),
            "12 Hàng Bài, phường Hoàn Kiếm",
            vec![("muc_do".to_string(), vec!["nguy_hiem".to_string()])],
        ),
        (
            "HT02",
            "Đèn đường không sáng phố Lý Thái Tổ",
            "Ba cột đèn liên tiếp trên phố Lý Thái Tổ đoạn gần Bờ Hồ không sáng từ tuần trước.",
            (21.0287, 105.8545),
            "Phố Lý Thái Tổ, phường Hoàn Kiếm",
            vec![],
        ),
        (
            "MT01",
            "Đổ phế thải xây dựng ven hồ",
            "Có người đổ nhiều bao phế thải xây dựng ban đêm ở góc phố, chắn một phần vỉa hè.",
            (21.0302, 105.8498),
            "Phố Hàng Trống, phường Hoàn Kiếm",
            vec![("loai_rac".to_string(), vec!["xay_dung".to_string()])],
        ),
    ];
    let mut ids = Vec::new();
    for (service, title, description, (lat, lon), address, attributes) in reports {
        let filed = f
            .file(NewReport {
                service_code: service.into(),
                title: title.into(),
                description: description.into(),
                point: Point::new(lat, lon),
                address: address.into(),
                attributes,
                reporter: citizen.clone(),
                channel: "web".into(),
                ..NewReport::default()
            })
            .await?;
        ids.push(filed.id);
    }
    if let (Some(first), Some(official)) = (ids.first(), f.demo_official().await?) {
        let official = Some(official);
        for (act, note) in [
            (Act::Start, "Đã giao đội duy tu kiểm tra hiện trường."),
            (
                Act::Answer,
                "Đội duy tu đã vá ổ gà trước số 12 Hàng Bài ngày hôm qua. Cảm ơn bạn đã phản ánh.",
            ),
        ] {
            f.act(
                first,
                official.as_ref(),
                None,
                &ActRequest {
                    act,
                    note: note.into(),
                    public: true,
                    into: None,
                    agency: None,
                    photo: None,
                },
            )
            .await?;
        }
    }
    Ok(true)
}

impl Feedback {
    async fn demo_official(&self) -> Result<Option<identity::Principal>> {
        match self.identity.principal_by_login("phuong.hoankiem").await? {
            Some(p) => Ok(Some(p)),
            None => Ok(None),
        }
    }
}

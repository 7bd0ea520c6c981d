//! Demo accounts, one for every kind of user, created by `serve --demo`. Their password is
//! public (it is printed on the demo's login page and in the README): never run `--demo` on a
//! node that holds real data.

use kernel::ids::{Cccd, Sex, TaxCode};

use crate::{AccountKind, Identity, IdentityError, NewAccount, Role};

/// The shared password of every demo account.
pub const PASSWORD: &str = "thu-nghiem-motcua-2026";

/// The agency the demo officials work in: the Hanoi public administration service centre.
pub const AGENCY: &str = "000.00.02.H26";

/// A demo account: login, kind, name, role and the role's agency.
pub type DemoAccount = (
    &'static str,
    AccountKind,
    &'static str,
    Option<Role>,
    Option<&'static str>,
);

pub const ACCOUNTS: &[DemoAccount] = &[
    (
        "001095012345",
        AccountKind::Citizen,
        "Nguyễn Văn An",
        None,
        None,
    ),
    (
        "0100109106",
        AccountKind::Business,
        "Công ty Cổ phần Thử Nghiệm",
        None,
        None,
    ),
    (
        "tiepnhan",
        AccountKind::Official,
        "Trần Thị Bình",
        Some(Role::Reception),
        Some(AGENCY),
    ),
    (
        "chuyenvien",
        AccountKind::Official,
        "Lê Văn Cường",
        Some(Role::Specialist),
        Some(AGENCY),
    ),
    (
        "truongphong",
        AccountKind::Official,
        "Phạm Thị Dung",
        Some(Role::DepartmentHead),
        Some(AGENCY),
    ),
    (
        "lanhdao",
        AccountKind::Official,
        "Hoàng Văn Em",
        Some(Role::AgencyLeader),
        Some(AGENCY),
    ),
    (
        "quantri.coquan",
        AccountKind::Official,
        "Vũ Thị Giang",
        Some(Role::AgencyAdmin),
        Some(AGENCY),
    ),
    (
        "ketoan",
        AccountKind::Official,
        "Ngô Thị Hoa",
        Some(Role::Accountant),
        Some("000.01.01.G01"),
    ),
    (
        "vanthu",
        AccountKind::Official,
        "Đinh Thị Lan",
        Some(Role::Clerk),
        Some(AGENCY),
    ),
    (
        "vanthu.ubnd",
        AccountKind::Official,
        "Mai Văn Nam",
        Some(Role::Clerk),
        Some("000.00.00.H26"),
    ),
    (
        "chutich.ubnd",
        AccountKind::Official,
        "Nguyễn Quang Minh",
        Some(Role::AgencyLeader),
        Some("000.00.00.H26"),
    ),
    (
        "phochutich.ubnd",
        AccountKind::Official,
        "Lê Thu Hà",
        Some(Role::AgencyLeader),
        Some("000.00.00.H26"),
    ),
    (
        "uyvien.ubnd",
        AccountKind::Official,
        "Phạm Đức Long",
        None,
        None,
    ),
    (
        "thuky.ubnd",
        AccountKind::Official,
        "Trịnh Thị Ngọc",
        Some(Role::Secretariat),
        Some("000.00.00.H26"),
    ),
    (
        "phuong.hoankiem",
        AccountKind::Official,
        "Lý Thị Mai",
        Some(Role::Specialist),
        Some("000.00.51.H26"),
    ),
    (
        "vanhanh",
        AccountKind::Official,
        "Đỗ Văn Hải",
        Some(Role::NationalOperator),
        None,
    ),
    (
        "quantri",
        AccountKind::Official,
        "Bùi Thị Hoa",
        Some(Role::SystemAdmin),
        None,
    ),
];

/// One Argon2id hash of [`PASSWORD`] for every demo account, made once per process: the
/// password is public, and every test server would otherwise hash it once per account.
fn demo_hash() -> Result<&'static str, IdentityError> {
    static HASH: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::password::hash(PASSWORD))
        .as_deref()
        .map_err(|e| IdentityError::Hash(e.clone()))
}

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn ensure(id: &Identity) -> Result<usize, IdentityError> {
    let mut created = 0;
    for (login, kind, name, role, agency) in ACCOUNTS {
        let new = NewAccount {
            kind: *kind,
            username: (*kind == AccountKind::Official).then(|| login.to_string()),
            full_name: name.to_string(),
            cccd: if *kind == AccountKind::Citizen {
                Cccd::parse(login).ok()
            } else {
                None
            },
            tax_code: if *kind == AccountKind::Business {
                TaxCode::parse(login).ok()
            } else {
                None
            },
            birth_date: (*kind == AccountKind::Citizen)
                .then(|| chrono::NaiveDate::from_ymd_opt(1995, 5, 19))
                .flatten(),
            sex: (*kind == AccountKind::Citizen).then_some(Sex::Male),
            phone: None,
            email: None,
            password: PASSWORD.to_string(),
            assurance: if *kind == AccountKind::Official { 1 } else { 2 },
        };
        match id
            .create_account_hashed(&new, "system:demo", demo_hash()?)
            .await
        {
            Ok(_) => created += 1,
            Err(IdentityError::Taken(_)) => continue,
            Err(e) => return Err(e),
        }
        if let Some(r) = role {
            id.grant(login, *r, *agency, "system:demo").await?;
        }
    }
    Ok(created)
}

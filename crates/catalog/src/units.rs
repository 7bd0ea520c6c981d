//! Administrative units: the 34 provinces and 3,321 communes in force since 1 July 2025, and
//! the units they absorbed, kept as history so that an old address or code still resolves.
//!
//! The data ships in `data/admin-units-2025/` (derived from the public `dvhcvn` dataset, MIT
//! licence, notice kept beside it). It is loaded into the database once, with ids assigned
//! here, and held in memory as [`AdminUnits`] for lookups.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use kernel::db::Db;
use kernel::{on_db, problem::Error};

pub const PROVINCES_CSV: &str = include_str!("../data/admin-units-2025/provinces_2025_34.csv");
pub const COMMUNES_CSV: &str = include_str!("../data/admin-units-2025/communes_2025.csv");
pub const LICENCE: &str = include_str!("../data/admin-units-2025/LICENSE.dvhcvn");

/// The day the 2025 units came into force (Resolution 202/2025/QH15).
pub fn reform_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or(NaiveDate::MIN)
}

/// One unit, current or historical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AdminUnit {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// city, province, phuong (ward), xa (commune), dac_khu (special zone), or the kind of an
    /// old unit as far as the data tells.
    pub kind: String,
    /// 1 for provinces, 2 for communes.
    pub level: i64,
    pub parent_id: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
}

impl AdminUnit {
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_to.is_none_or(|t| day <= t)
    }
}

/// An old unit taken over by a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Succession {
    pub old_id: i64,
    pub new_id: i64,
    /// Whether the whole old unit went into the new one.
    pub whole: bool,
}

/// Every unit and succession, parsed from the shipped files.
#[derive(Debug, Clone, Default)]
pub struct UnitData {
    pub units: Vec<AdminUnit>,
    pub successions: Vec<Succession>,
}

/// Parses the shipped files into units with ids, in a deterministic order.
pub fn shipped() -> Result<UnitData, Error> {
    let bad =
        |what: &str, line: usize| Error::Config(format!("admin-units data: {what} at line {line}"));
    let reform = reform_day();
    let before = reform.pred_opt().unwrap_or(reform);
    let mut data = UnitData::default();
    let mut next_id = 1i64;
    let mut push = |data: &mut UnitData, u: AdminUnit| -> i64 {
        let id = next_id;
        next_id += 1;
        data.units.push(AdminUnit { id, ..u });
        id
    };

    // New provinces, then the old ones they were formed from.
    let mut province_ids: HashMap<String, i64> = HashMap::new();
    let mut old_province_ids: HashMap<String, i64> = HashMap::new();
    let mut old_provinces_of_new: HashMap<String, Vec<String>> = HashMap::new();
    let mut rdr = csv::Reader::from_reader(PROVINCES_CSV.as_bytes());
    for (i, rec) in rdr.records().enumerate() {
        let r = rec.map_err(|_| bad("unreadable province row", i + 2))?;
        let (code, name, kind, old_codes, old_names) = (&r[0], &r[1], &r[2], &r[3], &r[4]);
        let id = push(
            &mut data,
            AdminUnit {
                id: 0,
                code: code.to_string(),
                name: name.to_string(),
                kind: kind.to_string(),
                level: 1,
                parent_id: None,
                valid_from: Some(reform),
                valid_to: None,
            },
        );
        province_ids.insert(code.to_string(), id);
        let codes: Vec<&str> = old_codes.split_whitespace().collect();
        let names: Vec<&str> = old_names.split(';').map(str::trim).collect();
        if codes.len() != names.len() {
            return Err(bad("old province codes and names differ in number", i + 2));
        }
        for (c, n) in codes.iter().zip(names) {
            let old_id = match old_province_ids.get(*c) {
                Some(id) => *id,
                None => {
                    let kind = if n.starts_with("Thành phố") {
                        "city"
                    } else {
                        "province"
                    };
                    let id = push(
                        &mut data,
                        AdminUnit {
                            id: 0,
                            code: c.to_string(),
                            name: n.to_string(),
                            kind: kind.to_string(),
                            level: 1,
                            parent_id: None,
                            valid_from: None,
                            valid_to: Some(before),
                        },
                    );
                    old_province_ids.insert(c.to_string(), id);
                    id
                }
            };
            old_provinces_of_new
                .entry(code.to_string())
                .or_default()
                .push(c.to_string());
            data.successions.push(Succession {
                old_id,
                new_id: id,
                whole: true,
            });
        }
    }

    // New communes, then the old communes each absorbed.
    let mut old_commune_ids: HashMap<String, i64> = HashMap::new();
    let mut rdr = csv::Reader::from_reader(COMMUNES_CSV.as_bytes());
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let r = rec.map_err(|_| bad("unreadable commune row", line))?;
        let (prov, code, name, kind, merged) = (&r[0], &r[1], &r[2], &r[3], &r[4]);
        let parent = *province_ids
            .get(prov)
            .ok_or_else(|| bad("unknown province", line))?;
        let id = push(
            &mut data,
            AdminUnit {
                id: 0,
                code: code.to_string(),
                name: name.to_string(),
                kind: kind.to_string(),
                level: 2,
                parent_id: Some(parent),
                valid_from: Some(reform),
                valid_to: None,
            },
        );
        // The old province is known when the new one was formed from a single one.
        let old_parent = match old_provinces_of_new.get(prov).map(Vec::as_slice) {
            Some([only]) => old_province_ids.get(only).copied(),
            _ => None,
        };
        for part in merged.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (old_code, rest) = part
                .split_once(' ')
                .ok_or_else(|| bad("bad merged_from entry", line))?;
            let (old_name, whole) = if let Some(n) = rest.strip_suffix(" (full)") {
                (n, true)
            } else if let Some(n) = rest.strip_suffix(" (partial)") {
                (n, false)
            } else {
                return Err(bad("merged_from entry without (full) or (partial)", line));
            };
            let old_id = match old_commune_ids.get(old_code) {
                Some(id) => *id,
                None => {
                    let kind = old_kind(old_name);
                    let oid = push(
                        &mut data,
                        AdminUnit {
                            id: 0,
                            code: old_code.to_string(),
                            name: old_name.to_string(),
                            kind: kind.to_string(),
                            level: 2,
                            parent_id: old_parent,
                            valid_from: None,
                            valid_to: Some(before),
                        },
                    );
                    old_commune_ids.insert(old_code.to_string(), oid);
                    oid
                }
            };
            data.successions.push(Succession {
                old_id,
                new_id: id,
                whole,
            });
        }
    }
    Ok(data)
}

fn old_kind(name: &str) -> &'static str {
    if name.starts_with("Phường") {
        "phuong"
    } else if name.starts_with("Thị trấn") {
        "thi_tran"
    } else {
        "xa"
    }
}

/// Loads the shipped units into an empty database; does nothing when units are there already.
pub async fn seed(db: &Db) -> Result<usize, Error> {
    let have: i64 =
        on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM admin_units").fetch_one(p).await)?;
    if have > 0 {
        return Ok(0);
    }
    let data = shipped()?;
    let mut tx = kernel::audit::Tx::begin(db).await?;
    for chunk in data.units.chunks(500) {
        kernel::on_tx!(&mut tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO admin_units (id, code, name, kind, level, parent_id, valid_from, valid_to) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(u.id).push_bind(&u.code).push_bind(&u.name).push_bind(&u.kind)
                    .push_bind(u.level).push_bind(u.parent_id).push_bind(u.valid_from).push_bind(u.valid_to);
            });
            qb.build().execute(c).await.map(|_| ())
        })?;
    }
    for chunk in data.successions.chunks(1000) {
        kernel::on_tx!(&mut tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO admin_unit_successors (old_id, new_id, whole) ");
            qb.push_values(chunk, |mut b, s| {
                b.push_bind(s.old_id).push_bind(s.new_id).push_bind(s.whole);
            });
            qb.build().execute(c).await.map(|_| ())
        })?;
    }
    if let kernel::audit::Tx::Postgres(t) = &mut tx {
        sqlx::query("SELECT setval(pg_get_serial_sequence('admin_units', 'id'), (SELECT MAX(id) FROM admin_units))")
            .execute(&mut **t)
            .await?;
    }
    tx.commit().await?;
    Ok(data.units.len())
}

#[derive(sqlx::FromRow)]
struct UnitRow {
    id: i64,
    code: String,
    name: String,
    kind: String,
    level: i64,
    parent_id: Option<i64>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// Units held in memory for lookups.
#[derive(Debug, Default)]
pub struct AdminUnits {
    units: Vec<AdminUnit>,
    by_id: HashMap<i64, usize>,
    by_code: HashMap<String, Vec<usize>>,
    successors: HashMap<i64, Vec<Succession>>,
    predecessors: HashMap<i64, Vec<Succession>>,
}

impl AdminUnits {
    pub fn from_data(data: UnitData) -> AdminUnits {
        let mut a = AdminUnits::default();
        for (i, u) in data.units.iter().enumerate() {
            a.by_id.insert(u.id, i);
            a.by_code.entry(u.code.clone()).or_default().push(i);
        }
        for s in &data.successions {
            a.successors.entry(s.old_id).or_default().push(*s);
            a.predecessors.entry(s.new_id).or_default().push(*s);
        }
        a.units = data.units;
        a
    }

    pub async fn load(db: &Db) -> Result<AdminUnits, Error> {
        let rows: Vec<UnitRow> = on_db!(db, p => sqlx::query_as(
            "SELECT id, code, name, kind, level, parent_id, valid_from, valid_to FROM admin_units ORDER BY id"
        ).fetch_all(p).await)?;
        let succ: Vec<(i64, i64, bool)> = on_db!(db, p => sqlx::query_as(
            "SELECT old_id, new_id, whole FROM admin_unit_successors ORDER BY old_id, new_id"
        ).fetch_all(p).await)?;
        Ok(AdminUnits::from_data(UnitData {
            units: rows
                .into_iter()
                .map(|r| AdminUnit {
                    id: r.id,
                    code: r.code,
                    name: r.name,
                    kind: r.kind,
                    level: r.level,
                    parent_id: r.parent_id,
                    valid_from: r.valid_from,
                    valid_to: r.valid_to,
                })
                .collect(),
            successions: succ
                .into_iter()
                .map(|(old_id, new_id, whole)| Succession {
                    old_id,
                    new_id,
                    whole,
                })
                .collect(),
        }))
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    pub fn get(&self, id: i64) -> Option<&AdminUnit> {
        self.by_id.get(&id).map(|i| &self.units[*i])
    }

    /// Every unit that has carried `code`, current and old.
    pub fn by_code(&self, code: &str) -> Vec<&AdminUnit> {
        self.by_code
            .get(code)
            .map(|v| v.iter().map(|i| &self.units[*i]).collect())
            .unwrap_or_default()
    }

    /// The unit with `code` at `level` in force on `day`.
    pub fn resolve(&self, code: &str, level: i64, day: NaiveDate) -> Option<&AdminUnit> {
        self.by_code(code)
            .into_iter()
            .find(|u| u.level == level && u.in_force_on(day))
    }

    /// Provinces in force on `day`, by code.
    pub fn provinces(&self, day: NaiveDate) -> Vec<&AdminUnit> {
        let mut v: Vec<&AdminUnit> = self
            .units
            .iter()
            .filter(|u| u.level == 1 && u.in_force_on(day))
            .collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// Units under `parent_id` in force on `day`.
    pub fn children(&self, parent_id: i64, day: NaiveDate) -> Vec<&AdminUnit> {
        self.units
            .iter()
            .filter(|u| u.parent_id == Some(parent_id) && u.in_force_on(day))
            .collect()
    }

    /// Which units took over an old one.
    pub fn successors(&self, id: i64) -> &[Succession] {
        self.successors.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Which old units a new one took over.
    pub fn predecessors(&self, id: i64) -> &[Succession] {
        self.predecessors.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The units in force today that an old unit's territory now belongs to, following
    /// successions until units in force are reached.
    pub fn current_for(&self, id: i64, day: NaiveDate) -> Vec<&AdminUnit> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        let mut seen = std::collections::HashSet::new();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let Some(u) = self.get(i) else { continue };
            if u.in_force_on(day) {
                out.push(u);
            } else {
                stack.extend(self.successors(i).iter().map(|s| s.new_id));
            }
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out
    }

    /// The province a unit belongs to (itself for a province).
    pub fn province_of(&self, id: i64) -> Option<&AdminUnit> {
        let u = self.get(id)?;
        if u.level == 1 {
            Some(u)
        } else {
            u.parent_id.and_then(|p| self.get(p))
        }
    }

    /// Units in force on `day` whose folded name contains the folded `q`.
    pub fn search(&self, q: &str, day: NaiveDate, limit: usize) -> Vec<&AdminUnit> {
        let needle = kernel::text::fold(q);
        self.units
            .iter()
            .filter(|u| u.in_force_on(day) && kernel::text::fold(&u.name).contains(&needle))
            .take(limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_units_have_34_provinces_and_3321_communes() {
        let data = shipped().unwrap_or_else(|e| panic!("{e}"));
        let units = AdminUnits::from_data(data);
        let day = NaiveDate::from_ymd_opt(2025, 8, 1).unwrap_or_default();
        assert_eq!(units.provinces(day).len(), 34);
        let communes = units
            .units
            .iter()
            .filter(|u| u.level == 2 && u.in_force_on(day))
            .count();
        assert_eq!(communes, 3321);
        let old_day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        assert_eq!(units.provinces(old_day).len(), 63);
    }

    #[test]
    fn an_old_commune_code_still_resolves_to_its_successors() {
        let units = AdminUnits::from_data(shipped().unwrap_or_else(|e| panic!("{e}")));
        let old_day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        // Old Phường Trúc Bạch (00004) went whole into the new Phường Ba Đình (00004).
        let old = units
            .resolve("00004", 2, old_day)
            .unwrap_or_else(|| panic!("old 00004"));
        assert_eq!(old.name, "Phường Trúc Bạch");
        let now: Vec<&str> = units
            .current_for(old.id, today)
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(now, vec!["Phường Ba Đình"]);
        // Old Phường Ngọc Hà (00016) was split between Ba Đình and the new Ngọc Hà.
        let split = units
            .resolve("00016", 2, old_day)
            .unwrap_or_else(|| panic!("old 00016"));
        let names: Vec<&str> = units
            .current_for(split.id, today)
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, vec!["Phường Ba Đình", "Phường Ngọc Hà"]);
        // Old Hà Giang (02) is now part of Tuyên Quang (08).
        let hg = units
            .resolve("02", 1, old_day)
            .unwrap_or_else(|| panic!("old 02"));
        let names: Vec<&str> = units
            .current_for(hg.id, today)
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, vec!["Tỉnh Tuyên Quang"]);
        assert!(units.resolve("02", 1, today).is_none());
    }
}

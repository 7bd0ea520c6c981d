//! Changing the catalogue: versions, refused files, the audit chain, restarts. On SQLite and
//! PostgreSQL, in process and through the command line.

use std::process::Command;

use catalog::import::{Format, parse};
use testkit::{Backend, Spawn, both, enc, spawn_app, spawn_on};

fn demo_procedure(code: &str) -> serde_json::Value {
    let demo: serde_json::Value = serde_json::from_str(catalog::DEMO_JSON).unwrap_or_default();
    demo["procedures"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["code"] == code))
        .cloned()
        .unwrap_or_default()
}

async fn an_edit_makes_a_new_version_and_old_ones_stay(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Loading the demo again (as every `serve --demo` does) writes nothing and audits nothing.
    let audit_start = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again = app
        .state
        .catalog
        .load_demo("test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            again.fields_written,
            again.agencies_written,
            again.procedures_added,
            again.procedures_revised
        ),
        (0, 0, 0, 0)
    );
    assert!(again.agencies_unchanged > 40 && again.fields_unchanged > 10);
    assert_eq!(
        kernel::audit::verify(&app.state.db)
            .await
            .unwrap_or_default(),
        audit_start
    );
    let mut p = demo_procedure("1.001193");
    p["name"] = "Đăng ký khai sinh (sửa đổi theo quy định mới)".into();
    p["time_limit_days"] = 1.into();
    let file = serde_json::json!({ "procedures": [p] }).to_string();
    let parsed = parse(file.as_bytes(), Format::Json).unwrap_or_else(|e| panic!("{e:?}"));
    let before = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = app
        .state
        .catalog
        .import(&parsed, "test", &|_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            r.procedures_added,
            r.procedures_revised,
            r.procedures_unchanged
        ),
        (0, 1, 0)
    );

    let now = app
        .get_json("/api/v1/procedures/1.001193")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(now["version"], 2);
    assert_eq!(now["time_limit_days"], 1);
    let old = app
        .get_json("/api/v1/procedures/1.001193?version=1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(old["name"], "Đăng ký khai sinh");
    assert_eq!(old["current_version"], 2);
    assert_eq!(
        app.get("/api/v1/procedures/1.001193?version=3")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );
    // The index follows: the new name is found by a word only it has.
    let codes = app
        .search_codes(&format!("q={}", enc("sua doi quy dinh moi khai sinh")))
        .await
        .unwrap_or_default();
    assert_eq!(
        codes.first().map(String::as_str),
        Some("1.001193"),
        "{codes:?}"
    );
    // Importing the same again changes nothing.
    let r = app
        .state
        .catalog
        .import(&parsed, "test", &|_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.procedures_unchanged, 1);
    // The change joined the audit chain, which still verifies.
    let after = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after, before + 1);
    let entries = kernel::audit::for_subject(&app.state.db, "procedure/1.001193", 10)
        .await
        .unwrap_or_default();
    assert_eq!(
        entries.first().map(|e| e.3.as_str()),
        Some("catalog.procedure.revise")
    );
}

async fn tampering_with_the_audit_chain_is_found(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(kernel::audit::verify(&app.state.db).await.is_ok());
    kernel::on_db!(&app.state.db, p => sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3").execute(p).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{e}"));
    match kernel::audit::verify(&app.state.db).await {
        Err(kernel::problem::Error::AuditChainBroken(seq)) => assert_eq!(seq, 3),
        other => panic!("tampering not found: {other:?}"),
    }
}

async fn a_bad_file_is_refused_whole(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let good = demo_procedure("1.000894");
    let mut new_good = good.clone();
    new_good["code"] = "1.999001".into();
    new_good["name"] = "Thủ tục mới hợp lệ".into();
    let mut bad_field = good.clone();
    bad_field["code"] = "1.999002".into();
    bad_field["field"] = "KHONG_CO".into();
    let mut bad_level = good.clone();
    bad_level["code"] = "1.999003".into();
    bad_level["level"] = 7.into();
    let mut bad_agency = good.clone();
    bad_agency["code"] = "1.999004".into();
    bad_agency["agencies"] = serde_json::json!(["000.00.00.Z99"]);
    let file = serde_json::to_string_pretty(&serde_json::json!({ "procedures": [new_good, bad_field, bad_level, bad_agency, new_good] })).unwrap_or_default();
    let parsed = parse(file.as_bytes(), Format::Json).unwrap_or_else(|e| panic!("{e:?}"));
    let total_before =
        app.get_json("/api/v1/procedures").await.unwrap_or_default()["total"].clone();
    let audit_before = kernel::audit::verify(&app.state.db).await.unwrap_or(0);
    let err = app
        .state
        .catalog
        .import(&parsed, "test", &|_| {})
        .await
        .err();
    let Some(catalog::CatalogError::Rejected(problems)) = err else {
        panic!("not refused: {err:?}")
    };
    let text: Vec<String> = problems
        .iter()
        .map(|p| format!("{} {}", p.at, p.en))
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("procedures[1]") && t.contains("Field KHONG_CO")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("procedures[2]") && t.contains("level 7")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("procedures[3]") && t.contains("000.00.00.Z99")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("procedures[4]") && t.contains("twice")),
        "{text:#?}"
    );
    // Line numbers point at each record's start in the pretty-printed file.
    let line_of = |code: &str| {
        file.lines()
            .position(|l| l.contains(&format!("\"code\": \"{code}\"")))
            .map(|i| i + 1)
            .unwrap_or(0)
    };
    assert!(
        problems.iter().any(
            |p| p.at.starts_with("line ") && p.at.contains("procedures[1]") && {
                let n: usize = p.at[5..]
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                n > 0 && n <= line_of("1.999002")
            }
        ),
        "{text:#?}"
    );
    // Nothing was written: not even the good record.
    assert_eq!(
        app.get_json("/api/v1/procedures").await.unwrap_or_default()["total"],
        total_before
    );
    assert_eq!(
        app.get("/api/v1/procedures/1.999001")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );
    assert_eq!(
        kernel::audit::verify(&app.state.db).await.unwrap_or(0),
        audit_before
    );
}

async fn the_index_is_rebuilt_when_missing(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (data, url) = app.stop().await.unwrap_or_else(|e| panic!("{e:#}"));
    std::fs::remove_dir_all(data.path().join("index")).unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_on(
        data,
        url,
        Spawn {
            demo: false,
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let codes = app
        .search_codes(&format!("q={}", enc("dang ky khai sinh")))
        .await
        .unwrap_or_default();
    assert_eq!(codes.first().map(String::as_str), Some("1.001193"));
}

fn motcua(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("MOTCUA_LOG_FILTER", "warn")
        // The demo's generated history is for its dashboards, not needed here.
        .env("MOTCUA_DEMO_HISTORY", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run motcua: {e}"))
}

async fn command_line_import_refuses_and_export_round_trips(b: Backend) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data = data.to_string_lossy().to_string();
    let url = testkit::fresh_database(b)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut base: Vec<String> = vec!["--data".into(), data.clone()];
    if let Some(u) = &url {
        base.push("--database".into());
        base.push(u.clone());
    }
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        motcua(&a)
    };
    let out = run(&["demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A CSV with a bad level on line 3 and an unknown field on line 4.
    let csv_path = dir.path().join("bad.csv");
    let csv = "code,name,field,agencies,audience,level,online,time_limit_days,result,where_to_submit\n\
        1.888001,Thủ tục thử một,HT,000.00.00.G01,citizen,4,full,3,Giấy xác nhận,Bộ phận Một cửa\n\
        1.888002,Thủ tục thử hai,HT,000.00.00.G01,citizen,9,full,3,Giấy xác nhận,Bộ phận Một cửa\n\
        1.888003,Thủ tục thử ba,NOPE,000.00.00.G01,citizen,4,full,3,Giấy xác nhận,Bộ phận Một cửa\n";
    std::fs::write(&csv_path, csv).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["catalog", "import", &csv_path.to_string_lossy()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("line 3") && err.contains("level 9"), "{err}");
    assert!(
        err.contains("line 4") && err.contains("Field NOPE"),
        "{err}"
    );
    assert!(!err.contains("line 2"), "the good row is not blamed: {err}");

    // Not UTF-8.
    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"code,name\n1.1,\xd0\xe3ng k\xfd\n").unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["catalog", "import", &latin1.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));

    // Malformed JSON.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"procedures\": [ {\"code\": ").unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["catalog", "import", &broken.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));

    // Export, then import the export: nothing changes.
    let json_path = dir.path().join("export.json");
    let out = run(&[
        "catalog",
        "export",
        "--output",
        &json_path.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap_or_default()).unwrap_or_default();
    let n = exported["procedures"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    assert!(n >= 40, "{n}");
    assert!(exported["procedures"].as_array().is_some_and(|a| {
        a.iter()
            .all(|p| !p["code"].as_str().unwrap_or("").starts_with("1.888"))
    }));
    let out = run(&["catalog", "import", &json_path.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("{n} unchanged")),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // CSV export re-imports unchanged too.
    let csv_out = dir.path().join("export.csv");
    let out = run(&[
        "catalog",
        "export",
        "--format",
        "csv",
        "--output",
        &csv_out.to_string_lossy(),
    ]);
    assert!(out.status.success());
    let out = run(&["catalog", "import", &csv_out.to_string_lossy()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{n} unchanged")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Generated procedures join the catalogue.
    let out = run(&["catalog", "generate", "--procedures", "300"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("300 new"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["audit", "verify"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("intact"));
}

both!(
    an_edit_makes_a_new_version_and_old_ones_stay,
    tampering_with_the_audit_chain_is_found,
    a_bad_file_is_refused_whole,
    the_index_is_rebuilt_when_missing,
    command_line_import_refuses_and_export_round_trips,
);

#[test]
fn config_show_masks_secrets_and_refuses_unknown_databases() {
    let out = Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args(["config", "show"])
        .env(
            "MOTCUA_DATABASE_URL",
            "postgres://motcua:s3cret-pw@db.example:5432/motcua",
        )
        .env("MOTCUA_SMS__URL", "https://sms.example/send")
        .env("MOTCUA_SMS__TOKEN", "sms-s3cret")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("postgres://motcua:********@db.example:5432/motcua"),
        "{text}"
    );
    assert!(!text.contains("s3cret-pw"));
    assert!(text.contains("https://sms.example/send"), "{text}");
    assert!(!text.contains("sms-s3cret"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args(["--database", "mysql://x@y/z", "migrate"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unsupported database URL"));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args([
            "--log-format",
            "json",
            "--data",
            &dir.path().to_string_lossy(),
            "demo",
        ])
        .env("MOTCUA_DEMO_HISTORY", "0")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["fields"]["message"] == "demo catalogue loaded"),
        "{err}"
    );
}

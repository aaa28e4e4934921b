//! phpMyAdmin 5.2 (Debian's `phpmyadmin`) on MariaDB: log in, browse a table, edit a row.
//!
//! Each server gets a copy of /usr/share/phpmyadmin whose libraries/vendor_config.php
//! (Debian's file for paths) names this copy's config.inc.php and temp dir.

use std::fs;
use std::path::Path;

use crate::browser::Browser;
use crate::form::{self, Form};
use crate::mariadb;
use crate::sides::{run_on_both, Side, Site, Transcript};

fn database(side: Side) -> String {
    format!("pma_{}", side.tag())
}

pub fn prepare(side: Side, dir: &Path) -> Site {
    let db = mariadb::shared();
    let name = database(side);
    db.create_database(&name);
    db.sql(&format!(
        "CREATE TABLE `{name}`.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL); \
         INSERT INTO `{name}`.items VALUES (1, 'apple'), (2, 'pear');"
    ));
    let root = dir.join("phpmyadmin");
    let tmp = dir.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    crate::copy_tree(Path::new("/usr/share/phpmyadmin"), &root);
    let vendor = root.join("libraries/vendor_config.php");
    let text = fs::read_to_string(&vendor).unwrap();
    let text = text
        .replace(
            "'/var/lib/phpmyadmin/tmp/'",
            &format!("'{}/'", tmp.display()),
        )
        .replace(
            "'/etc/phpmyadmin/config.inc.php'",
            &format!("'{}'", dir.join("config.inc.php").display()),
        );
    assert!(
        text.contains(&tmp.display().to_string()) && text.contains("config.inc.php"),
        "Debian's vendor_config.php changed: {text}"
    );
    fs::write(&vendor, text).unwrap();
    fs::write(
        dir.join("config.inc.php"),
        format!(
            r#"<?php
$cfg['blowfish_secret'] = 'uring-php-app-test-blowfish-0123';
$i = 1;
$cfg['Servers'][$i]['auth_type'] = 'cookie';
$cfg['Servers'][$i]['host'] = 'localhost';
$cfg['Servers'][$i]['socket'] = '{socket}';
$cfg['Servers'][$i]['AllowNoPassword'] = false;
$cfg['TempDir'] = '{tmp}';
$cfg['VersionCheck'] = false;
$cfg['SendErrorReports'] = 'never';
"#,
            socket = db.socket().display(),
            tmp = tmp.display(),
        ),
    )
    .unwrap();
    Site::new(&root, dir.join("sessions"))
}

pub fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);
    let db = database(side);

    let p = b.get("/index.php");
    t.step("login page", &p, 200);
    let mut login = Form::find(&p.text(), "id", "login_form")
        .unwrap_or_else(|| panic!("no login form on {}", side.name()));
    login
        .set("pma_username", mariadb::USER)
        .set("pma_password", "wrong");
    let p = b.post_form("/index.php?route=/", &login.fields);
    t.step("wrong password", &p, 200)
        .contains(&p, "Access denied for user");

    let p = b.get("/index.php");
    t.step("login page again", &p, 200);
    let mut login = Form::find(&p.text(), "id", "login_form").unwrap();
    login
        .set("pma_username", mariadb::USER)
        .set("pma_password", mariadb::PASSWORD);
    let p = b.post_form("/index.php?route=/", &login.fields);
    t.step("log in", &p, 302);
    let p = b.get("/index.php?route=/");
    t.step("home", &p, 200)
        .contains(&p, "Server version:")
        .contains(&p, "MariaDB");

    let browse = format!("/index.php?route=/sql&db={db}&table=items&pos=0");
    let p = b.get(&browse);
    t.step("browse", &p, 200)
        .contains(&p, "apple")
        .contains(&p, "pear");
    // The row's Edit link: the page posts its data-post string with the session's token.
    let text = p.text();
    let token =
        form::input_value(&text, "token").unwrap_or_else(|| panic!("no token on {}", side.name()));
    let edit = text
        .split("data-post=\"")
        .skip(1)
        .map(|s| form::decode_entities(&s[..s.find('"').unwrap_or(0)]))
        .find(|s| {
            s.starts_with("route=/table/change")
                && s.contains("%3D+1&")
                && s.ends_with("default_action=update")
        })
        .unwrap_or_else(|| panic!("no edit link for row 1 on {}", side.name()));
    let mut fields: Vec<(String, String)> = edit
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (url_decode(k), url_decode(v)))
        .collect();
    fields.push(("token".into(), token));
    let p = b.post_form("/index.php", &fields);
    t.step("edit form", &p, 200);
    let mut row = Form::find(&p.text(), "id", "insertForm")
        .unwrap_or_else(|| panic!("no insertForm on {}", side.name()));
    let name_field = row
        .fields
        .iter()
        .find(|(k, v)| k.starts_with("fields[multi_edit][0]") && v == "apple")
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("no name field in {:?}", row.fields));
    row.set(&name_field, "apricot").set("submit_type", "save");
    let p = b.post_form("/index.php?route=/table/replace", &row.fields);
    t.step("save row", &p, 200).contains(&p, "1 row affected");
    let p = b.get(&browse);
    t.step("browse again", &p, 200)
        .contains(&p, "apricot")
        .check(!p.text().contains(">apple<"), "apple is gone", &p);
    let stored = mariadb::shared().sql(&format!("SELECT name FROM `{db}`.items WHERE id = 1"));
    t.check(stored.trim() == "apricot", "the database holds apricot", &p);
    t
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn phpmyadmin_logs_in_browses_and_edits_a_row_like_php_fpm() {
    run_on_both("phpmyadmin", prepare, flow);
}

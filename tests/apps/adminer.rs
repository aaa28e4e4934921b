//! Adminer 4.8 (Debian's `adminer`) on MariaDB: log in, run a query, browse a table.
//!
//! Served as Debian serves it (`Alias /adminer /etc/adminer`, index `conf.php`, which
//! loads /usr/share/adminer/adminer.php with Debian's plugins): a docroot whose index.php
//! is a copy of /etc/adminer/conf.php. The server field names the private socket
//! (`localhost:/path/to/socket`, Adminer's syntax).

use std::fs;
use std::path::Path;

use crate::browser::{percent_encode, Browser};
use crate::form::{self, Form};
use crate::mariadb;
use crate::sides::{run_on_both, Side, Site, Transcript};

fn database(side: Side) -> String {
    format!("adminer_{}", side.tag())
}

pub fn prepare(side: Side, dir: &Path) -> Site {
    let db = mariadb::shared();
    let name = database(side);
    db.create_database(&name);
    db.sql(&format!(
        "CREATE TABLE `{name}`.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL); \
         INSERT INTO `{name}`.items VALUES (1, 'apple'), (2, 'pear');"
    ));
    let root = dir.join("adminer");
    fs::create_dir_all(&root).unwrap();
    fs::copy("/etc/adminer/conf.php", root.join("index.php"))
        .expect("/etc/adminer/conf.php (scripts/install-apps.sh)");
    Site::new(&root, dir.join("sessions"))
}

pub fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);
    let db = database(side);
    t.alias(&db, "{db}");
    let server = format!("localhost:{}", mariadb::shared().socket().display());

    let p = b.get("/");
    t.step("login page", &p, 200);
    let mut login = Form::find_where(&p.text(), |tag| {
        tag.contains("method=\"post\"") || tag.contains("method='post'")
    })
    .unwrap_or_else(|| panic!("no login form on {}", side.name()));
    login
        .set("auth[driver]", "server")
        .set("auth[server]", &server)
        .set("auth[username]", mariadb::USER)
        .set("auth[password]", mariadb::PASSWORD)
        .set("auth[db]", &db);
    let p = b.post_form("/", &login.fields);
    t.step("log in", &p, 302);
    let query = format!(
        "?server={}&username={}&db={db}",
        percent_encode(&server),
        mariadb::USER
    );

    let p = b.get(&format!("/{query}&sql="));
    t.step("SQL page", &p, 200);
    let token = form::input_value(&p.text(), "token")
        .unwrap_or_else(|| panic!("no token on {}", side.name()));
    let p = b.post(
        &format!("/{query}&sql="),
        &[
            (
                "query",
                "SELECT CONCAT('answer=', 40 + 2) AS a, COUNT(*) AS n FROM items; \
                 UPDATE items SET name = 'quince' WHERE id = 2;",
            ),
            ("limit", ""),
            ("token", &token),
        ],
    );
    t.step("run SQL", &p, 200)
        .contains(&p, "answer=42")
        .contains(&p, "Query executed OK, 1 row affected.");

    let p = b.get(&format!("/{query}&select=items"));
    t.step("browse", &p, 200)
        .contains(&p, "quince")
        .contains(&p, "apple");

    let p = b.post(
        &format!("/{query}&sql="),
        &[("query", "SELECT 1"), ("limit", ""), ("token", "1:2")],
    );
    t.step("SQL with a forged token", &p, 200)
        .contains(&p, "Invalid CSRF token.");
    t
}

#[test]
fn adminer_logs_in_and_runs_sql_like_php_fpm() {
    run_on_both("adminer", prepare, flow);
}

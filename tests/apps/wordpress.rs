//! WordPress 6.1 (Debian's `wordpress`, theme twentytwentythree) on MariaDB.
//!
//! `DB_HOST` is `localhost`, as WordPress's installer writes it: mysqlnd then uses the
//! default socket (`mysqli.default_socket`), here set to the private MariaDB's socket on
//! both servers. That the default itself is Debian's is checked in `mysql_socket`.

use std::fs;
use std::path::Path;

use crate::browser::{Body, Browser};
use crate::form;
use crate::mariadb;
use crate::sides::{run_on_both, Side, Site, Transcript};

const PASSWORD: &str = "Wp-Secret-Pass-123!";
const TITLE: &str = "Hello from the app test";
const MARKER: &str = "Body marker 4711";

/// A 16×16 PNG (red), as `imagepng()` writes it.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68,
    0x36, 0x00, 0x00, 0x00, 0x09, 0x70, 0x48, 0x59, 0x73, 0x00, 0x00, 0x0e, 0xc4, 0x00, 0x00, 0x0e,
    0xc4, 0x01, 0x95, 0x2b, 0x0e, 0x1b, 0x00, 0x00, 0x00, 0x19, 0x49, 0x44, 0x41, 0x54, 0x28, 0x91,
    0x63, 0x3c, 0x21, 0x27, 0xc7, 0x40, 0x0a, 0x60, 0x22, 0x49, 0xf5, 0xa8, 0x86, 0x51, 0x0d, 0x43,
    0x4a, 0x03, 0x00, 0x4f, 0x1f, 0x01, 0x24, 0xa8, 0x98, 0x4e, 0xc9, 0x00, 0x00, 0x00, 0x00, 0x49,
    0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// This side's copy of /usr/share/wordpress with its own wp-config.php and database.
pub fn prepare(side: Side, dir: &Path) -> Site {
    let db = mariadb::shared();
    let db_name = format!("wordpress_{}", side.tag());
    db.create_database(&db_name);
    let root = dir.join("wordpress");
    crate::copy_tree(Path::new("/usr/share/wordpress"), &root);
    fs::create_dir_all(root.join("wp-content/uploads")).unwrap();
    // Debian's wp-config.php picks /etc/wordpress/config-<Host>.php; a site of our own
    // has its settings in place, as WordPress's own installer would write them.
    fs::write(root.join("wp-config.php"), wp_config(&db_name)).unwrap();
    // nginx as WordPress's own guide configures it: `try_files $uri $uri/ /index.php?$args`
    // (the reference's front-controller mode); uring_php: INDEX_FILE=index.php.
    Site::new(&root, dir.join("sessions"))
        .front_controller()
        .ini("mysqli.default_socket", &db.socket().display().to_string())
}

fn wp_config(db_name: &str) -> String {
    format!(
        r#"<?php
define('DB_NAME', '{db_name}');
define('DB_USER', '{user}');
define('DB_PASSWORD', '{password}');
define('DB_HOST', 'localhost');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('AUTH_KEY', 'test-auth-key');
define('SECURE_AUTH_KEY', 'test-secure-auth-key');
define('LOGGED_IN_KEY', 'test-logged-in-key');
define('NONCE_KEY', 'test-nonce-key');
define('AUTH_SALT', 'test-auth-salt');
define('SECURE_AUTH_SALT', 'test-secure-auth-salt');
define('LOGGED_IN_SALT', 'test-logged-in-salt');
define('NONCE_SALT', 'test-nonce-salt');
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISABLE_WP_CRON', true);
$table_prefix = 'wp_';
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"#,
        user = mariadb::USER,
        password = mariadb::PASSWORD,
    )
}

pub fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let admin = Browser::new(base);

    let p = admin.get("/");
    t.step("front page before install", &p, 302);
    let p = admin.get("/wp-admin/install.php");
    t.step("installer", &p, 200)
        .contains(&p, "name=\"weblog_title\"");
    let p = admin.post(
        "/wp-admin/install.php?step=2",
        &[
            ("weblog_title", "App Test"),
            ("user_name", "admin"),
            ("admin_password", PASSWORD),
            ("admin_password2", PASSWORD),
            ("pw_weak", "1"),
            ("admin_email", "admin@example.com"),
            ("blog_public", "0"),
            ("Submit", "Install WordPress"),
        ],
    );
    t.step("install", &p, 200).contains(&p, "<h1>Success!</h1>");

    let p = admin.get("/wp-login.php");
    t.step("login page", &p, 200).contains(&p, "name=\"log\"");
    let login = [
        ("log", "admin"),
        ("pwd", "wrong password"),
        ("wp-submit", "Log In"),
        ("testcookie", "1"),
    ];
    let p = admin.post("/wp-login.php", &login);
    t.step("wrong password", &p, 200)
        .contains(&p, "is incorrect");
    let redirect = format!("{base}/wp-admin/");
    let p = admin.post(
        "/wp-login.php",
        &[
            ("log", "admin"),
            ("pwd", PASSWORD),
            ("wp-submit", "Log In"),
            ("redirect_to", &redirect),
            ("testcookie", "1"),
        ],
    );
    t.step("log in", &p, 302);
    let p = admin.get("/wp-admin/");
    t.step("dashboard", &p, 200)
        .contains(&p, "<h1>Dashboard</h1>");

    // The block editor publishes through the REST API with the nonce it was given.
    let p = admin.get("/wp-admin/post-new.php");
    t.step("editor", &p, 200);
    let text = p.text();
    let nonce = between(&text, "createNonceMiddleware( \"", "\"")
        .unwrap_or_else(|| panic!("no REST nonce in the editor on {}", side.name()));
    t.fact("REST nonce present");
    let post = serde_json::json!({
        "title": TITLE,
        "content": format!("<!-- wp:paragraph --><p>{MARKER}</p><!-- /wp:paragraph -->"),
        "status": "publish",
    })
    .to_string();
    let p = admin.request(
        "POST",
        "/?rest_route=/wp/v2/posts",
        &[("X-WP-Nonce", "0000000000")],
        Body::Raw("application/json", post.as_bytes()),
    );
    t.step("publish with a wrong nonce", &p, 403);
    let code = p.json()["code"].as_str().unwrap_or("").to_string();
    t.check(
        code == "rest_cookie_invalid_nonce",
        &format!("code {code}"),
        &p,
    );
    let p = admin.request(
        "POST",
        "/?rest_route=/wp/v2/posts",
        &[("X-WP-Nonce", &nonce)],
        Body::Raw("application/json", post.as_bytes()),
    );
    t.step("publish", &p, 201);
    let created = p.json();
    let status = created["status"].as_str().unwrap_or("").to_string();
    t.check(status == "publish", &format!("status {status}"), &p);
    let link = created["link"].as_str().unwrap_or("").to_string();
    t.check(link.starts_with(base), "a link on this site", &p);
    // Pretty permalinks are on when WordPress's installer could fetch one from itself
    // over HTTP while it ran (a second worker answers).
    t.check(!link.contains("?p="), "pretty permalinks", &p);

    let visitor = Browser::new(base);
    let p = visitor.get("/");
    t.step("front page", &p, 200)
        .contains(&p, TITLE)
        .contains(&p, MARKER);
    let p = visitor.get(&link);
    t.step("post page", &p, 200)
        .contains(&p, &format!(">{TITLE}<"))
        .contains(&p, MARKER);
    let p = visitor.get("/wp-json/wp/v2/posts");
    t.step("REST posts (pretty URL)", &p, 200);
    let posts = p.json();
    let titles: Vec<String> = posts
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["title"]["rendered"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    t.check(titles.iter().any(|x| x == TITLE), "REST lists the post", &p);
    let total = p.header("x-wp-total").unwrap_or("").to_string();
    t.fact(&format!("X-WP-Total {total}"));
    let p = visitor.get("/?rest_route=/wp/v2/posts");
    t.step("REST posts (query URL)", &p, 200)
        .contains(&p, TITLE);

    // The classic uploader: a multipart form with a nonce.
    let p = admin.get("/wp-admin/media-new.php?browser-uploader");
    t.step("upload form", &p, 200);
    let wpnonce = form::input_value(&p.text(), "_wpnonce")
        .unwrap_or_else(|| panic!("no _wpnonce in the upload form on {}", side.name()));
    let fields = [
        ("post_id".to_string(), "0".to_string()),
        ("_wpnonce".to_string(), wpnonce),
        (
            "_wp_http_referer".to_string(),
            "/wp-admin/media-new.php?browser-uploader".to_string(),
        ),
        ("html-upload".to_string(), "Upload".to_string()),
    ];
    let p = admin.request(
        "POST",
        "/wp-admin/media-new.php",
        &[],
        Body::Multipart {
            fields: &fields,
            file: ("async-upload", "red-square.png", "image/png", PNG),
        },
    );
    t.step("upload", &p, 302);
    let p = visitor.get("/?rest_route=/wp/v2/media");
    t.step("REST media", &p, 200);
    let media = p.json();
    let source = media[0]["source_url"].as_str().unwrap_or("").to_string();
    t.check(
        source.ends_with("/red-square.png"),
        "the upload is listed",
        &p,
    );
    let mime = media[0]["mime_type"].as_str().unwrap_or("").to_string();
    t.fact(&format!("mime {mime}"));
    let p = visitor.get(&source);
    t.step("uploaded file", &p, 200)
        .check(p.body == PNG, "the same bytes", &p);
    t
}

fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_string())
}

#[test]
fn wordpress_installs_publishes_and_uploads_like_php_fpm() {
    run_on_both("wordpress", prepare, flow);
}

//! DokuWiki (Debian's `dokuwiki`): log in, edit, save, revisions, a forged save refused.
//!
//! Each server gets a copy of /usr/share/dokuwiki whose inc/preload.php (Debian's hook
//! for this) points DOKU_CONF at a copy of /etc/dokuwiki, whose local.php points the data
//! at a copy of /var/lib/dokuwiki/data.

use std::fs;
use std::path::Path;

use crate::browser::Browser;
use crate::form::Form;
use crate::sides::{run_on_both, Side, Site, Transcript};

const PAGE: &str = "playground:apptest";
/// `password_hash('Dw-Secret-123', PASSWORD_BCRYPT)`: DokuWiki's plain auth reads bcrypt.
const ADMIN_HASH: &str = "$2y$10$mMjgyNHTZtM7GpwQqTdHCOD/S1zBzucchebTreoIL3hFzj7TpJ26e";
const PASSWORD: &str = "Dw-Secret-123";

pub fn prepare(_side: Side, dir: &Path) -> Site {
    let root = dir.join("dokuwiki");
    let conf = dir.join("conf");
    let data = dir.join("data");
    crate::copy_tree(Path::new("/usr/share/dokuwiki"), &root);
    // -L: Debian's conf links acl.auth.php and users.auth.php into /var/lib/dokuwiki.
    let status = std::process::Command::new("cp")
        .args(["-aL", "/etc/dokuwiki"])
        .arg(&conf)
        .status()
        .unwrap();
    assert!(status.success(), "copy /etc/dokuwiki");
    crate::copy_tree(Path::new("/var/lib/dokuwiki/data"), &data);
    let _ = fs::remove_file(root.join(".htaccess"));
    fs::write(
        root.join("inc/preload.php"),
        format!("<?php\ndefine('DOKU_CONF', '{}/');\n", conf.display()),
    )
    .unwrap();
    fs::write(
        conf.join("local.php"),
        format!(
            "<?php\n$conf['title'] = 'App Test Wiki';\n$conf['savedir'] = '{}';\n\
             $conf['useacl'] = 1;\n$conf['superuser'] = '@admin';\n$conf['compression'] = 0;\n",
            data.display()
        ),
    )
    .unwrap();
    fs::write(
        conf.join("users.auth.php"),
        format!("admin:{ADMIN_HASH}:Admin:admin@example.com:admin,user\n"),
    )
    .unwrap();
    fs::write(
        conf.join("acl.auth.php"),
        "*               @ALL          1\n*               @user         8\n",
    )
    .unwrap();
    seed_old_revision(&data);
    Site::new(&root, dir.join("sessions"))
}

/// DokuWiki names revisions by their second, so two saves in one second are one revision:
/// the page's earlier revision is made a day old here instead, as DokuWiki itself would
/// have stored it (page, attic copy, changelog line), uncompressed (`compression = 0`).
fn seed_old_revision(data: &Path) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    let secs = when
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for sub in ["pages", "attic", "meta"] {
        fs::create_dir_all(data.join(sub).join("playground")).unwrap();
    }
    let page = data.join("pages/playground/apptest.txt");
    fs::write(&page, SEEDED).unwrap();
    fs::File::options()
        .write(true)
        .open(&page)
        .unwrap()
        .set_modified(when)
        .unwrap();
    fs::write(
        data.join(format!("attic/playground/apptest.{secs}.txt")),
        SEEDED,
    )
    .unwrap();
    fs::write(
        data.join("meta/playground/apptest.changes"),
        format!(
            "{secs}\t127.0.0.1\tC\t{PAGE}\tadmin\tseeded revision\t\t{}\n",
            SEEDED.len()
        ),
    )
    .unwrap();
}

const SEEDED: &str = "====== App test ======\nSeeded **4710** text.\n";

pub fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);

    let p = b.get("/doku.php");
    t.step("start page", &p, 200).contains(&p, "App Test Wiki");
    let p = b.get(&format!("/doku.php?id={PAGE}&do=edit"));
    t.step("edit while anonymous", &p, 200)
        .contains(&p, "This page is read only.");

    let p = b.get("/doku.php?id=start&do=login");
    t.step("login form", &p, 200);
    let mut login = Form::find(&p.text(), "id", "dw__login")
        .unwrap_or_else(|| panic!("no login form on {}", side.name()));
    login.set("u", "admin").set("p", PASSWORD);
    let p = b.post_form("/doku.php", &login.fields);
    t.step("log in", &p, 302);
    let p = b.get("/doku.php?id=start");
    t.step("logged in", &p, 200).contains(&p, "Log Out");

    let save = |text: &str, summary: &str, t: &mut Transcript| {
        let p = b.get(&format!("/doku.php?id={PAGE}&do=edit"));
        t.step("edit form", &p, 200);
        let mut edit = Form::find(&p.text(), "id", "dw__editform")
            .unwrap_or_else(|| panic!("no edit form on {}", side.name()));
        t.check(
            edit.get("sectok").is_some_and(|s| !s.is_empty()),
            "a security token",
            &p,
        );
        edit.set("wikitext", text)
            .set("summary", summary)
            .set("do[save]", "Save");
        let p = b.post_form("/doku.php", &edit.fields);
        t.step("save", &p, 302);
    };
    let p = b.get(&format!("/doku.php?id={PAGE}"));
    t.step("page before the edit", &p, 200)
        .contains(&p, "Seeded <strong>4710</strong> text.");
    save(
        "====== App test ======\nFirst **4711** text.\n",
        "first save",
        &mut t,
    );
    let p = b.get(&format!("/doku.php?id={PAGE}"));
    t.step("page after the save", &p, 200)
        .contains(&p, "First <strong>4711</strong> text.");

    let p = b.get(&format!("/doku.php?id={PAGE}&do=revisions"));
    t.step("revisions", &p, 200)
        .contains(&p, "first save")
        .contains(&p, "seeded revision");
    // The older revision, by the link the revisions page gives it.
    let text = p.text();
    let rev = text
        .match_indices("rev=")
        .filter_map(|(i, _)| {
            let digits: String = text[i + 4..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse::<u64>().ok()
        })
        .min()
        .unwrap_or_else(|| panic!("no revision link on {}", side.name()));
    let p = b.get(&format!("/doku.php?id={PAGE}&rev={rev}"));
    t.step("old revision", &p, 200)
        .contains(&p, "Seeded <strong>4710</strong> text.");

    // A save without the security token is refused.
    let p = b.post(
        "/doku.php",
        &[
            ("id", PAGE),
            ("wikitext", "forged"),
            ("summary", "forged"),
            ("do[save]", "Save"),
        ],
    );
    t.step("save without a token", &p, 200);
    let p = b.get(&format!("/doku.php?id={PAGE}"));
    t.step("page unchanged", &p, 200)
        .contains(&p, "First <strong>4711</strong> text.");
    t
}

#[test]
fn dokuwiki_logs_in_edits_and_keeps_revisions_like_php_fpm() {
    run_on_both("dokuwiki", prepare, flow);
}

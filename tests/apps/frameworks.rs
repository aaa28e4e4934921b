//! A Symfony 5.4 app and a Laravel 8 app (tests/apps/symfony, tests/apps/laravel), built
//! from Debian's php-symfony-* and php-laravel-framework packages: a route, a session, a
//! form POST with a CSRF token, a flash message after a redirect, a permanent redirect,
//! a 404 page, and a page without a session (the benchmark's). Each server runs its own
//! copy (the apps write their caches and sessions).

use std::fs;
use std::path::Path;

use crate::browser::Browser;
use crate::form;
use crate::sides::{run_on_both, Side, Site, Transcript};

fn prepare_app(name: &str, dir: &Path, writable: &[&str]) -> Site {
    let app = dir.join(name);
    crate::copy_tree(&crate::repo_app(name), &app);
    for d in writable {
        fs::create_dir_all(app.join(d)).unwrap();
    }
    Site::new(app.join("public"), dir.join("sessions")).front_controller()
}

fn symfony_flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);

    let p = b.get("/");
    t.step("home", &p, 200)
        .contains(&p, "Hello from Symfony 5.4.")
        .contains(&p, "Visits in this session: 1");
    let p = b.get("/");
    t.step("home again", &p, 200)
        .contains(&p, "Visits in this session: 2");

    let p = b.get("/contact");
    t.step("form", &p, 200);
    let token = form::input_value(&p.text(), "_token")
        .unwrap_or_else(|| panic!("no CSRF token on {}", side.name()));
    let p = b.post("/contact", &[("_token", "forged"), ("name", "Mallory")]);
    t.step("POST with a forged token", &p, 403)
        .contains(&p, "Invalid CSRF token.");
    let p = b.post("/contact", &[("_token", &token), ("name", "Ada")]);
    t.step("POST", &p, 302);
    let p = b.get("/contact/thanks");
    t.step("flash after the redirect", &p, 200)
        .contains(&p, "Thanks, Ada!");
    let p = b.get("/contact/thanks");
    t.step("flash shown once", &p, 200)
        .check(!p.text().contains("Thanks, Ada!"), "no flash", &p);

    let p = b.get("/old-home");
    t.step("permanent redirect", &p, 301);
    let p = b.get("/no-such-page");
    t.step("404", &p, 404)
        .contains(&p, "The server returned a \"404 Not Found\".");
    let p = Browser::new(base).get("/hello/bench");
    t.step("page without a session", &p, 200)
        .contains(&p, "Hello, bench! (Symfony 5.4.")
        .check(p.set_cookies().is_empty(), "no cookie", &p);
    // Another client has its own session.
    let p = Browser::new(base).get("/");
    t.step("home, new session", &p, 200)
        .contains(&p, "Visits in this session: 1");
    t
}

fn laravel_flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);

    let p = b.get("/");
    t.step("home", &p, 200)
        .contains(&p, "Hello from Laravel 8.")
        .contains(&p, "Visits in this session: 1");
    let p = b.get("/");
    t.step("home again", &p, 200)
        .contains(&p, "Visits in this session: 2");

    let p = b.get("/contact");
    t.step("form", &p, 200);
    let token = form::input_value(&p.text(), "_token")
        .unwrap_or_else(|| panic!("no CSRF token on {}", side.name()));
    let p = b.post("/contact", &[("_token", "forged"), ("name", "Mallory")]);
    t.step("POST with a forged token", &p, 419)
        .contains(&p, "Page Expired");
    let p = b.post("/contact", &[("_token", &token), ("name", "")]);
    t.step("POST failing validation", &p, 302);
    let p = b.get("/contact");
    t.step("form with the error", &p, 200)
        .contains(&p, "<p class=\"error\">validation.required</p>");
    let p = b.post("/contact", &[("_token", &token), ("name", "Ada")]);
    t.step("POST", &p, 302);
    let p = b.get("/contact/thanks");
    t.step("flash after the redirect", &p, 200)
        .contains(&p, "Thanks, Ada!");
    let p = b.get("/contact/thanks");
    t.step("flash shown once", &p, 200)
        .check(!p.text().contains("Thanks, Ada!"), "no flash", &p);

    let p = b.get("/old-home");
    t.step("permanent redirect", &p, 301);
    let p = b.get("/no-such-page");
    t.step("404", &p, 404).contains(&p, "Not Found");
    let p = Browser::new(base).get("/hello/bench");
    t.step("page without a session", &p, 200)
        .contains(&p, "Hello, bench! (Laravel 8.")
        .check(p.set_cookies().is_empty(), "no cookie", &p);
    let p = Browser::new(base).get("/");
    t.step("home, new session", &p, 200)
        .contains(&p, "Visits in this session: 1");
    t
}

#[test]
fn symfony_app_routes_sessions_and_csrf_like_php_fpm() {
    run_on_both(
        "symfony",
        |_, dir| prepare_app("symfony", dir, &["var"]),
        symfony_flow,
    );
}

#[test]
fn laravel_app_routes_sessions_and_csrf_like_php_fpm() {
    run_on_both(
        "laravel",
        |_, dir| {
            prepare_app(
                "laravel",
                dir,
                &[
                    "bootstrap/cache",
                    "storage/framework/sessions",
                    "storage/framework/views",
                    "storage/framework/cache",
                    "storage/logs",
                ],
            )
        },
        laravel_flow,
    );
}

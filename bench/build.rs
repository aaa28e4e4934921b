//! Binaries here link libphp through the uring_php crate; give them its rpath too
//! (the `links = "php"` metadata of uring_php arrives as DEP_PHP_LIBDIR).
fn main() {
    if let Ok(dir) = std::env::var("DEP_PHP_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

#[path = "it/main.rs"]
#[allow(dead_code, unused_imports)]
mod it;

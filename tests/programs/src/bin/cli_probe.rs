//! For the CLI tests: prints its arguments, the environment variable
//! `CAPSOCK_PROBE`, the grants it sees, and the first line of the file
//! named by `--read PATH` if given; exits with `--exit N` (default 0).
//! Prints `key=value` lines (see this crate's lib.rs).

use capsock_test_programs::Report;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args={}", args[1..].report());
    println!("env={}", std::env::var("CAPSOCK_PROBE").unwrap_or_default());
    println!("grants={}", capsock::preopened_names().report());
    let mut code = 0;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--read" => {
                let path = it.next().expect("--read PATH");
                let text = std::fs::read_to_string(path).expect("read the file");
                println!("read={}", text.lines().next().unwrap_or(""));
            }
            "--exit" => code = it.next().expect("--exit N").parse().expect("a number"),
            _ => {}
        }
    }
    capsock::exit(code);
}

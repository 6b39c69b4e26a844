//! `-W` / `--wasm`: the sandbox's limits, spelled as `wasmtime run` spells
//! them (`-W fuel=1000,timeout=10s`, repeatable), plus capsock's
//! `max-memory-total`. Values parse as wasmtime parses them: numbers with
//! optional `_` separators or `0x` hex; durations as `N` (seconds), `Ns`,
//! `Nms`, `Nus`, `Nns`; booleans as nothing, `y`, `yes`, `true`, `n`, `no`,
//! `false`.

use std::time::Duration;

use capsock_host::limits::DEFAULT_MEMORY_TOTAL;
use capsock_host::SandboxLimits;
use clap::Args;

/// One `-W` option.
#[derive(Clone, Debug, PartialEq)]
pub enum WasmOpt {
    MaxMemorySize(usize),
    MaxMemoryTotal(usize),
    MaxTableElements(usize),
    MaxInstances(usize),
    MaxTables(usize),
    MaxMemories(usize),
    TrapOnGrowFailure(bool),
    Fuel(u64),
    Timeout(Duration),
    MaxWasmStack(usize),
}

/// The `-W` options: name, value help, one line of help.
const OPTIONS: &[(&str, &str, &str)] = &[
    (
        "max-memory-size",
        "=N",
        "Bytes one linear memory may grow to.",
    ),
    (
        "max-memory-total",
        "=N",
        "Bytes all linear memories and tables of the sandbox may take together \
         (capsock's; table elements count 8 bytes). Default 1 GiB, or \
         max-memory-size if that is larger.",
    ),
    (
        "max-table-elements",
        "=N",
        "Elements one table may grow to.",
    ),
    ("max-instances", "=N", "Core instances (default 10000)."),
    ("max-tables", "=N", "Tables (default 10000)."),
    ("max-memories", "=N", "Linear memories (default 10000)."),
    (
        "trap-on-grow-failure",
        "[=y|n]",
        "A refused memory.grow or table.grow stops the guest (exit status 153) \
         instead of returning -1.",
    ),
    (
        "fuel",
        "=N",
        "Units of fuel (about one per wasm instruction); the guest stops when \
         they run out (exit status 152).",
    ),
    (
        "timeout",
        "=N|Ns|Nms|..",
        "Wall-clock limit; the guest stops when it passes, wherever it waits \
         (exit status 124).",
    ),
    (
        "max-wasm-stack",
        "=N",
        "Bytes of native stack wasm code may use.",
    ),
];

fn number<T: TryFrom<u64>>(v: &str) -> Result<T, String> {
    let v = v.replace('_', "");
    let n = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).map_err(|e| e.to_string())?,
        None => v.parse::<u64>().map_err(|e| e.to_string())?,
    };
    T::try_from(n).map_err(|_| format!("{n} is too large"))
}

fn duration(v: &str) -> Result<Duration, String> {
    let parse = |n: &str| n.parse::<u64>().ok();
    if let Some(n) = parse(v) {
        return Ok(Duration::from_secs(n));
    }
    // Longest suffixes first: "ms" and "ns" also end in "s".
    for (suffix, make) in [
        ("ms", Duration::from_millis as fn(u64) -> Duration),
        ("us", Duration::from_micros),
        ("μs", Duration::from_micros),
        ("ns", Duration::from_nanos),
        ("s", Duration::from_secs),
    ] {
        if let Some(n) = v.strip_suffix(suffix).and_then(parse) {
            return Ok(make(n));
        }
    }
    Err(format!("failed to parse duration: {v}"))
}

fn boolean(v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("y" | "yes" | "true") => Ok(true),
        Some("n" | "no" | "false") => Ok(false),
        Some(s) => Err(format!(
            "unknown boolean flag `{s}`, only yes,no,<nothing> accepted"
        )),
    }
}

fn print_help() -> ! {
    use std::io::Write;
    let width = OPTIONS
        .iter()
        .map(|(n, v, _)| n.len() + v.len())
        .max()
        .unwrap_or(0);
    let mut text = String::from("Available wasm options:\n\n");
    for (name, val, help) in OPTIONS {
        let key = format!("{name}{val}");
        text += &format!("  -W {key:<width$} -- {help}\n");
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    std::process::exit(0);
}

/// Parses one `-W` value: `KEY[=VAL]` items separated by commas.
pub fn parse(s: &str) -> Result<Vec<WasmOpt>, String> {
    if s == "help" || s == "help-long" {
        print_help();
    }
    let mut out = Vec::new();
    for item in s.split(',') {
        let (key, val) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item, None),
        };
        let need = || val.ok_or_else(|| format!("-W {key} needs a value"));
        let parsed = (|| {
            Ok(match key {
                "max-memory-size" => WasmOpt::MaxMemorySize(number(need()?)?),
                "max-memory-total" => WasmOpt::MaxMemoryTotal(number(need()?)?),
                "max-table-elements" => WasmOpt::MaxTableElements(number(need()?)?),
                "max-instances" => WasmOpt::MaxInstances(number(need()?)?),
                "max-tables" => WasmOpt::MaxTables(number(need()?)?),
                "max-memories" => WasmOpt::MaxMemories(number(need()?)?),
                "trap-on-grow-failure" => WasmOpt::TrapOnGrowFailure(boolean(val)?),
                "fuel" => WasmOpt::Fuel(number(need()?)?),
                "timeout" => WasmOpt::Timeout(duration(need()?)?),
                "max-wasm-stack" => WasmOpt::MaxWasmStack(number(need()?)?),
                _ => {
                    return Err(format!(
                        "unknown -W / --wasm option: {key} (-W help lists them)"
                    ))
                }
            })
        })();
        out.push(parsed.map_err(|e: String| {
            if e.starts_with("unknown -W") {
                e
            } else {
                format!("failed to parse -W option `{item}`: {e}")
            }
        })?);
    }
    Ok(out)
}

/// The limits flags of `capsock run` and `capsock pair`.
#[derive(Args, Clone, Default)]
pub struct LimitArgs {
    /// Sandbox limits, as `wasmtime run` spells them: max-memory-size=N,
    /// max-memory-total=N (capsock's; default 1 GiB), max-table-elements=N,
    /// max-instances=N, max-tables=N, max-memories=N, trap-on-grow-failure,
    /// fuel=N, timeout=DURATION (10s, 500ms, ...), max-wasm-stack=N.
    /// Comma-separated, repeatable; `-W help` lists them.
    #[arg(short = 'W', long = "wasm", value_name = "KEY[=VAL][,..]", value_parser = parse)]
    wasm: Vec<Vec<WasmOpt>>,
}

impl LimitArgs {
    /// capsock's default limits with the flags applied (later flags win).
    pub fn limits(&self) -> SandboxLimits {
        let mut l = SandboxLimits::default();
        let mut total_given = false;
        for opt in self.wasm.iter().flatten() {
            match *opt {
                WasmOpt::MaxMemorySize(n) => l.max_memory_size = Some(n),
                WasmOpt::MaxMemoryTotal(n) => {
                    l.max_memory_total = Some(n);
                    total_given = true;
                }
                WasmOpt::MaxTableElements(n) => l.max_table_elements = Some(n),
                WasmOpt::MaxInstances(n) => l.max_instances = Some(n),
                WasmOpt::MaxTables(n) => l.max_tables = Some(n),
                WasmOpt::MaxMemories(n) => l.max_memories = Some(n),
                WasmOpt::TrapOnGrowFailure(b) => l.trap_on_grow_failure = b,
                WasmOpt::Fuel(n) => l.fuel = Some(n),
                WasmOpt::Timeout(t) => l.timeout = Some(t),
                WasmOpt::MaxWasmStack(n) => l.max_wasm_stack = Some(n),
            }
        }
        // A wasmtime user's `-W max-memory-size` above the default budget
        // lifts the budget with it.
        if !total_given {
            if let Some(size) = l.max_memory_size.filter(|&s| s > DEFAULT_MEMORY_TOTAL) {
                l.max_memory_total = Some(size);
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_wasmtime_parses_them() {
        assert_eq!(
            parse("fuel=1_000,timeout=500ms,trap-on-grow-failure").unwrap(),
            vec![
                WasmOpt::Fuel(1000),
                WasmOpt::Timeout(Duration::from_millis(500)),
                WasmOpt::TrapOnGrowFailure(true)
            ]
        );
        assert_eq!(
            parse("max-memory-size=0x100000").unwrap(),
            vec![WasmOpt::MaxMemorySize(1 << 20)]
        );
        for (v, d) in [
            ("2", Duration::from_secs(2)),
            ("2s", Duration::from_secs(2)),
            ("3us", Duration::from_micros(3)),
            ("4ns", Duration::from_nanos(4)),
        ] {
            assert_eq!(duration(v), Ok(d), "{v}");
        }
        assert!(parse("timeout=soon").unwrap_err().contains("timeout=soon"));
        assert!(parse("fuel").unwrap_err().contains("needs a value"));
        assert!(parse("fuel=-1").is_err());
        assert!(parse("bogus=1").unwrap_err().contains("unknown -W"));
        assert!(parse("trap-on-grow-failure=maybe").is_err());
    }

    #[test]
    fn max_memory_size_above_the_budget_lifts_it_unless_the_budget_is_given() {
        let args = |v: &[&str]| LimitArgs {
            wasm: v.iter().map(|s| parse(s).unwrap()).collect(),
        };
        assert_eq!(
            args(&[]).limits().max_memory_total,
            Some(DEFAULT_MEMORY_TOTAL)
        );
        assert_eq!(
            args(&["max-memory-size=4294967296"])
                .limits()
                .max_memory_total,
            Some(4 << 30)
        );
        assert_eq!(
            args(&["max-memory-size=4294967296", "max-memory-total=100"])
                .limits()
                .max_memory_total,
            Some(100)
        );
        assert_eq!(
            args(&["max-memory-size=1000"]).limits().max_memory_total,
            Some(DEFAULT_MEMORY_TOTAL)
        );
    }
}

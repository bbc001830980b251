//! `mugai-corpus DIR`: writes the generated corpus and its manifest.

const USAGE: &str = "usage: mugai-corpus DIR\n\nWrites the generated test corpus (every case with its expected verdict\nand codes in expected.json) into DIR.";

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    if dir == "-h" || dir == "--help" {
        println!("{USAGE}");
        return;
    }
    if dir.to_string_lossy().starts_with('-') {
        eprintln!(
            "mugai-corpus: unknown option {}\n{USAGE}",
            dir.to_string_lossy()
        );
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(dir);
    let cases = mugai_corpus::all();
    if let Err(e) = mugai_corpus::write(&dir, &cases) {
        eprintln!("mugai-corpus: {}: {e}", dir.display());
        std::process::exit(2);
    }
    println!("{} cases written to {}", cases.len(), dir.display());
}

//! `mugai-corpus DIR`: writes the generated corpus and its manifest.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: mugai-corpus DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let cases = mugai_corpus::all();
    if let Err(e) = mugai_corpus::write(&dir, &cases) {
        eprintln!("mugai-corpus: {}: {e}", dir.display());
        std::process::exit(2);
    }
    println!("{} cases written to {}", cases.len(), dir.display());
}

//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! own bodies, so CI checks every input a fuzzer ever kept (crash regressions included)
//! without running a fuzzer. `docs/reliability.md` says how to fuzz for real.

#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

#[test]
fn every_corpus_input_passes_its_target() {
    let corpus = sluice_test_support::paths::repo_root().join("fuzz/corpus");
    let mut total = 0;
    for (name, body) in targets::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "fuzz target {name} has no seed corpus");
        for file in &files {
            let data = std::fs::read(file).expect("corpus file");
            // A panic names the input, so a regression is one command away.
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} failed on {}",
                file.display()
            );
        }
        total += files.len();
    }
    assert!(total >= targets::TARGETS.len());
}

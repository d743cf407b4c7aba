//! The one writer under races: runs replacing the same output folder at once never leave a folder
//! that mixes their files, nor temporary folders behind.

use forward_backward_kl::app::output::{OutputFile, write_folder};

fn files(tag: usize) -> Vec<OutputFile> {
    (0..5)
        .map(|k| OutputFile {
            name: format!("f{k}.txt"),
            bytes: format!("run {tag}, file {k}\n").into_bytes(),
        })
        .collect()
}

#[test]
fn concurrent_writers_leave_one_complete_folder() {
    let scratch = kl_testkit::scratch_dir("race");
    let dest = scratch.path().join("out");
    for round in 0..10 {
        std::thread::scope(|s| {
            for tag in 0..4 {
                let dest = &dest;
                s.spawn(move || {
                    write_folder(dest, &files(round * 10 + tag)).expect("a writer finishes");
                });
            }
        });
        let mut names: Vec<String> = std::fs::read_dir(&dest)
            .expect("the folder exists")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt"]);
        let first = std::fs::read_to_string(dest.join("f0.txt")).expect("f0");
        let tag = first.split(',').next().expect("a tag").to_string();
        for k in 0..5 {
            let text = std::fs::read_to_string(dest.join(format!("f{k}.txt"))).expect("a file");
            assert!(
                text.starts_with(&format!("{tag},")),
                "round {round}: {text} mixed with {tag}"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(scratch.path())
            .expect("scratch")
            .map(|e| e.expect("entry").file_name())
            .filter(|n| n != "out")
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary folders left: {leftovers:?}"
        );
    }
}

//! A line diff of two texts, as plans show a change of content (an SSM document, ...):
//! the changed lines with a few unchanged lines around them, `-` for the old, `+` for the
//! new, and `...` where unchanged lines are left out.

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
    /// Unchanged lines left out.
    Skipped(usize),
}

impl std::fmt::Display for DiffLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffLine::Same(l) => write!(f, "  {l}"),
            DiffLine::Removed(l) => write!(f, "- {l}"),
            DiffLine::Added(l) => write!(f, "+ {l}"),
            DiffLine::Skipped(n) => write!(f, "... ({n} unchanged)"),
        }
    }
}

/// The line diff of `before` and `after`, with `context` unchanged lines around each change.
pub fn line_diff<'a>(before: &'a str, after: &'a str, context: usize) -> Vec<DiffLine<'a>> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut all = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            all.push(DiffLine::Same(a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            all.push(DiffLine::Removed(a[i]));
            i += 1;
        } else {
            all.push(DiffLine::Added(b[j]));
            j += 1;
        }
    }
    // Keep the changes and `context` lines either side of each; the rest is skipped.
    let changed: Vec<bool> = all
        .iter()
        .map(|l| !matches!(l, DiffLine::Same(_)))
        .collect();
    let keep: Vec<bool> = (0..all.len())
        .map(|k| {
            let lo = k.saturating_sub(context);
            let hi = (k + context + 1).min(all.len());
            changed[lo..hi].iter().any(|c| *c)
        })
        .collect();
    let mut out = Vec::new();
    let mut skipped = 0;
    for (line, keep) in all.into_iter().zip(keep) {
        if keep {
            if skipped > 0 {
                out.push(DiffLine::Skipped(skipped));
                skipped = 0;
            }
            out.push(line);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push(DiffLine::Skipped(skipped));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(d: &[DiffLine]) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn shows_changes_with_context_and_skips_the_rest() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let after = "a\nb\nc\nd\ne\nF\ng\nh\ni\n";
        assert_eq!(
            show(&line_diff(before, after, 1)),
            [
                "... (4 unchanged)",
                "  e",
                "- f",
                "+ F",
                "  g",
                "  h",
                "+ i"
            ]
        );
        assert_eq!(show(&line_diff("x\n", "x\n", 3)), ["... (1 unchanged)"]);
        assert_eq!(show(&line_diff("", "new\n", 3)), ["+ new"]);
        assert_eq!(show(&line_diff("old\n", "", 3)), ["- old"]);
    }

    #[test]
    fn separate_changes_keep_their_own_context() {
        let before: String = (0..20).map(|i| format!("{i}\n")).collect();
        let after: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                17 => "seventeen\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let d = show(&line_diff(&before, &after, 2));
        assert_eq!(
            d,
            [
                "  0",
                "  1",
                "- 2",
                "+ two",
                "  3",
                "  4",
                "... (10 unchanged)",
                "  15",
                "  16",
                "- 17",
                "+ seventeen",
                "  18",
                "  19"
            ]
        );
    }
}

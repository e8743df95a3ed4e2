//! `tracemend-symbols`: builds a symbol index for a repository at a commit.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("usage: tracemend-symbols index --repo PATH [--commit SHA] --out FILE")
}
